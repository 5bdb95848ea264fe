"""Conformance: Argo's documented patterns, written with Hera, run locally.

Each test builds a workflow modelled on an example of Argo's walk-through or Hera's
examples, runs it, and checks every task's phase and the outputs it produced.
"""


import itertools
import time

from hera.workflows import DAG, Parameter, RetryStrategy, Steps, Workflow, script
from hera.workflows.models import Sequence, ValueFrom
from localrun_helpers import phases, summary_of


@script()
def echo(message: str):
    print(message)


@script()
def fail(message: str = "failing on purpose"):
    import sys

    print(message)
    sys.exit(3)


@script()
def sleep_then_echo(seconds: float, message: str):
    import time

    time.sleep(seconds)
    print(message)


# -------------------------------------------------------------------------- hello world


def test_hello_world_runs_its_entry_template_with_the_workflow_argument(run):
    with Workflow(generate_name="hello-world-", entrypoint="echo",
                  arguments={"message": "hello world"}) as workflow:
        echo()

    result = run(workflow)

    assert result.succeeded and result.phase == "Succeeded"
    assert result.name.startswith("hello-world-") and len(result.name) == len("hello-world-") + 5
    # The entry pod is the workflow's root node: Argo names it after the workflow.
    assert phases(result) == {result.name: "Succeeded"}
    assert result.task(result.name).result == "hello world"
    summary = summary_of(result)
    assert summary["workflow"] == result.name and summary["phase"] == "Succeeded"
    assert (result.run_dir / "echo.log").read_text() == "hello world\n"


def test_hello_world_in_a_dag_records_the_task_result_and_log(run):
    with Workflow(generate_name="hello-", entrypoint="main") as workflow, DAG(name="main"):
        echo(name="hello", arguments={"message": "hello world"})

    result = run(workflow)

    task = result.task("hello")
    assert (task.phase, task.exit_code, task.result) == ("Succeeded", 0, "hello world")
    assert task.log == result.run_dir / "hello.log" and task.log.read_text() == "hello world\n"
    entry = summary_of(result)["tasks"][0]
    assert entry["name"] == "hello" and entry["log"] == "hello.log"
    assert entry["outputs"] == {"result": "hello world", "parameters": {}}


# -------------------------------------------------------------------------- DAG diamond


def test_diamond_dag_runs_each_task_after_its_dependencies(run):
    with Workflow(generate_name="dag-diamond-", entrypoint="diamond") as workflow, \
            DAG(name="diamond"):
        a = echo(name="A", arguments={"message": "A"})
        b = echo(name="B", arguments={"message": "B after {{tasks.A.outputs.result}}"})
        c = echo(name="C", arguments={"message": "C after {{tasks.A.outputs.result}}"})
        d = echo(name="D", arguments={
            "message": "D after {{tasks.B.outputs.result}} and {{tasks.C.outputs.result}}"})
        a >> [b, c] >> d

    result = run(workflow, parallelism=4)

    assert result.succeeded
    assert phases(result) == dict.fromkeys("ABCD", "Succeeded")
    assert result.task("D").result == "D after B after A and C after A"
    tasks = {t.name: t for t in result.tasks}
    assert tasks["A"].finished_at <= tasks["B"].started_at
    assert tasks["A"].finished_at <= tasks["C"].started_at
    assert max(tasks["B"].finished_at, tasks["C"].finished_at) <= tasks["D"].started_at


# -------------------------------------------------------------------------- steps


def test_steps_run_groups_in_sequence_and_steps_of_a_group_in_parallel(run):
    with Workflow(generate_name="steps-", entrypoint="hello-hello-hello") as workflow, \
            Steps(name="hello-hello-hello") as steps:
        echo(name="hello1", arguments={"message": "hello1"})
        with steps.parallel():
            sleep_then_echo(name="hello2a", arguments={"seconds": 0.5, "message": "hello2a"})
            sleep_then_echo(name="hello2b", arguments={"seconds": 0.5, "message": "hello2b"})

    result = run(workflow, parallelism=2)

    assert result.succeeded
    assert phases(result) == dict.fromkeys(["hello1", "hello2a", "hello2b"], "Succeeded")
    tasks = {t.name: t for t in result.tasks}
    assert tasks["hello1"].finished_at <= tasks["hello2a"].started_at
    assert tasks["hello2a"].started_at < tasks["hello2b"].finished_at  # they overlapped
    assert tasks["hello2b"].started_at < tasks["hello2a"].finished_at
    assert tasks["hello2a"].node == f"{result.name}[1].hello2a"
    assert [t.result for t in result.tasks] == ["hello1", "hello2a", "hello2b"]


# -------------------------------------------------------------------------- loops


@script()
def print_os(image: str, tag: str):
    print(f"{image}:{tag}")


def test_with_items_over_maps_names_nodes_as_argo_does(run):
    with Workflow(generate_name="loops-maps-", entrypoint="main") as workflow, DAG(name="main"):
        print_os(with_items=[{"image": "debian", "tag": "9.1"}, {"image": "alpine", "tag": "3.6"}],
                 arguments={"image": "{{item.image}}", "tag": "{{item.tag}}"})

    result = run(workflow)

    assert phases(result) == {"print-os(0:image:debian,tag:9.1)": "Succeeded",
                              "print-os(1:image:alpine,tag:3.6)": "Succeeded"}
    assert [t.result for t in result.tasks] == ["debian:9.1", "alpine:3.6"]


@script()
def cities():
    import json

    print(json.dumps(["paris", "oslo", "lima"]))


@script()
def shout(city: str):
    print(city.upper())


def test_with_param_expands_over_the_json_list_a_previous_task_printed(run):
    with Workflow(generate_name="loops-param-", entrypoint="main") as workflow, DAG(name="main"):
        listing = cities()
        collect = shout(name="collect", arguments={"city": "{{item}}"}, with_param=listing.result)
        listing >> collect

    result = run(workflow)

    assert phases(result) == {"cities": "Succeeded", "collect(0:paris)": "Succeeded",
                              "collect(1:oslo)": "Succeeded", "collect(2:lima)": "Succeeded"}
    assert [result.task(f"collect({i}:{c})").result for i, c in
            enumerate(["paris", "oslo", "lima"])] == ["PARIS", "OSLO", "LIMA"]


def test_with_sequence_counts_from_start_with_the_format(run):
    with Workflow(generate_name="loops-sequence-", entrypoint="main") as workflow, \
            DAG(name="main"):
        echo(name="run", arguments={"message": "{{item}}"},
             with_sequence=Sequence(count="3", start="1", format="run-%02d"))
        echo(name="countdown", arguments={"message": "{{item}}"},
             with_sequence=Sequence(start="2", end="0"))

    result = run(workflow)

    assert phases(result) == {
        "run(0:run-01)": "Succeeded", "run(1:run-02)": "Succeeded", "run(2:run-03)": "Succeeded",
        "countdown(0:2)": "Succeeded", "countdown(1:1)": "Succeeded", "countdown(2:0)": "Succeeded"}
    assert result.task("run(2:run-03)").result == "run-03"


def test_an_empty_loop_skips_its_task(run):
    with Workflow(generate_name="loops-empty-", entrypoint="main") as workflow, DAG(name="main"):
        echo(name="never", arguments={"message": "{{item}}"}, with_param="[]")

    result = run(workflow)

    assert result.succeeded
    assert phases(result) == {"never": "Skipped"}
    assert result.task("never").message == "Skipped, empty params"


# -------------------------------------------------------------------------- parameters


def test_parameters_flow_from_the_workflow_through_tasks(run):
    with Workflow(generate_name="params-", entrypoint="main",
                  arguments={"greeting": "hello", "who": "world"}) as workflow, \
            DAG(name="main"):
        first = echo(name="greet",
                     arguments={"message": "{{workflow.parameters.greeting}} "
                                           "{{workflow.parameters.who}} from {{workflow.name}}"})
        second = echo(name="repeat", arguments={"message": "again: {{tasks.greet.outputs.result}}"})
        first >> second

    result = run(workflow, parameters={"greeting": "bonjour"})

    assert phases(result) == {"greet": "Succeeded", "repeat": "Succeeded"}
    assert result.task("greet").result == f"bonjour world from {result.name}"
    assert result.task("repeat").result == f"again: bonjour world from {result.name}"
    assert summary_of(result)["parameters"] == {"greeting": "bonjour", "who": "world"}


@script(outputs=[
    Parameter(name="size", value_from=ValueFrom(path="{{inputs.parameters.folder}}/size.txt")),
    Parameter(name="unit", value_from=ValueFrom(path="{{inputs.parameters.folder}}/unit.txt",
                                                default="characters")),
])
def measure(text: str, folder: str):
    with open(f"{folder}/size.txt", "w") as handle:
        handle.write(f"{len(text)}\n")


def test_output_parameters_come_from_files_with_their_defaults(run, tmp_path):
    with Workflow(generate_name="output-params-", entrypoint="main") as workflow, \
            DAG(name="main"):
        m = measure(arguments={"text": "hello world", "folder": str(tmp_path)})
        show = echo(name="show", arguments={
            "message": "{{tasks.measure.outputs.parameters.size}} "
                       "{{tasks.measure.outputs.parameters.unit}}"})
        m >> show

    result = run(workflow)

    assert phases(result) == {"measure": "Succeeded", "show": "Succeeded"}
    # One trailing newline is trimmed, as Argo does; the missing file gives its default.
    assert result.task("measure").parameters == {"size": "11", "unit": "characters"}
    assert result.task("show").result == "11 characters"


@script(outputs=[Parameter(name="answer", value_from=ValueFrom(path="answer.txt"))])
def forgets_its_output():
    print("no file written")


def test_a_missing_output_file_without_default_errors_the_task(run):
    with Workflow(generate_name="output-missing-", entrypoint="main") as workflow, \
            DAG(name="main"):
        forgets_its_output() >> echo(name="after", arguments={"message": "x"})

    result = run(workflow)

    assert not result.succeeded and result.phase == "Error"
    assert phases(result) == {"forgets-its-output": "Error", "after": "Omitted"}
    assert "answer.txt: no such file" in result.task("forgets-its-output").message


# -------------------------------------------------------------------------- conditions


@script()
def flip_coin(side: str):
    print(side)


@script()
def heads():
    print("it was heads")


@script()
def tails():
    print("it was tails")


def test_coin_flip_runs_only_the_branch_its_when_selects(run):
    with Workflow(generate_name="coinflip-", entrypoint="coinflip",
                  arguments={"side": "heads"}) as workflow, Steps(name="coinflip") as steps:
        flip = flip_coin(name="flip-coin", arguments={"side": "{{workflow.parameters.side}}"})
        with steps.parallel():
            heads(when=f"{flip.result} == heads")
            tails(when=f"{flip.result} == tails")

    result = run(workflow)
    again = run(workflow, parameters={"side": "tails"})

    assert phases(result) == {"flip-coin": "Succeeded", "heads": "Succeeded", "tails": "Skipped"}
    assert result.task("heads").result == "it was heads"
    assert result.task("tails").message == "when 'heads == tails' evaluated false"
    assert phases(again) == {"flip-coin": "Succeeded", "heads": "Skipped", "tails": "Succeeded"}


# -------------------------------------------------------------------------- fan-in


@script()
def numbers():
    print("[1, 2, 3]")


@script(outputs=[Parameter(name="value", value_from=ValueFrom(
    path="{{inputs.parameters.folder}}/square-{{inputs.parameters.n}}.txt"))])
def square(n: int, folder: str):
    with open(f"{folder}/square-{n}.txt", "w") as handle:
        handle.write(str(n * n))
    print(n * n)


@script()
def total(values: list, results: list):
    print(sum(values), sum(results))


def test_fan_in_aggregates_the_outputs_of_a_with_param_loop(run, tmp_path):
    with Workflow(generate_name="fan-in-", entrypoint="main") as workflow, DAG(name="main"):
        listing = numbers()
        squares = square(arguments={"n": "{{item}}", "folder": str(tmp_path)},
                         with_param=listing.result)
        summed = total(arguments={"values": "{{tasks.square.outputs.parameters.value}}",
                                  "results": "{{tasks.square.outputs.result}}"})
        listing >> squares >> summed

    result = run(workflow, parallelism=3)

    assert phases(result) == {"numbers": "Succeeded", "square(0:1)": "Succeeded",
                              "square(1:2)": "Succeeded", "square(2:3)": "Succeeded",
                              "total": "Succeeded"}
    assert result.task("total").result == "14 14"
    assert result.task("square(2:3)").parameters == {"value": "9"}


# -------------------------------------------------------------------------- retries


@script(retry_strategy=RetryStrategy(limit="3"))
def flaky(counter: str):
    import os
    import sys

    attempt = 1
    if os.path.exists(counter):
        with open(counter) as handle:
            attempt += int(handle.read())
    with open(counter, "w") as handle:
        handle.write(str(attempt))
    print(f"attempt {attempt}")
    sys.exit(1 if attempt == 1 else 0)


@script(retry_strategy=RetryStrategy(limit="1"))
def always_fails():
    import sys

    print("nope")
    sys.exit(2)


def test_a_retried_task_succeeds_on_its_second_attempt(run, tmp_path):
    with Workflow(generate_name="retry-", entrypoint="main") as workflow, DAG(name="main"):
        flaky(arguments={"counter": str(tmp_path / "counter")})
        always_fails()

    result = run(workflow)

    assert phases(result) == {"flaky": "Succeeded", "always-fails": "Failed"}
    task = result.task("flaky")
    assert (task.attempts, task.result, task.exit_code) == (2, "attempt 2", 0)
    assert [log.read_text() for log in task.logs] == ["attempt 1\n", "attempt 2\n"]
    assert [log.name for log in task.logs] == ["flaky.attempt-1.log", "flaky.attempt-2.log"]
    exhausted = result.task("always-fails")
    assert (exhausted.attempts, exhausted.exit_code) == (2, 2)
    assert exhausted.message == "No more retries left: Error (exit code 2)"
    assert summary_of(result)["tasks"][0]["logs"] == ["flaky.attempt-1.log",
                                                       "flaky.attempt-2.log"]


# -------------------------------------------------------------------------- exit handler


@script()
def report(status: str = "{{workflow.status}}", failures: str = "{{workflow.failures}}"):
    # Hera's script preamble has already parsed the JSON list of failures.
    print(status, sorted(f["displayName"] for f in failures))


def test_the_exit_handler_runs_after_a_failure_and_sees_the_status(run):
    with Workflow(generate_name="exit-handler-", entrypoint="main",
                  on_exit="report") as workflow:
        report()
        with DAG(name="main"):
            fail(name="bad")

    result = run(workflow)

    assert result.phase == "Failed"
    exit_name = f"{result.name}.onExit"
    assert phases(result) == {"bad": "Failed", exit_name: "Succeeded"}
    assert result.task("bad").message == "Error (exit code 3)"
    assert result.task(exit_name).result == f"Failed ['bad', '{result.name}']"


def test_a_failing_exit_handler_fails_a_successful_workflow(run):
    with Workflow(generate_name="exit-fails-", entrypoint="main", on_exit="fail") as workflow:
        fail()
        with DAG(name="main"):
            echo(name="fine", arguments={"message": "ok"})

    result = run(workflow)

    assert phases(result) == {"fine": "Succeeded", f"{result.name}.onExit": "Failed"}
    assert result.phase == "Failed" and result.message == "Error (exit code 3)"


# -------------------------------------------------------------------------- depends


def test_depends_on_failure_runs_the_handler_and_the_dag_succeeds(run):
    with Workflow(generate_name="depends-failed-", entrypoint="main") as workflow, \
            DAG(name="main"):
        fail(name="A")
        echo(name="on-failure", arguments={"message": "handled"}, depends="A.Failed")
        echo(name="always", arguments={"message": "always"}, depends="A.Succeeded || A.Failed")
        echo(name="not-ok", arguments={"message": "not ok"}, depends="!A.Succeeded")

    result = run(workflow)

    # Argo assesses a DAG by its leaves: each of them ran and succeeded.
    assert result.succeeded
    assert phases(result) == {"A": "Failed", "on-failure": "Succeeded", "always": "Succeeded",
                              "not-ok": "Succeeded"}


def test_a_task_depending_on_a_failed_task_is_omitted_and_fails_the_dag(run):
    with Workflow(generate_name="depends-omitted-", entrypoint="main") as workflow, \
            DAG(name="main"):
        fail(name="A")
        echo(name="on-failure", arguments={"message": "handled"}, depends="A.Failed")
        echo(name="next", arguments={"message": "next"}, depends="A")
        echo(name="after-next", arguments={"message": "after"}, depends="next")
        echo(name="after-omission", arguments={"message": "runs"}, depends="next.Omitted")

    result = run(workflow)

    assert phases(result) == {"A": "Failed", "on-failure": "Succeeded", "next": "Omitted",
                              "after-next": "Omitted", "after-omission": "Succeeded"}
    assert result.task("next").message == "omitted: depends condition not met"
    # The omitted leaf inherits the failure of its branch, so the DAG fails (assessDAGPhase).
    assert result.phase == "Failed"


def test_dependencies_list_with_continue_on_lets_the_dag_go_on(run):
    with Workflow(generate_name="continue-on-", entrypoint="main") as workflow, \
            DAG(name="main"):
        fail(name="A", continue_on={"failed": True})
        echo(name="B", arguments={"message": "B"}, dependencies=["A"])

    result = run(workflow)

    assert result.succeeded
    assert phases(result) == {"A": "Failed", "B": "Succeeded"}


# -------------------------------------------------------------------------- failFast


def _fail_fast_workflow(fail_fast: bool | None) -> Workflow:
    options = {} if fail_fast is None else {"fail_fast": fail_fast}
    with Workflow(generate_name="fail-fast-", entrypoint="main") as workflow, \
            DAG(name="main", **options):
        fail(name="A")
        b = sleep_then_echo(name="B", arguments={"seconds": 1.5, "message": "B"})
        c = echo(name="C", arguments={"message": "C"})
        b >> c
    return workflow


def test_fail_fast_starts_nothing_new_after_a_failure_and_fails_the_dag(run):
    result = run(_fail_fast_workflow(None), parallelism=2)

    assert result.phase == "Failed"
    # B was running: it finishes; C would start after B, and is never started.
    assert phases(result) == {"A": "Failed", "B": "Succeeded"}
    assert result.message == "A: Error (exit code 3); failFast: 1 task(s) of " \
        f"'{result.name}' not started"


def test_without_fail_fast_the_other_branches_run_to_completion(run):
    result = run(_fail_fast_workflow(False), parallelism=2)

    assert result.phase == "Failed"  # A is a leaf and failed
    assert phases(result) == {"A": "Failed", "B": "Succeeded", "C": "Succeeded"}


# -------------------------------------------------------------------------- deadlines


@script(active_deadline_seconds=1)
def too_slow():
    import time

    print("starting", flush=True)
    time.sleep(60)


def test_a_task_past_its_deadline_is_killed_and_fails(run):
    with Workflow(generate_name="deadline-", entrypoint="main") as workflow, DAG(name="main"):
        too_slow() >> echo(name="after", arguments={"message": "x"})

    started = time.monotonic()
    result = run(workflow)

    assert time.monotonic() - started < 20
    assert result.phase == "Failed"
    assert phases(result) == {"too-slow": "Failed", "after": "Omitted"}
    task = result.task("too-slow")
    assert task.message == "Step exceeded its deadline"
    assert task.exit_code == 143 and task.log.read_text() == "starting\n"


def test_the_workflow_deadline_stops_every_running_task(run):
    with Workflow(generate_name="wf-deadline-", entrypoint="main",
                  active_deadline_seconds=1) as workflow, DAG(name="main"):
        sleep_then_echo(name="slow-1", arguments={"seconds": 60, "message": "never"})
        sleep_then_echo(name="slow-2", arguments={"seconds": 60, "message": "never"})

    started = time.monotonic()
    result = run(workflow, parallelism=2)

    assert time.monotonic() - started < 20
    assert result.phase == "Failed" and "exceeded its deadline" in result.message
    assert phases(result) == {"slow-1": "Failed", "slow-2": "Failed"}
    assert {t.message for t in result.tasks} == {"Step exceeded its deadline"}


# -------------------------------------------------------------------------- nesting


@script()
def double(x: int):
    print(2 * x)


def test_nested_templates_dag_calls_steps_calls_script(run):
    with Workflow(generate_name="nested-", entrypoint="outer") as workflow:
        pipeline = Steps(
            name="pipeline", inputs=[Parameter(name="x")],
            outputs=[Parameter(name="doubled", value_from=ValueFrom(
                parameter="{{steps.twice.outputs.result}}"))])
        with pipeline:
            once = double(name="once", arguments={"x": "{{inputs.parameters.x}}"})
            double(name="twice", arguments={"x": once.result})
        with DAG(name="outer"):
            prepare = echo(name="prepare", arguments={"message": "5"})
            inner = pipeline(name="inner", arguments={"x": prepare.result})
            shown = echo(name="report",
                         arguments={"message": "{{tasks.inner.outputs.parameters.doubled}}"})
            prepare >> inner >> shown

    result = run(workflow)

    assert result.succeeded
    assert phases(result) == {"prepare": "Succeeded", "inner": "Succeeded",
                              "once": "Succeeded", "twice": "Succeeded", "report": "Succeeded"}
    inner = result.task("inner")
    assert (inner.type, inner.template, inner.parameters) == ("Steps", "pipeline",
                                                             {"doubled": "20"})
    assert result.task("twice").node == f"{result.name}.inner[1].twice"
    assert result.task("report").result == "20"


# -------------------------------------------------------------------------- parallelism


def test_template_parallelism_runs_loop_items_one_at_a_time(run):
    with Workflow(generate_name="parallelism-", entrypoint="main") as workflow, \
            DAG(name="main", parallelism=1):
        sleep_then_echo(arguments={"seconds": 0.2, "message": "{{item}}"}, with_items=[1, 2, 3])

    result = run(workflow, parallelism=3)

    assert set(phases(result).values()) == {"Succeeded"}
    spans = sorted((t.started_at, t.finished_at) for t in result.tasks)
    assert all(previous[1] <= following[0] for previous, following in itertools.pairwise(spans))
