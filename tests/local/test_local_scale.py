"""Large workflows run, or are refused with a clear error: never a RecursionError.

The tasks are suspend templates, which finish at once without a process: what is tested
is the runner's own bookkeeping on 10,000 tasks or dependencies.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from hera_utils.errors import ConfigurationError
from hera_utils.local import dag, runner
from hera_utils.local.depends import TaskResults, parse_depends
from hera_utils.local.nodes import Node
from hera_utils.local.progress import Progress

WIDTH = 10_000


def _dag(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": "scale"},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "dag": {"tasks": tasks}},
            {"name": "wait", "suspend": {}},
        ]},
    }


def test_a_chain_of_ten_thousand_tasks_runs_in_order(run) -> None:
    tasks = [{"name": "t0", "template": "wait"}] + [
        {"name": f"t{i}", "template": "wait", "depends": f"t{i - 1}"} for i in range(1, WIDTH)]

    result = run(_dag(tasks))

    assert result.succeeded, result.message
    assert len(result.tasks) == WIDTH
    starts = [task.started_at for task in result.tasks]
    assert [task.name for task in result.tasks] == [f"t{i}" for i in range(WIDTH)]
    assert starts == sorted(starts)


def test_a_task_with_ten_thousand_dependencies_waits_for_all_of_them(run) -> None:
    names = [f"a{i}" for i in range(WIDTH)]
    tasks = [{"name": name, "template": "wait"} for name in names]
    tasks.append({"name": "last", "template": "wait", "dependencies": names})

    result = run(_dag(tasks))

    assert result.succeeded, result.message
    last = result.task("last")
    assert last.phase == "Succeeded"
    assert all(task.finished_at <= last.started_at for task in result.tasks[:-1])


def test_depends_naming_ten_thousand_tasks_is_read_and_evaluated() -> None:
    names = [f"a{i}" for i in range(WIDTH)]
    expression = parse_depends(" && ".join(f"{name}.Succeeded" for name in names))
    results = {name: TaskResults(succeeded=True) for name in names}

    assert expression.tasks == names
    assert expression.evaluate(results) is True
    assert expression.evaluate({**results, "a77": TaskResults(failed=True)}) is False
    assert expression.names_failure_of("a5") is False


def test_a_failure_among_many_dependencies_omits_the_task(run) -> None:
    names = [f"a{i}" for i in range(1_000)]
    tasks = [{"name": name, "template": "wait"} for name in names[:-1]]
    tasks.append({"name": names[-1], "template": "wait", "when": "1 == 2"})
    tasks.append({"name": "last", "template": "wait",
                  "depends": " && ".join(f"{name}.Succeeded" for name in names)})

    result = run(_dag(tasks))

    assert result.task(names[-1]).phase == "Skipped"
    assert result.task("last").phase == "Omitted"


def test_depends_nested_thousands_deep_is_refused_before_the_run(run) -> None:
    depth = 5_000
    tasks = [{"name": "a", "template": "wait"},
             {"name": "b", "template": "wait", "depends": "(" * depth + "a" + ")" * depth}]

    with pytest.raises(ConfigurationError) as caught:
        run(_dag(tasks))

    assert "task 'b'" in caught.value.message
    assert "more than 50 levels deep" in caught.value.message


def test_a_cycle_through_many_tasks_is_named(run) -> None:
    tasks = [{"name": f"t{i}", "template": "wait", "depends": f"t{(i + 1) % WIDTH}"}
             for i in range(WIDTH)]

    with pytest.raises(ConfigurationError) as caught:
        run(_dag(tasks))

    assert "the DAG has a dependency cycle: t0 -> t1 -> t2 -> " in caught.value.message
    assert caught.value.message.endswith(f"t{WIDTH - 1} -> t0")


class _Recorder(Progress):
    """Counts the task nodes that exist and have not finished, and the pending tally."""

    def __init__(self) -> None:
        super().__init__()
        self.live = self.most_live = self.most_pending = 0

    def tasks_waiting(self, change: int) -> None:
        super().tasks_waiting(change)
        self.most_pending = max(self.most_pending, self.pending)

    def task_pending(self, node: Node) -> None:
        super().task_pending(node)
        self.live += 1
        self.most_live = max(self.most_live, self.live)

    def task_finished(self, node: Node, *, was: str) -> None:
        super().task_finished(node, was=was)
        self.live -= was != "none"


def test_tasks_beyond_the_slots_wait_as_names_yet_count_as_pending(
        run, monkeypatch: pytest.MonkeyPatch) -> None:
    # Argo creates no node while the workflow's parallelism is reached: a waiting task
    # holds no started template here either, whatever the number waiting.
    recorder = _Recorder()
    monkeypatch.setattr(runner, "make_progress", lambda mode: recorder)
    tasks = [{"name": f"t{i}", "template": "work"} for i in range(30)]
    workflow = _dag(tasks)
    workflow["spec"]["templates"][1] = {
        "name": "work", "script": {"image": "python:3.12", "command": ["python"],
                                   "source": "print(1)"}}

    result = run(workflow, parallelism=1)

    assert result.succeeded, result.message
    assert recorder.done == 30
    assert recorder.most_live <= dag.IN_FLIGHT_PER_SLOT
    assert recorder.most_pending >= 28  # the display still counts every task left
    assert recorder.pending == 0


def test_a_task_ending_stops_no_process_of_a_later_task(run, tmp_path) -> None:
    # Task processes are told apart by a marker numbered per start (run:1, run:2 ...):
    # the end of the first must not stop the tenth's, whose marker starts the same way.
    ready, done = tmp_path / "ready", tmp_path / "done"
    waits = ("import pathlib, time\n"
             f"for _ in range(600):\n    if pathlib.Path({str(ready)!r}).exists(): break\n"
             "    time.sleep(0.05)\n")
    tenth = (f"import pathlib, time\npathlib.Path({str(ready)!r}).touch()\ntime.sleep(2)\n"
             f"pathlib.Path({str(done)!r}).touch()\n")
    tasks = [{"name": "first", "template": "waits"}, {"name": "b2", "template": "quick"}]
    tasks += [{"name": f"b{i}", "template": "quick", "depends": f"b{i - 1}"}
              for i in range(3, 10)]
    tasks.append({"name": "tenth", "template": "tenth", "depends": "b9"})
    workflow = _dag(tasks)
    workflow["spec"]["templates"][1:] = [
        {"name": name, "script": {"image": "python:3.12", "command": ["python"],
                                  "source": source}}
        for name, source in (("waits", waits), ("quick", "pass\n"), ("tenth", tenth))]

    result = run(workflow, parallelism=2)

    assert result.task("tenth").phase == "Succeeded", result.task("tenth").message
    assert done.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_process_left_in_the_task_group_is_reaped_not_left_a_zombie(run, tmp_path) -> None:
    # Once re-parented here, a task's background process is this process's child: killed
    # with its task's group, it must also be waited for, or each one stays a zombie.
    pid_file = tmp_path / "pid"
    source = f"(sleep 301 >/dev/null 2>&1 & echo $! > {pid_file})\necho started\n"
    workflow = _dag([{"name": "leaves", "template": "leaves"}])
    workflow["spec"]["templates"][1] = {
        "name": "leaves", "script": {"image": "bash", "command": ["bash"], "source": source}}

    result = run(workflow)

    assert result.succeeded, result.message
    assert not Path(f"/proc/{int(pid_file.read_text())}").exists()


def test_a_task_s_output_exit_code_and_leftovers_are_kept_and_stopped(run, tmp_path) -> None:
    # Its stdout passes through the runner (log and result), its stderr goes to the log, its
    # exit code fails it; what it left in its group is stopped and reaped when it ends.
    pid_file = tmp_path / "pid"
    source = (f"(sleep 301 >/dev/null 2>&1 & echo $! > {pid_file})\n"
              "for i in $(seq 3000); do echo \"line $i\"; done\necho oops >&2\nexit 3\n")
    workflow = _dag([{"name": "ends", "template": "ends"},
                     {"name": "after", "template": "ends", "depends": "ends.Failed"}])
    workflow["spec"]["templates"][1] = {
        "name": "ends", "script": {"image": "bash", "command": ["bash"], "source": source}}

    result = run(workflow)

    first = result.task("ends")
    assert (first.phase, first.exit_code) == ("Failed", 3)
    assert first.outputs["result"].splitlines()[-1] == "line 3000"
    log = first.log.read_text()
    assert "line 1\n" in log and "line 3000\n" in log and "oops" in log
    assert result.task("after").exit_code == 3
    assert not Path(f"/proc/{int(pid_file.read_text())}").exists()
