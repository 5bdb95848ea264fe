"""Conformance on rendered YAML: Argo's examples as files, read the way `argo submit` reads them."""

from __future__ import annotations

from localrun_helpers import WORKFLOWS, phases, summary_of


def test_coinflip_from_yaml_runs_exactly_the_branch_the_flip_chose(run):
    for _ in range(3):  # the flip is random: each run must be consistent with itself
        result = run(WORKFLOWS / "coinflip.yaml")
        side = result.task("flip-coin").result
        other = {"heads": "tails", "tails": "heads"}[side]
        assert result.succeeded
        assert phases(result) == {"flip-coin": "Succeeded", side: "Succeeded", other: "Skipped"}
        assert result.task(side).result == f"it was {side}"
        assert result.task(other).message == f"when '{side} == {other}' evaluated false"


def test_output_parameter_from_a_shell_script_reaches_the_next_step(run):
    result = run(WORKFLOWS / "output-parameters.yaml")

    assert result.succeeded
    assert phases(result) == {"generate-parameter": "Succeeded", "consume-parameter": "Succeeded"}
    assert result.task("generate-parameter").parameters == {"hello-param": "hello world"}
    assert result.task("consume-parameter").result == "received: hello world"


def test_exit_handler_steps_branch_on_the_workflow_status(run):
    result = run(WORKFLOWS / "exit-handlers.yaml")

    assert result.phase == "Failed"
    assert phases(result) == {result.name: "Failed", f"{result.name}.onExit": "Succeeded",
                              "notify": "Succeeded", "celebrate": "Skipped", "cry": "Succeeded"}
    assert result.task(result.name).result == "intentional failure"
    assert result.task("notify").result.startswith(f"send e-mail: {result.name} Failed ")
    assert result.task("cry").result == "boohoo!"


def test_template_ref_resolves_against_a_workflow_template_in_the_same_file(run):
    result = run(WORKFLOWS / "template-ref.yaml")

    assert result.succeeded and result.name == "workflow-template-ref"
    assert phases(result) == {"hello": "Succeeded", "repeat": "Succeeded", "first": "Succeeded",
                              "second": "Succeeded"}
    assert result.task("second").result == "HELLO 2"
    assert result.task("repeat").template == "twice"


def test_a_named_workflow_run_again_replaces_its_previous_record(run):
    first = run(WORKFLOWS / "template-ref.yaml")
    (first.run_dir / "stale.log").write_text("from an older run\n")

    second = run(WORKFLOWS / "template-ref.yaml", parameters=None)

    assert second.run_dir == first.run_dir
    assert not (second.run_dir / "stale.log").exists()
    assert {entry["name"] for entry in summary_of(second)["tasks"]} == {
        "hello", "repeat", "first", "second"}


def test_template_refs_resolve_against_workflow_templates_given_separately(run):
    import yaml

    template, workflow = yaml.safe_load_all((WORKFLOWS / "template-ref.yaml").read_text())

    result = run(workflow, templates=[template])

    assert result.succeeded
    assert result.task("second").result == "HELLO 2"
