"""What cannot run locally is refused before anything runs, naming the template and feature."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from hera_utils.errors import ConfigurationError
from hera_utils.local import run_locally


def _workflow(*templates: dict[str, Any], entrypoint: str = "main",
              arguments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"entrypoint": entrypoint, "templates": list(templates)}
    if arguments is not None:
        spec["arguments"] = {"parameters": arguments}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "checked"}, "spec": spec}


SAY = {"name": "say", "script": {"image": "python", "command": ["python"], "source": "print(1)"}}


def _dag(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"name": "main", "dag": {"tasks": list(tasks)}}


def _refused(tmp_path: Path, workflow: Any, **options: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        run_locally(workflow, runs_dir=tmp_path / "runs", **{"progress": "quiet", **options})
    assert not (tmp_path / "runs").exists(), "nothing may run before the workflow is accepted"
    return caught.value.message


@pytest.mark.parametrize(("body", "feature"), [
    ({"resource": {"action": "create", "manifest": "kind: ConfigMap"}}, "a resource template"),
    ({"http": {"url": "https://example.org"}}, "an HTTP template"),
    ({"data": {"source": {}, "transformation": []}}, "a data template"),
    ({"plugin": {"hello": {}}}, "an executor plugin template"),
])
def test_templates_of_other_kinds_are_refused_by_name(tmp_path, body, feature):
    workflow = _workflow(_dag({"name": "t", "template": "odd"}), {"name": "odd", **body})

    message = _refused(tmp_path, workflow)

    assert f"template 'odd' is {feature}" in message
    assert message.endswith("which cannot run locally")


def test_artifacts_stored_in_a_bucket_are_refused_with_the_template_name(tmp_path):
    writer = copy.deepcopy(SAY)
    writer["outputs"] = {"artifacts": [{"name": "result", "path": "/tmp/result.txt",
                                        "s3": {"bucket": "b", "key": "k"}}]}
    message = _refused(tmp_path, _workflow(_dag({"name": "t", "template": "say"}), writer))

    assert "template 'say': output artifact 'result' is stored in s3" in message


def test_an_expression_tag_that_does_not_parse_is_refused(tmp_path):
    task = {"name": "t", "template": "say",
            "arguments": {"parameters": [{"name": "x", "value": "{{=asInt(1) +}}"}]}}
    message = _refused(tmp_path, _workflow(_dag(task), SAY))

    assert "template 'main': expression tag {{=asInt(1) +}} does not parse" in message


def test_every_problem_is_listed_at_once(tmp_path):
    workflow = _workflow(
        _dag({"name": "a", "template": "missing"},
             {"name": "b", "template": "say",
              "hooks": {"running": {"template": "gone", "expression": "true"}}}),
        SAY)

    message = _refused(tmp_path, workflow)

    assert "template 'missing' is not defined in workflow" in message
    assert "task 'b', hook: template 'gone' is not defined in workflow" in message


def test_unresolvable_template_ref_is_refused(tmp_path):
    task = {"name": "t", "templateRef": {"name": "elsewhere", "template": "say"}}

    message = _refused(tmp_path, _workflow(_dag(task)))

    assert "WorkflowTemplate 'elsewhere', which was not given with the workflow" in message


def test_a_dependency_cycle_is_refused(tmp_path):
    workflow = _workflow(_dag({"name": "a", "template": "say", "depends": "b"},
                              {"name": "b", "template": "say", "depends": "a"}), SAY)

    assert "dependency cycle: a -> b -> a" in _refused(tmp_path, workflow)


def test_referring_to_a_task_that_is_not_an_ancestor_is_refused(tmp_path):
    task = {"name": "b", "template": "say", "when": "{{tasks.a.outputs.result}} == 1"}
    workflow = _workflow(_dag({"name": "a", "template": "say"}, task), SAY)

    message = _refused(tmp_path, workflow)

    assert "task 'b' refers to {{tasks.a.outputs.result}}, but 'a' is not among the tasks " \
           "it depends on" in message


def test_a_malformed_depends_is_refused(tmp_path):
    workflow = _workflow(_dag({"name": "a", "template": "say"},
                              {"name": "b", "template": "say", "depends": "a.Finished"}), SAY)

    assert "unknown task result 'a.Finished'" in _refused(tmp_path, workflow)


def test_secret_environment_must_be_provided_by_this_machine(tmp_path, monkeypatch):
    template = copy.deepcopy(SAY)
    template["script"]["env"] = [{"name": "API_KEY", "valueFrom": {
        "secretKeyRef": {"name": "creds", "key": "api-key"}}}]
    workflow = _workflow(_dag({"name": "t", "template": "say"}), template)
    monkeypatch.delenv("API_KEY", raising=False)

    message = _refused(tmp_path, workflow)

    assert "environment variable API_KEY comes from the cluster (secretKeyRef)" in message
    monkeypatch.setenv("API_KEY", "local-value")
    result = run_locally(workflow, runs_dir=tmp_path / "ok", progress="quiet")
    assert result.succeeded


def test_an_undeclared_workflow_parameter_is_added_as_argo_submit_p_adds_it(tmp_path):
    say = {"name": "say", "script": {"image": "python:3.12", "command": ["python"],
                                     "source": "print('{{workflow.parameters.sise}}')"}}
    workflow = _workflow(_dag({"name": "t", "template": "say"}), say,
                         arguments=[{"name": "size", "value": "1"}])

    result = run_locally(workflow, runs_dir=tmp_path, progress="quiet", parameters={"sise": 2})

    assert result.succeeded, result.message
    assert result.task("t").result == "2"


def test_a_parameter_outside_its_enum_is_refused(tmp_path):
    workflow = _workflow(_dag({"name": "t", "template": "say"}), SAY,
                         arguments=[{"name": "mode", "value": "fast", "enum": ["fast", "slow"]}])

    assert "not one of ['fast', 'slow']" in _refused(tmp_path, workflow,
                                                     parameters={"mode": "medium"})


def test_options_are_checked(tmp_path):
    workflow = _workflow(_dag({"name": "t", "template": "say"}), SAY)

    assert "parallelism must be a positive integer" in _refused(tmp_path, workflow,
                                                                parallelism=0)
    assert "progress must be one of" in _refused(tmp_path, workflow, progress="loud")


def test_a_missing_file_or_a_file_without_workflow_is_a_configuration_error(tmp_path):
    assert "does not exist" in _refused(tmp_path, tmp_path / "nope.yaml")
    other = tmp_path / "configmap.yaml"
    other.write_text("kind: ConfigMap\nmetadata: {name: x}\n")
    assert "holds no Argo Workflow" in _refused(tmp_path, other)
