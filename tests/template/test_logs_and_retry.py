"""`main.py logs`, `main.py retry` and the failed task's log tail of `submit --wait`, as a
user runs them, against the emulated Argo Server (its log and retry endpoints)."""

from __future__ import annotations

from pathlib import Path

import pytest
from template_helpers import run_main

FAST = ("--poll-interval", "0.05", "--wait-timeout", "60")
LOG = b"loading data\nTraceback (most recent call last):\n  File \"workflow.py\", line 31\n" \
      b"ValueError: caf\xe9 is not a borough\n"


@pytest.fixture(scope="module")
def project(generated) -> Path:
    return generated("defaults")


def submitted(emulated_env, project: Path, runs: Path, *extra: str) -> tuple[str, object]:
    result = run_main(project, "submit", "--runs-dir", str(runs), *extra)
    ((name, _),) = [(n, ns) for (ns, n) in emulated_env.argo.workflows]
    return name, result


def test_submit_wait_prints_the_failed_tasks_log_tail_and_exits_1(
    emulated_env, project, tmp_path
) -> None:
    emulated_env.argo.failing_tasks = {"summarize": 1}
    emulated_env.argo.task_logs = {"summarize": LOG}
    name, result = submitted(emulated_env, project, tmp_path, "--wait", *FAST)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "  task summarize failed" in result.stdout
    assert "    | ValueError: caf\ufffd is not a borough" in result.stdout
    assert result.stdout.count("task summarize failed") == 1  # once, however many polls
    assert result.stdout.index("task summarize failed") < result.stdout.index("  Failed ")
    assert f"workflow {name} ended Failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_logs_prints_every_task_multi_line_and_non_utf8_intact(
    emulated_env, project, tmp_path
) -> None:
    emulated_env.argo.task_logs = {"summarize": LOG}
    name, _ = submitted(emulated_env, project, tmp_path, "--wait", *FAST)
    result = run_main(project, "logs", "--runs-dir", str(tmp_path))  # the latest submission
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("summarize: ")] == [
        "summarize: loading data",
        "summarize: Traceback (most recent call last):",
        'summarize:   File "workflow.py", line 31',
        "summarize: ValueError: caf\ufffd is not a borough",
    ]
    computed = [line for line in lines if not line.startswith("summarize: ")]
    assert computed and all(line.endswith((": started", ": done")) for line in computed)
    one = run_main(project, "logs", name, "--task", "summarize")
    assert one.returncode == 0, one.stdout + one.stderr
    assert one.stdout.splitlines()[-1] == "ValueError: caf\ufffd is not a borough"


def test_logs_follow_prints_until_the_workflow_ends(emulated_env, project, tmp_path) -> None:
    emulated_env.argo.running_polls = 3
    name, _ = submitted(emulated_env, project, tmp_path)
    result = run_main(project, "logs", name, "--follow")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "summarize: summarize: done"  # the last task
    assert emulated_env.argo.run_of("experiments", name).finished


def test_logs_of_an_unknown_task_lists_the_tasks(emulated_env, project, tmp_path) -> None:
    name, _ = submitted(emulated_env, project, tmp_path, "--wait", *FAST)
    result = run_main(project, "logs", name, "--task", "sumarize")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"workflow {name} has no task 'sumarize'" in result.stderr
    assert "summarize" in result.stderr.partition("choose one of:")[2]


def test_logs_without_any_submission_says_what_to_do(emulated_env, project, tmp_path) -> None:
    result = run_main(project, "logs", "--runs-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: no submitted workflow is recorded under {tmp_path}")


def test_logs_of_a_missing_workflow_is_exit_3_with_a_hint(emulated_env, project) -> None:
    result = run_main(project, "logs", "no-such-workflow")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "no-such-workflow" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_token_given_as_the_workflow_is_refused_without_being_echoed(emulated_env, project):
    token = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA-ABCdef"
    result = run_main(project, "logs", token)
    assert result.returncode == 2
    assert "WORKFLOW is not a workflow name" in result.stderr
    assert token not in result.stdout + result.stderr


def test_logs_that_hang_are_cut_by_the_request_timeout(emulated_env, project, tmp_path,
                                                       monkeypatch) -> None:
    name, _ = submitted(emulated_env, project, tmp_path, "--wait", *FAST)
    monkeypatch.setenv("HERA_UTILS_TIMEOUT", "1")
    emulated_env.argo.faults.set("hang", paths=f"/api/v1/workflows/experiments/{name}/log")
    result = run_main(project, "logs", name)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "did not answer within 1 s" in result.stderr


def test_logs_cut_off_mid_answer_say_so(emulated_env, project, tmp_path) -> None:
    name, _ = submitted(emulated_env, project, tmp_path, "--wait", *FAST)
    emulated_env.argo.faults.set("drop", paths=f"/api/v1/workflows/experiments/{name}/log")
    result = run_main(project, "logs", name)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_retry_reruns_only_the_failed_tasks(emulated_env, project, tmp_path) -> None:
    emulated_env.argo.failing_tasks = {"summarize": 1}
    name, first = submitted(emulated_env, project, tmp_path, "--wait", *FAST)
    assert first.returncode == 1
    result = run_main(project, "retry", "--wait", "--runs-dir", str(tmp_path), *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"retried workflow {name}" in result.stdout
    assert f"workflow {name} succeeded" in result.stdout
    attempts = emulated_env.argo.run_of("experiments", name).attempts
    assert attempts["summarize"] == 1
    assert {task: n for task, n in attempts.items() if task != "summarize"} == {
        task: 0 for task in attempts if task != "summarize"
    }


def test_retry_of_a_succeeded_workflow_is_refused(emulated_env, project, tmp_path) -> None:
    name, _ = submitted(emulated_env, project, tmp_path, "--wait", *FAST)
    result = run_main(project, "retry", name)
    assert result.returncode == 2
    assert f"workflow {name} is Succeeded: only a Failed or Error workflow" in result.stderr


def test_logs_options_belong_to_logs(project) -> None:
    result = run_main(project, "render", "--follow")
    assert result.returncode == 2
    assert "--follow applies to logs, not to render" in result.stderr
