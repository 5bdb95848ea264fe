"""Local runs that end as Argo ends them, where they once did not: each workflow below is
written after an Argo example or rule, with Argo's outcome as the expectation."""

from __future__ import annotations

import functools

import pytest
from localrun_helpers import PY, script, workflow

wf = functools.partial(workflow, "argo-like")


def test_a_script_run_by_sh_c_is_staged_executable(run) -> None:
    # scripts-bash.yaml: Argo writes the source with mode 0755 and appends its path.
    result = run(wf([{"name": "main", "script": {"image": "debian", "command": ["sh", "-c"],
                                                 "source": "echo from sh"}}]))
    assert result.succeeded, result.message
    assert result.task("argo-like").result == "from sh"


def test_an_empty_retry_strategy_retries_until_success(run, tmp_path) -> None:
    # retry-container-to-completion.yaml: `retryStrategy: {}` has no limit.
    # The count is kept outside the attempt's own file system, which each retry gets anew.
    counting = (f"import os, sys\nos.chdir({str(tmp_path)!r})\n"
                "n = int(open('n').read()) if os.path.exists('n') else 0\n"
                "open('n', 'w').write(str(n + 1))\nsys.exit(0 if n >= 3 else 1)")
    result = run(wf([script("main", counting, retryStrategy={})]))
    assert result.succeeded, result.message
    assert result.task("argo-like").attempts == 4


def test_limit_zero_says_no_more_retries_left(run) -> None:
    result = run(wf([script("main", "import sys; sys.exit(3)", retryStrategy={"limit": 0})]))
    assert result.task("argo-like").attempts == 1
    assert result.task("argo-like").message.startswith("No more retries left")


def test_the_exit_hooks_arguments_reach_the_exit_handler(run) -> None:
    bye = script("bye", "print('{{inputs.parameters.status}} {{inputs.parameters.word}}')",
                 inputs={"parameters": [{"name": "status"}, {"name": "word"}]})
    hooks = {"exit": {"template": "bye", "arguments": {"parameters": [
        {"name": "status", "value": "{{workflow.status}}"}, {"name": "word", "value": "ciao"}]}}}
    result = run(wf([script("main", "print(1)"), bye], hooks=hooks))
    assert result.succeeded, result.message
    assert result.task("argo-like.onExit").result == "Succeeded ciao"


def test_a_volume_mount_naming_no_volume_ends_in_error(run) -> None:
    template = {"name": "main", "container": {"image": "alpine", "command": ["true"],
                                              "volumeMounts": [{"name": "nope",
                                                                "mountPath": "/data"}]}}
    result = run(wf([template]), stub_containers=True)
    assert result.phase == "Error"
    assert result.task("argo-like").message == "volume 'nope' not found in workflow spec"


def test_a_defined_volume_mount_is_accepted(run) -> None:
    template = {"name": "main", "container": {"image": "alpine", "command": ["true"],
                                              "volumeMounts": [{"name": "work",
                                                                "mountPath": "/data"}]}}
    result = run(wf([template], volumes=[{"name": "work", "emptyDir": {}}]),
                 stub_containers=True)
    assert result.succeeded, result.message


def test_a_parameterised_dag_target_runs_that_target_and_its_needs_only(run) -> None:
    # dag-targets.yaml: `target: "{{workflow.parameters.target}}"`.
    tasks = [{"name": "a", "template": "s"}, {"name": "b", "template": "s", "depends": "a"},
             {"name": "c", "template": "s"}]
    result = run(wf([{"name": "main", "dag": {"target": "{{workflow.parameters.target}}",
                                              "tasks": tasks}}, script("s", "print(1)")],
                    arguments={"parameters": [{"name": "target", "value": "b"}]}))
    assert result.succeeded, result.message
    assert sorted(task.name for task in result.tasks) == ["a", "b"]


def test_value_from_keys_are_read_case_insensitively_as_go_does(run) -> None:
    template = script("main", "open('out.txt', 'w').write('42')",
                      outputs={"parameters": [{"name": "answer",
                                               "valueFrom": {"Path": "out.txt"}}]})
    result = run(wf([template]))
    assert result.succeeded, result.message
    assert result.task("argo-like").parameters == {"answer": "42"}


def test_a_stubbed_container_exits_zero(run) -> None:
    steps = [[{"name": "c", "template": "c"}],
             [{"name": "s", "template": "s", "arguments": {"parameters": [
                 {"name": "code", "value": "{{steps.c.exitCode}}"}]}}]]
    result = run(wf([{"name": "main", "steps": steps},
                     {"name": "c", "container": {"image": "alpine", "command": ["true"]}},
                     script("s", "print('{{inputs.parameters.code}}')",
                            inputs={"parameters": [{"name": "code"}]})]),
                 stub_containers=True)
    assert result.succeeded, result.message
    assert result.task("s").result == "0"


@pytest.mark.parametrize("metadata", [{}, {"generateName": "nightly-run-"}])
def test_a_cron_workflow_runs_its_workflow_spec(run, metadata) -> None:
    cron = {"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow",
            "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "workflowMetadata": metadata,
                     "workflowSpec": {"entrypoint": "main",
                                      "templates": [script("main", "print('ran')")]}}}
    result = run(cron)
    assert result.succeeded, result.message
    assert result.name.startswith(metadata.get("generateName", "nightly-"))


def _skipped_producer(output: dict, consumer_input: dict) -> dict:
    tasks = [{"name": "producer", "template": "produce", "when": "false"},
             {"name": "consumer", "template": "consume",
              "depends": "producer.Succeeded || producer.Skipped",
              "arguments": {"parameters": [
                  {"name": "in", "value": "{{tasks.producer.outputs.parameters.msg}}"}]}}]
    return wf([{"name": "main", "dag": {"tasks": tasks}},
               script("produce", "open('out.txt', 'w').write('real')",
                      outputs={"parameters": [{"name": "msg", "valueFrom": output}]}),
               script("consume", "print('got [{{inputs.parameters.in}}]')",
                      inputs={"parameters": [{"name": "in", **consumer_input}]})])


def test_a_skipped_producer_gives_its_outputs_default(run) -> None:
    # skipped-output-defaults/producer-output-default.yaml
    result = run(_skipped_producer({"path": "out.txt", "default": "from-producer"}, {}))
    assert result.succeeded, result.message
    assert result.task("consumer").result == "got [from-producer]"


def test_without_an_output_default_the_consumers_input_default_applies(run) -> None:
    # skipped-output-defaults/consumer-input-default.yaml
    result = run(_skipped_producer({"path": "out.txt"}, {"default": "from-input"}))
    assert result.succeeded, result.message
    assert result.task("consumer").result == "got [from-input]"


APPROVAL = {"name": "approval", "suspend": {},
            "inputs": {"parameters": [{"name": "approve", "default": "NO"}]},
            "outputs": {"parameters": [{"name": "approve", "valueFrom": {"supplied": {}}}]}}
DEPLOY_IF = {"name": "main", "steps": [
    [{"name": "approval", "template": "approval"}],
    [{"name": "deploy", "template": "deploy",
      "when": "{{steps.approval.outputs.parameters.approve}} == YES"}]]}


def test_a_resumed_suspend_output_takes_its_inputs_default(run) -> None:
    # intermediate-parameters.yaml: resumed without a value, `approve` is the input's 'NO'.
    result = run(wf([DEPLOY_IF, APPROVAL, script("deploy", "print('deployed')")]))
    assert result.succeeded, result.message
    assert result.task("approval").outputs["parameters"] == {"approve": "NO"}
    assert result.task("deploy").phase == "Skipped"


def test_resume_with_supplies_a_suspend_output(run) -> None:
    result = run(wf([DEPLOY_IF, APPROVAL, script("deploy", "print('deployed')")]),
                 resume_with={"approve": "YES"})
    assert result.succeeded, result.message
    assert result.task("deploy").result == "deployed"


def test_fail_fast_stops_nothing_for_a_failure_that_is_no_targets(run) -> None:
    # Hera's dags/complex_deps: b fails by design; d (a && (b || c)) runs, as the controller
    # reads failFast only when assessing the DAG from its targets (dag.go).
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "a", "template": "ok"}, {"name": "b", "template": "fail", "depends": "a"},
        {"name": "c", "template": "ok", "depends": "a"},
        {"name": "d", "template": "ok", "depends": "a && (b || c)"}]}}
    result = run(wf([dag, script("ok", "print('ok')"), script("fail", "import sys; sys.exit(1)")]))
    assert result.task("b").phase == "Failed"
    assert result.task("d").phase == "Succeeded"
    assert result.succeeded, result.message


def test_fail_fast_stops_starting_tasks_once_a_targets_branch_failed(run) -> None:
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "a", "template": "fail"}, {"name": "slow", "template": "slow"},
        {"name": "after", "template": "ok", "depends": "slow"}]}}
    result = run(wf([dag, script("ok", "print('ok')"), script("fail", "import sys; sys.exit(1)"),
                     script("slow", "import time; time.sleep(1.5)")]))
    assert result.phase == "Failed"
    assert "failFast" in result.message
    assert "after" not in {task.name for task in result.tasks}


def test_a_templates_own_fail_fast_stops_its_waiting_children_with_argos_message(run) -> None:
    # Argo's e2e parallelism-step-fail-fast: parallelism 1 and failFast on the template.
    main = {"name": "main", "parallelism": 1, "failFast": True, "steps": [[
        {"name": "step", "template": "exit", "arguments": {"parameters": [
            {"name": "code", "value": "{{item}}"}]}, "withItems": [1, 0, 0]}]]}
    exiting = script("exit", "import sys; sys.exit({{inputs.parameters.code}})",
                     inputs={"parameters": [{"name": "code"}]})
    result = run(wf([main, exiting]))
    assert result.phase == "Failed"
    # The run's message names the first failure, then Argo's own message for the stop.
    assert result.message == ("step(0:1): Error (exit code 1); "
                              "template has failed or errored children and failFast enabled")
    phases = {task.name: task.phase for task in result.tasks}
    assert phases["step(0:1)"] == "Failed"
    assert {phases["step(1:0)"], phases["step(2:0)"]} == {"Skipped"}


def test_a_retry_expression_decides_whether_to_retry(run, tmp_path) -> None:
    # retry-conditional.yaml: retry while the last exit code is above 1.
    # The count is kept outside the attempt's own file system, which each retry gets anew.
    counting = (f"import os, sys\nos.chdir({str(tmp_path)!r})\n"
                "n = int(open('n').read()) if os.path.exists('n') else 0\n"
                "open('n', 'w').write(str(n + 1))\nsys.exit(2 if n < 2 else 1)")
    retry = {"limit": "10", "expression": 'asInt(lastRetry.exitCode) > 1 && '
             'lastRetry.status != "Error" && asInt(lastRetry.duration) < 120'}
    result = run(wf([script("main", counting, retryStrategy=retry)]))
    assert result.phase == "Failed"
    assert result.task("argo-like").attempts == 3


def test_a_missing_executable_is_named_as_the_container_runtime_names_it(run) -> None:
    # A pod whose command is not in the image fails to start with runc's message.
    template = {"name": "main", "script": {"image": "debian",
                                           "command": ["no-such-interpreter-here"],
                                           "source": "true"}}
    result = run(wf([template]))
    assert result.phase == "Error"
    assert result.task("argo-like").message == (
        'exec: "no-such-interpreter-here": executable file not found in $PATH')


MOUNT = "/mnt/hera-utils-local-vol"  # not a path of this machine


def _volume_steps(**spec) -> dict:
    # volumes-pvc.yaml / volumes-emptydir.yaml: one step writes the volume, the next reads it.
    mounts = [{"name": "workdir", "mountPath": MOUNT}]
    write = {"name": "write", "script": {**PY, "volumeMounts": mounts, "source": (
        f"import os\nos.makedirs('{MOUNT}/out', exist_ok=True)\n"
        f"with open('{MOUNT}/out/log', 'a') as f:\n    f.write('hello\\n')")}}
    read = {"name": "read", "script": {**PY, "volumeMounts": mounts,
                                       "source": f"print(open('{MOUNT}/out/log').read().strip())"}}
    steps = {"name": "main", "steps": [[{"name": "write", "template": "write"}],
                                       [{"name": "read", "template": "read"}]]}
    return wf([steps, write, read], **spec)


def test_a_claim_template_volume_is_shared_by_the_runs_tasks(run) -> None:
    claim = {"metadata": {"name": "workdir"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    result = run(_volume_steps(volumeClaimTemplates=[claim]))
    assert result.succeeded, result.message
    assert result.task("read").result == "hello"
    assert (result.run_dir / "volumes" / "workdir" / "out" / "log").read_text() == "hello\n"
    assert not __import__("os").path.exists(MOUNT)


def test_an_existing_claim_outlives_the_run(run) -> None:
    volumes = [{"name": "workdir", "persistentVolumeClaim": {"claimName": "my-existing"}}]
    run(_volume_steps(volumes=volumes))
    second = run(_volume_steps(volumes=volumes))
    assert second.succeeded, second.message
    assert second.task("read").result == "hello\nhello"
    assert (second.run_dir.parent / "claims" / "my-existing" / "out" / "log").is_file()


def test_an_empty_dir_belongs_to_one_pod(run) -> None:
    result = run(_volume_steps(volumes=[{"name": "workdir", "emptyDir": {}}]))
    assert result.phase == "Failed"  # the reading pod has an empty directory of its own
    assert "No such file or directory" in result.task("read").log.read_text()
    assert result.task("write").phase == "Succeeded"


def test_a_volume_whose_content_is_the_clusters_is_refused(run) -> None:
    from hera_utils.errors import ConfigurationError

    volumes = [{"name": "workdir", "configMap": {"name": "settings"}}]
    with pytest.raises(ConfigurationError, match=r"mounts volume 'workdir' \(configMap\)"):
        run(_volume_steps(volumes=volumes))


def test_a_retry_expression_that_does_not_parse_is_refused_before_the_run(run) -> None:
    from hera_utils.errors import ConfigurationError

    retry = {"limit": 2, "expression": "lastRetry.exitCode >"}
    with pytest.raises(ConfigurationError, match=r"retryStrategy.expression .* does not parse"):
        run(wf([script("main", "print(1)", retryStrategy=retry)]))


def test_a_consumer_failing_on_a_stubs_empty_output_is_told_the_producer_was_stubbed(run):
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "count", "template": "count"},
        {"name": "use", "template": "use", "depends": "count", "arguments": {"parameters": [
            {"name": "n", "value": "{{tasks.count.outputs.result}}"}]}}]}}
    use = script("use", "print(int('{{inputs.parameters.n}}') + 1)",
                 inputs={"parameters": [{"name": "n"}]})
    count = {"name": "count", "container": {"image": "alpine", "command": ["sh", "-c"],
                                            "args": ["echo 41"]}}
    result = run(wf([dag, count, use]), stub_containers=True)
    assert result.phase == "Failed"
    assert "use ran after stubbed container task(s) count, whose outputs are empty" in \
        result.message


def test_workflow_synchronization_is_ignored_with_a_notice(tmp_path, capsys) -> None:
    from hera_utils.local import run_locally

    workflow = wf([script("main", "print(1)")],
                  synchronization={"mutex": {"name": "one-at-a-time"}})
    result = run_locally(workflow, runs_dir=tmp_path, progress="plain")
    assert result.succeeded
    assert "spec.synchronization is ignored" in capsys.readouterr().out
