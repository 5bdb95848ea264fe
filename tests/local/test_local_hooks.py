"""Lifecycle hooks and exit handlers in local runs, each modelled on Argo's behaviour
(its hooks e2e suite, `life-cycle-hooks-*.yaml`, `exit-handler-*.yaml`, hooks.go)."""

from __future__ import annotations

import functools
import json

from localrun_helpers import script, workflow

wf = functools.partial(workflow, "hooked")


NOTE = script("note", "print('note')")
WORK = script("work", "print('work')")
FAIL = script("fail", "import sys; sys.exit(1)")


def hook(expression: str, template: str = "note", **extra) -> dict:
    return {"expression": expression, "template": template, **extra}


def phases(result) -> dict[str, str]:
    return {task.name: task.phase for task in result.tasks}


def test_a_steps_running_and_succeeded_hooks_each_run(run) -> None:
    steps = {"name": "main", "steps": [[{"name": "step-1", "template": "work", "hooks": {
        "running": hook('steps["step-1"].status == "Running"'),
        "succeed": hook('steps["step-1"].status == "Succeeded"'),
        "failed": hook('steps["step-1"].status == "Failed"')}}]]}
    result = run(wf([steps, WORK, NOTE]))
    assert result.succeeded, result.message
    assert phases(result) == {"step-1": "Succeeded", "step-1.hooks.running": "Succeeded",
                              "step-1.hooks.succeed": "Succeeded"}
    assert result.task("step-1.hooks.running").node == "hooked[0].step-1.hooks.running"


def test_a_failed_tasks_hooks_run_and_its_dependent_is_omitted_with_none(run) -> None:
    # TestTemplateLevelHooksDagHasDependencyVersion: B's hooks never trigger.
    def hooks(task: str) -> dict:
        return {"running": hook(f'tasks.{task}.status == "Running"'),
                "success": hook(f'tasks.{task}.status == "Succeeded"'),
                "failed": hook(f'tasks.{task}.status == "Failed"')}
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "A", "template": "fail", "hooks": hooks("A")},
        {"name": "B", "template": "work", "dependencies": ["A"], "hooks": hooks("B")}]}}
    result = run(wf([dag, FAIL, WORK, NOTE]))
    assert result.phase == "Failed"
    assert phases(result) == {"A": "Failed", "A.hooks.running": "Succeeded",
                              "A.hooks.failed": "Succeeded", "B": "Omitted"}


def test_workflow_hooks_run_on_running_and_on_the_final_status(run) -> None:
    hooks = {"running": hook('workflow.status == "Running"'),
             "succeed": hook('workflow.status == "Succeeded"'),
             "failed": hook('workflow.status == "Failed"')}
    result = run(wf([WORK, NOTE], entry="work", hooks=hooks))
    assert result.succeeded, result.message
    assert phases(result) == {"hooked": "Succeeded", "hooked.hooks.running": "Succeeded",
                              "hooked.hooks.succeed": "Succeeded"}


def test_a_failed_workflows_failed_hook_runs_and_the_workflow_stays_failed(run) -> None:
    hooks = {"failed": hook('workflow.status == "Failed"')}
    result = run(wf([FAIL, NOTE], entry="fail", hooks=hooks))
    assert result.phase == "Failed"
    assert result.task("hooked.hooks.failed").phase == "Succeeded"


def test_a_hook_runs_at_most_once(run) -> None:
    always = hook('steps.a.status == "Running" || steps.a.status == "Succeeded"')
    steps = {"name": "main", "steps": [[{"name": "a", "template": "work",
                                         "hooks": {"any": always}}]]}
    result = run(wf([steps, WORK, NOTE]))
    assert result.succeeded, result.message
    assert [task.name for task in result.tasks].count("a.hooks.any") == 1


def test_a_tasks_exit_hook_sees_its_outputs_and_runs_before_its_dependents(run, tmp_path
                                                                          ) -> None:
    log = tmp_path / "order.txt"
    record = script("record", f"open({str(log)!r}, 'a').write('{{{{inputs.parameters.what}}}}\\n')",
                    inputs={"parameters": [{"name": "what"}]})
    exit_hook = {"template": "record", "arguments": {"parameters": [
        {"name": "what", "value": "exit of A saw {{tasks.A.outputs.result}}"}]}}
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "A", "template": "work", "hooks": {"exit": exit_hook}},
        {"name": "B", "template": "record", "depends": "A",
         "arguments": {"parameters": [{"name": "what", "value": "B"}]}}]}}
    result = run(wf([dag, WORK, record]))
    assert result.succeeded, result.message
    assert log.read_text().splitlines() == ["exit of A saw work", "B"]
    assert result.task("A.onExit").node == "hooked.A.onExit"


def test_on_exit_of_a_step_is_its_exit_handler(run) -> None:
    # exit-handler-dag-level.yaml spells it `onExit: exit` (the older form of hooks.exit).
    steps = {"name": "main", "steps": [[{"name": "a", "template": "work", "onExit": "note"}]]}
    result = run(wf([steps, WORK, NOTE]))
    assert result.succeeded, result.message
    assert result.task("a.onExit").result == "note"


def test_a_failing_hook_does_not_fail_its_task_or_the_workflow(run) -> None:
    # assessDAGPhase reads the target tasks, not the hooks that are their children.
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "A", "template": "work", "onExit": "fail",
         "hooks": {"running": hook('tasks.A.status == "Running"', "fail")}}]}}
    result = run(wf([dag, WORK, FAIL]))
    assert result.succeeded, result.message
    assert phases(result) == {"A": "Succeeded", "A.hooks.running": "Failed",
                              "A.onExit": "Failed"}


def test_a_hook_without_an_expression_is_an_error(run) -> None:
    steps = {"name": "main", "steps": [[{"name": "a", "template": "work",
                                         "hooks": {"started": {"template": "note"}}}]]}
    result = run(wf([steps, WORK, NOTE]))
    assert result.phase == "Failed"
    started = result.task("a.hooks.started")
    assert started.phase == "Error"
    assert started.message == "Expression required for hook hooked[0].a.hooks.started"
    assert result.task("a").phase == "Error"


def test_a_workflow_hook_whose_expression_fails_errs_the_workflow(run) -> None:
    result = run(wf([WORK, NOTE], entry="work",
                    hooks={"odd": hook('workflow.status > 3')}))
    assert result.phase == "Error"
    assert "hook hooked.hooks.odd: expression 'workflow.status > 3' failed" in result.message


def test_an_expanded_task_runs_its_hooks_once_per_item(run) -> None:
    # test/e2e/smoke/with-items-with-hooks.yaml, with `{{item}}` in the hook's arguments.
    echo = script("echo", "print('{{inputs.parameters.v}}')",
                  inputs={"parameters": [{"name": "v"}]})
    arguments = {"parameters": [{"name": "v", "value": "hook {{item}}"}]}
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "sim", "template": "work", "withItems": [1, 2],
         "hooks": {"exit": {"template": "echo", "arguments": arguments},
                   "running": hook('tasks["sim"].status == "Running"', "echo",
                                   arguments=arguments)}}]}}
    result = run(wf([dag, WORK, echo]))
    assert result.succeeded, result.message
    assert result.task("sim(0:1).hooks.running").result == "hook 1"
    assert result.task("sim(1:2).onExit").result == "hook 2"


def test_an_exit_hook_naming_an_output_its_step_never_made_errs(run) -> None:
    # test/e2e/expectedfailures/exit-handler-fail-missing-output.yaml
    echo = script("echo", "print('{{inputs.parameters.v}}')",
                  inputs={"parameters": [{"name": "v"}]})
    exit_hook = {"template": "echo", "arguments": {"parameters": [
        {"name": "v", "value": "{{steps.a.outputs.parameters.hello}}"}]}}
    steps = {"name": "main", "steps": [[{"name": "a", "template": "fail",
                                         "hooks": {"exit": exit_hook}}]]}
    result = run(wf([steps, FAIL, echo]))
    assert result.phase == "Failed"
    assert result.task("a.onExit").phase == "Error"
    assert "steps.a.outputs.parameters.hello" in result.task("a.onExit").message


def test_hook_nodes_are_listed_in_the_summary(run) -> None:
    steps = {"name": "main", "steps": [[{"name": "a", "template": "work", "onExit": "note",
                                         "hooks": {"up": hook('steps.a.status == "Running"')}}]]}
    result = run(wf([steps, WORK, NOTE]))
    summary = json.loads(result.summary_path.read_text())
    text = json.dumps(summary)
    assert "hooked[0].a.hooks.up" in text and "hooked[0].a.onExit" in text


def test_a_hooks_remote_artifact_is_refused_before_anything_runs(run) -> None:
    from hera_utils.errors import ConfigurationError

    exit_hook = {"template": "note", "arguments": {"artifacts": [
        {"name": "data", "s3": {"bucket": "lab", "key": "some/key"}}]}}
    steps = {"name": "main", "steps": [[{"name": "a", "template": "work",
                                         "hooks": {"exit": exit_hook}}]]}
    try:
        run(wf([steps, WORK, NOTE]))
    except ConfigurationError as error:
        assert "step 'a', hook 'exit'" in error.message
        assert "s3" in error.message
    else:
        raise AssertionError("the workflow ran")
