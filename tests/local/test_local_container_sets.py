"""Container set templates: containers of one pod run in the order of their dependencies,
sharing the set's volumes, with `main`'s outputs, as Argo's emissary runs them.

A fake `docker` (`fake_docker`) stands for the engine; it makes a mount's path stand for its
host directory in the command line, as a container sees its volume.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from fake_docker import bin_dir, docker_calls, install_fake_docker
from localrun_helpers import phases

from hera_utils.errors import ConfigurationError

__all__ = ["bin_dir"]  # a fixture of the tests below

WORKSPACE = [{"name": "workspace", "mountPath": "/workspace"}]


def _shell(name: str, script: str, *dependencies: str) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": "alpine", "command": ["sh", "-c"],
                                 "args": [script]}
    if dependencies:
        container["dependencies"] = list(dependencies)
    return container


def _set(*containers: dict[str, Any], **template: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": list(containers), "volumeMounts": WORKSPACE}
    spec.update(template.pop("spec", {}))
    return {"name": "group", "volumes": [{"name": "workspace", "emptyDir": {}}],
            "containerSet": spec, **template}


def _workflow(name: str, *templates: dict[str, Any], entrypoint: str = "group"
              ) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": entrypoint, "templates": list(templates)}}


def _run_names(tmp_path: Path) -> list[str]:
    return [call[call.index("--name") + 1].rsplit("-", 1)[-1]
            for call in docker_calls(tmp_path) if call[0] == "run"]


@pytest.fixture
def docker(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (bin_dir / "python3").symlink_to(sys.executable)  # what the images' commands name
    return install_fake_docker(bin_dir, monkeypatch)


def test_a_graph_of_containers_runs_in_dependency_order_on_a_shared_volume(run, docker,
                                                                          tmp_path):
    group = _set(_shell("a", "echo a >> /workspace/order"),
                 _shell("b", "echo b >> /workspace/order", "a"),
                 _shell("c", "echo c >> /workspace/order", "a"),
                 _shell("main", "echo main >> /workspace/order; echo done", "b", "c"),
                 outputs={"parameters": [{"name": "order",
                                          "valueFrom": {"path": "/workspace/order"}}]})

    result = run(_workflow("graph", group))

    assert result.phase == "Succeeded", result.message
    task = result.task("graph")
    lines = task.parameters["order"].splitlines()
    assert lines[0] == "a" and lines[-1] == "main" and sorted(lines[1:3]) == ["b", "c"]
    assert task.result == "done"  # main's stdout
    names = _run_names(tmp_path)
    assert names[0] == "a" and names[-1] == "main"
    # the emptyDir: a directory of the task's own file system, removed after it
    assert not list((result.run_dir / "fs").glob("*/workspace"))


def test_the_result_of_main_reaches_the_next_task(run, docker):
    # as Argo's container-set-template/outputs-result-workflow.yaml
    group = {"name": "group", "containerSet": {"containers": [
        {"name": "main", "image": "python:3", "command": ["python3", "-c"],
         "args": ["print('hi')"]}]}}
    verify = {"name": "verify", "inputs": {"parameters": [{"name": "x"}]},
              "script": {"image": "python:3", "command": [sys.executable],
                         "source": 'assert "{{inputs.parameters.x}}" == "hi"'}}
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "a", "template": "group"},
        {"name": "b", "template": "verify", "dependencies": ["a"],
         "arguments": {"parameters": [{"name": "x", "value": "{{tasks.a.outputs.result}}"}]}}]}}

    result = run(_workflow("outputs-result", dag, group, verify, entrypoint="main"))

    assert result.phase == "Succeeded", result.message
    assert phases(result) == {"a": "Succeeded", "b": "Succeeded"}


def test_a_failed_container_keeps_its_dependents_from_running_and_fails_the_node(
        run, docker, tmp_path):
    group = _set(_shell("a", "echo trying; exit 3"), _shell("b", "echo never", "a"),
                 _shell("c", "echo independent"))

    result = run(_workflow("set-fails", group))

    assert result.phase == "Failed"
    task = result.task("set-fails")
    assert task.message == "a: Error (exit code 3)"
    assert sorted(_run_names(tmp_path)) == ["a", "c"]  # b never started
    b_log = next(path for path in task.logs if path.name.endswith(".b.log"))
    assert b_log.read_text() == 'dependency "a" exited with non-zero code: 3\n'
    assert "container b: exit code 64" in task.log.read_text()


RETRIED = ('FILE=test.yml; EXITCODE=1; if test -f "$FILE"; then EXITCODE=0; '
           'else touch $FILE; fi; exit $EXITCODE')


def test_the_sets_retry_strategy_runs_a_failed_command_again_in_its_container(
        run, docker, tmp_path):
    # as Argo's TestContainerSetRetryFail: the second run finds the file the first left
    group = _set(_shell("a", RETRIED), spec={"retryStrategy": {"retries": 2, "duration": "0s"}})

    result = run(_workflow("set-retried", group))

    assert result.phase == "Succeeded", result.message
    starts = [call for call in docker_calls(tmp_path) if call[0] == "start"]
    assert len(starts) == 1 and starts[0][1] == "-a"


def test_without_a_retry_strategy_the_set_fails_as_its_container_does(run, docker):
    result = run(_workflow("set-not-retried", _set(_shell("a", RETRIED))))

    assert result.phase == "Failed"
    assert result.task("set-not-retried").message == "a: Error (exit code 1)"


def test_an_output_artifact_on_the_shared_volume_is_stored(run, docker):
    # as Argo's container-set-template/workspace-workflow.yaml
    group = _set(_shell("a", "echo hi > /workspace/out"), _shell("main", "true", "a"),
                 outputs={"artifacts": [{"name": "out", "path": "/workspace/out",
                                         "archive": {"none": {}}}]})

    result = run(_workflow("workspace", group))

    assert result.phase == "Succeeded", result.message
    stored = result.task("workspace").artifacts["out"]
    assert stored.read_text() == "hi\n"


def test_stubbed_containers_stub_a_container_set(run, bin_dir, tmp_path):
    result = run(_workflow("set-stubbed", _set(_shell("a", "exit 1"))), stub_containers=True)

    assert result.phase == "Succeeded"
    task = result.task("set-stubbed")
    assert task.stubbed and task.message == "stubbed: container set of a (image alpine)"


def test_without_a_runtime_a_container_set_is_not_runnable_here(run, bin_dir):
    result = run(_workflow("set-no-runtime", _set(_shell("a", "true"))))

    assert result.phase == "Error"
    assert result.task("set-no-runtime").message.startswith(
        "not runnable here: a container set needs a working docker or podman")


def test_argos_rules_for_a_container_set_are_checked_before_anything_runs(run, bin_dir):
    no_main = _set(_shell("a", "true"), outputs={"parameters": [
        {"name": "x", "valueFrom": {"path": "/workspace/x"}}]})
    cycle = {**_set(_shell("a", "true", "b"), _shell("b", "true", "a")), "name": "cycle"}
    unknown = {**_set(_shell("a", "true", "z")), "name": "unknown"}
    dag = {"name": "main", "dag": {"tasks": [{"name": n, "template": n}
                                             for n in ("group", "cycle", "unknown")]}}

    with pytest.raises(ConfigurationError) as raised:
        run(_workflow("set-rules", dag, no_main, cycle, unknown, entrypoint="main"),
            stub_containers=True)

    message = raised.value.message
    assert ('template group: containerSet.containers must have a container named "main" '
            "for input or output") in message.replace("'", "")
    assert "the dependencies of the container set form a cycle" in message
    assert "container a depends on 'z', which is not a container of the set" in message


def test_a_set_past_its_deadline_fails_and_its_containers_are_removed(run, docker, tmp_path):
    group = {**_set(_shell("a", "sleep 600"), _shell("main", "echo never", "a")),
             "activeDeadlineSeconds": 1}

    result = run(_workflow("set-deadline", group))

    assert result.phase == "Failed"
    assert result.task("set-deadline").message == "Step exceeded its deadline"
    calls = docker_calls(tmp_path)
    removed = {call[-1].rsplit("-", 1)[-1] for call in calls if call[:2] == ["rm", "-f"]}
    assert removed == {"a", "main"}
    assert _run_names(tmp_path) == ["a"]
