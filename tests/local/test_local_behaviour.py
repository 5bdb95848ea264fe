"""The runner's own behaviour: environment, limits, inputs, outputs, progress, entry points."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from localrun_helpers import gone_soon, phases, summary_of

from hera_utils.local import executors, run_locally
from hera_utils.local.progress import make_progress


def _script(name: str, source: str, *, command: str = "python", **extra: Any) -> dict[str, Any]:
    return {"name": name, "script": {"image": "python:3.11", "command": [command],
                                     "source": source}, **extra}


def _workflow(tasks: list[dict[str, Any]], *templates: dict[str, Any],
              **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"generateName": "behaviour-"},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": tasks}},
                                                         *templates], **spec}}


def test_tasks_see_their_env_the_volume_dir_and_import_from_the_work_dir(run, tmp_path):
    (tmp_path / "experiment_helpers.py").write_text("VALUE = 'imported'\n")
    template = _script("show", "import os, experiment_helpers\n"
                               "print(os.environ['MODE'], os.environ['HERA_UTILS_VOLUME_DIR'],"
                               " experiment_helpers.VALUE)")
    template["script"]["env"] = [{"name": "MODE", "value": "fast"}]
    volume = tmp_path / "local-volume"

    result = run(_workflow([{"name": "show", "template": "show"}], template),
                 volume_dir=volume)

    assert result.task("show").result == f"fast {volume} imported"
    assert volume.is_dir()


def test_a_script_works_in_its_own_directory_and_home_under_the_run(run, tmp_path, monkeypatch):
    home = tmp_path / "user-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    template = _script("show", "import os, pathlib\n"
                               "pathlib.Path('here.txt').write_text('x')\n"
                               "pathlib.Path('~/.settings').expanduser().write_text('x')\n"
                               "print(os.getcwd(), os.environ['HOME'],"
                               " os.environ['XDG_CONFIG_HOME'])")

    result = run(_workflow([{"name": "show", "template": "show"}], template))

    assert result.succeeded, result.message
    cwd, task_home, config = result.task("show").result.split()
    task_root = result.run_dir / "fs" / "show"
    assert (cwd, task_home, config) == (str(task_root), str(task_root),
                                        str(task_root / ".config"))
    assert list(home.iterdir()) == [] and list(tmp_path.glob("here.txt")) == []
    assert not task_root.exists()  # removed with the task, as a pod's file system is


def test_a_bash_script_runs_with_bash_and_its_args(run):
    template = _script("greet", 'echo "args: $# shell: ${BASH_VERSION:+bash}"', command="bash")

    result = run(_workflow([{"name": "greet", "template": "greet"}], template))

    assert result.task("greet").result == "args: 0 shell: bash"
    scripts = list((result.run_dir / "scripts").iterdir())
    assert [script.suffix for script in scripts] == [".sh"]
    assert scripts[0].name.startswith("greet-")


def test_the_result_keeps_the_last_256_kb_of_stdout(run):
    template = _script("chatty", "import sys\nsys.stdout.write('a' * 300000 + 'END\\n')")

    result = run(_workflow([{"name": "chatty", "template": "chatty"}], template))

    text = result.task("chatty").result
    assert len(text) == executors.RESULT_LIMIT and text.endswith("aEND")
    assert result.task("chatty").log.stat().st_size == 300004  # the log keeps everything


def test_the_workflow_parallelism_caps_the_run_parallelism(run):
    sleeper = _script("nap", "import time\ntime.sleep(0.3)")
    tasks = [{"name": f"nap-{i}", "template": "nap"} for i in range(3)]

    result = run(_workflow(tasks, sleeper, parallelism=1), parallelism=3)

    spans = sorted((task.started_at, task.finished_at) for task in result.tasks)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))
    assert summary_of(result)["parallelism"] == 1


def test_tasks_run_concurrently_up_to_the_parallelism(run):
    sleeper = _script("nap", "import time\ntime.sleep(0.5)")
    tasks = [{"name": f"nap-{i}", "template": "nap"} for i in range(2)]

    result = run(_workflow(tasks, sleeper), parallelism=2)

    first, second = result.tasks
    assert first.started_at < second.finished_at and second.started_at < first.finished_at


def test_a_missing_input_errors_the_task_and_names_the_parameter(run):
    template = _script("needs", "print('{{inputs.parameters.size}}')",
                       inputs={"parameters": [{"name": "size"}]})

    result = run(_workflow([{"name": "needs", "template": "needs"}], template))

    assert phases(result) == {"needs": "Error"}
    assert result.task("needs").message == "inputs.parameters.size was not supplied"


def test_a_non_json_with_param_errors_the_task(run):
    template = _script("say", "print(1)")
    task = {"name": "loop", "template": "say", "withParam": "not a list"}

    result = run(_workflow([task], template))

    assert phases(result) == {"loop": "Error"}
    assert "withParam value could not be parsed as a JSON list" in result.task("loop").message


def test_retry_policy_on_error_does_not_retry_a_failure(run):
    template = _script("fails", "import sys\nsys.exit(1)",
                       retryStrategy={"limit": 3, "retryPolicy": "OnError"})

    result = run(_workflow([{"name": "fails", "template": "fails"}], template))

    assert (result.task("fails").phase, result.task("fails").attempts) == ("Failed", 1)


def test_a_suspend_template_is_a_notice_and_succeeds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    suspend = {"name": "approve", "suspend": {"duration": "10m"}}
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)

    result = run_locally(_workflow([{"name": "approve", "template": "approve"}], suspend),
                         runs_dir=tmp_path / "runs", progress="plain")

    assert phases(result) == {"approve": "Succeeded"}
    assert "note: suspend approve (duration 10m): not waiting in a local run" in out.getvalue()


def test_the_name_is_generate_name_plus_five_characters_of_kubernetes_alphabet(run):
    result = run(_workflow([{"name": "t", "template": "say"}], _script("say", "print(1)")))

    assert re.fullmatch(r"behaviour-[bcdfghjklmnpqrstvwxz2456789]{5}", result.name)
    assert result.run_dir == Path.cwd() / "runs" / result.name


def test_a_workflow_can_be_given_as_json_file_or_hera_model(run, tmp_path):
    from hera.workflows import DAG, Workflow, script

    @script()
    def ping():
        print("pong")

    with Workflow(name="from-model", entrypoint="main") as workflow, DAG(name="main"):
        ping()
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(workflow.to_dict()))

    assert run(workflow.build()).task("ping").result == "pong"
    assert run(path).task("ping").result == "pong"


def test_run_locally_works_from_inside_a_running_event_loop(run):
    workflow = _workflow([{"name": "t", "template": "say"}], _script("say", "print('ok')"))

    async def notebook_cell():
        return run(workflow)

    result = asyncio.run(notebook_cell())

    assert result.task("t").result == "ok"


def test_plain_progress_prints_one_line_per_event_and_the_end():
    stream = io.StringIO()
    progress = make_progress("auto", stream)  # a StringIO is no terminal: plain lines
    progress.begin("wf-1", "runs/wf-1")
    progress.end("wf-1", "Succeeded", "", "runs/wf-1/summary.json")

    lines = stream.getvalue().splitlines()
    assert lines[0] == "local run wf-1 -> runs/wf-1"
    assert lines[1].startswith("wf-1 Succeeded in ")
    assert lines[-1] == "  summary: runs/wf-1/summary.json"


def test_live_progress_redraws_one_status_line(run, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    sleeper = _script("nap", "import time\ntime.sleep(0.3)")

    run(_workflow([{"name": f"n{i}", "template": "nap"} for i in range(2)], sleeper),
        progress="live")

    text = stream.getvalue()
    assert "\r\x1b[K[behaviour-" in text
    assert "running 2" in text or "running 1" in text
    assert "pending 0 | running 0 | done 2 | failed 0" in text


@pytest.mark.parametrize("mode", ["quiet"])
def test_quiet_progress_prints_nothing(run, monkeypatch, mode):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)

    run(_workflow([{"name": "t", "template": "say"}], _script("say", "print(1)")),
        progress=mode)

    assert stream.getvalue() == ""


def test_plain_progress_reports_a_retried_attempt_and_counts_final_outcomes(run, monkeypatch,
                                                                          tmp_path):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    counter = tmp_path / "count"
    template = _script("flaky", "import os, sys\n"
                                f"path = {str(counter)!r}\n"
                                "first = not os.path.exists(path)\n"
                                "open(path, 'a').close()\n"
                                "sys.exit(1 if first else 0)",
                       retryStrategy={"limit": "2"})

    result = run(_workflow([{"name": "flaky", "template": "flaky"}], template), progress="plain")

    assert result.succeeded and result.task("flaky").attempts == 2
    lines = stream.getvalue().splitlines()
    assert "  x flaky(0): Failed: Error (exit code 1)  log: runs/" \
           f"{result.name}/flaky.attempt-1.log" in lines
    assert "  ~ flaky(0): retrying" in lines and "  ok flaky(1)" in lines
    assert "  pending 0 | running 0 | done 1 | failed 0 | retried 1" in lines


def test_tasks_writing_the_same_fixed_output_path_take_turns(run, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    path = "/tmp/{{workflow.name}}-shared-out.txt"
    template = _script("double", "import time\ntime.sleep(0.2)\n"
                                 f"open({path!r}, 'w').write(str(2 * {{{{inputs.parameters.n}}}}))",
                       inputs={"parameters": [{"name": "n"}]},
                       outputs={"parameters": [{"name": "twice", "valueFrom": {"path": path}}]})
    task = {"name": "double", "template": "double", "withItems": [1, 2, 3],
            "arguments": {"parameters": [{"name": "n", "value": "{{item}}"}]}}

    result = run(_workflow([task], template), parallelism=3, progress="plain")

    assert [t.parameters for t in result.tasks] == [{"twice": "2"}, {"twice": "4"},
                                                    {"twice": "6"}]
    shared = f"/tmp/{result.name}-shared-out.txt"
    assert f"note: tasks writing their outputs to {shared} take turns" in stream.getvalue()
    Path(shared).unlink()


def test_template_defaults_apply_to_every_template(run):
    workflow = _workflow([{"name": "show", "template": "show"}],
                         _script("show", "import os\nprint(os.environ['FROM_DEFAULTS'])"),
                         templateDefaults={"script": {"env": [{"name": "FROM_DEFAULTS",
                                                               "value": "yes"}]}})

    assert run(workflow).task("show").result == "yes"


def test_what_a_task_leaves_running_is_stopped_when_it_ends(run, tmp_path):
    import time

    pid_file = tmp_path / "background.pid"
    template = _script("spawner", f"sleep 60 &\necho $! > {pid_file}\necho started",
                       command="bash")

    started = time.monotonic()
    result = run(_workflow([{"name": "spawner", "template": "spawner"}], template))

    assert time.monotonic() - started < 10  # the background sleep held stdout open
    assert result.task("spawner").result == "started"
    assert gone_soon(int(pid_file.read_text()))


def test_a_workflow_deadline_stops_the_running_task_and_starts_none_of_those_in_line(run):
    sleeper = _script("nap", "import time\nprint('began', flush=True)\ntime.sleep(30)")
    tasks = [{"name": f"nap-{i}", "template": "nap"} for i in range(3)]

    result = run(_workflow(tasks, sleeper, activeDeadlineSeconds=1), parallelism=1)

    assert not result.succeeded
    began = [task.name for task in result.tasks
             if task.log and task.log.is_file() and "began" in task.log.read_text()]
    assert began == ["nap-0"]
    assert {task.phase for task in result.tasks} <= {"Failed", "Pending"}


def test_one_slot_passed_from_task_to_task_runs_each_alone_and_in_turn(run):
    quick = _script("quick", "print('{{inputs.parameters.n}}')",
                    inputs={"parameters": [{"name": "n"}]})
    tasks = [{"name": f"q-{i}", "template": "quick",
              "arguments": {"parameters": [{"name": "n", "value": str(i)}]}} for i in range(30)]

    result = run(_workflow(tasks, quick), parallelism=1)

    assert result.succeeded
    assert sorted(int(task.result) for task in result.tasks) == list(range(30))
    spans = sorted((task.started_at, task.finished_at) for task in result.tasks)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))
