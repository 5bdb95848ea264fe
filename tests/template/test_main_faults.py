"""`python main.py submit` of the default experiment when the Argo Server misbehaves or the
user's input is hostile: exit code, one line, no traceback, no secret, nothing lost."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from template_helpers import run

from hera_utils.submission import SUBMISSION_LABEL, UNCONFIRMED_DIR

FAST = ("--poll-interval", "0.05", "--wait-timeout", "60")
TOKEN = "s3cr3t-Token-Value-0042"


@pytest.fixture(scope="module")
def project(generated) -> Path:
    return generated("defaults")


_PROJECT_MODULES = ("main", "environment", "inputs", "layout", "workflow")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def main_py(project, monkeypatch, capsys):
    """`main_py(*argv)`: the project's `main.main(argv)` in this process, as `run` returns it.

    In-process saves an interpreter start and the imports per run; the emulators answer
    over real HTTPS all the same.
    """
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    saved = {name: sys.modules.pop(name) for name in _PROJECT_MODULES if name in sys.modules}
    module = importlib.import_module("main")

    def call(*argv: str) -> Result:
        capsys.readouterr()
        code = module.main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield call
    for name in _PROJECT_MODULES:
        sys.modules.pop(name, None)
    sys.modules.update(saved)


def assert_clean(result: Result | subprocess.CompletedProcess[str], *secrets: str) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    for secret in secrets:
        assert secret not in output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_lost_reply_is_recovered_by_label_and_recorded(emulated_env, project, tmp_path):
    emulated_env.argo.faults.set("truncated", methods="POST", times=1)
    result = run(project, "main.py", "submit", "--runs-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    ((namespace, name),) = emulated_env.argo.workflows
    assert f"submitted workflow {name}" in result.stdout
    assert "created nevertheless" in result.stdout
    provenance = json.loads((tmp_path / name / "provenance.json").read_text())
    assert provenance["reply_lost"] is True
    labels = emulated_env.argo.workflows[(namespace, name)]["metadata"]["labels"]
    assert labels[SUBMISSION_LABEL] == provenance["submission"]


def test_an_unanswered_submission_rerun_does_not_create_a_second_workflow(
    emulated_env, main_py, tmp_path
):
    emulated_env.argo.faults.set("lost-reply", methods="POST", times=1)
    emulated_env.argo.authorizer = lambda identity, verb, **where: verb != "list" or (
        len(emulated_env.argo.workflows) == 0  # the access checks list before the submission
    )
    first = main_py("submit", "--runs-dir", str(tmp_path))
    assert first.returncode == 3, first.stdout + first.stderr
    assert "may or may not have been created" in first.stderr
    assert_clean(first)
    assert len(list((tmp_path / UNCONFIRMED_DIR).iterdir())) == 1
    emulated_env.argo.authorizer = None
    second = main_py("submit", "--runs-dir", str(tmp_path))
    assert second.returncode == 0, second.stdout + second.stderr
    ((_, name),) = emulated_env.argo.workflows
    assert f"found workflow {name}" in second.stdout
    assert (tmp_path / name / "provenance.json").is_file()
    assert not (tmp_path / UNCONFIRMED_DIR).exists()


def test_a_workflow_deleted_while_waiting_is_reported_as_deleted(emulated_env, main_py, tmp_path):
    emulated_env.argo.running_polls = 50
    emulated_env.argo.delete_after_reads = 2
    result = main_py("submit", "--wait", "--runs-dir", str(tmp_path), *FAST)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "was deleted while it was followed" in result.stderr
    assert "ARGO_BASE_HREF" not in result.stderr
    assert_clean(result)


@pytest.mark.parametrize("fault", ["wrong-shape", "malformed"])
def test_a_wrongly_shaped_answer_to_a_poll_is_one_line_and_exit_3(
    emulated_env, main_py, tmp_path, fault
):
    emulated_env.argo.running_polls = 50
    # The checks and the create pass; every read of the workflow itself is spoilt.
    emulated_env.argo.faults.set(fault, methods="GET", paths="/api/v1/workflows/experiments/")
    result = main_py("submit", "--wait", "--runs-dir", str(tmp_path), *FAST)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "answered with" in result.stderr
    assert_clean(result)


def test_a_wrongly_shaped_answer_to_the_create_is_one_line_and_exit_3(
    emulated_env, main_py, tmp_path
):
    emulated_env.argo.faults.set("wrong-shape", methods="POST")
    result = main_py("submit", "--runs-dir", str(tmp_path))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the workflow was not created" in result.stderr
    assert_clean(result)


def test_wait_rides_out_an_outage_longer_than_three_polls(emulated_env, main_py, tmp_path):
    emulated_env.argo.running_polls = 2
    emulated_env.argo.faults.set(
        "error500", methods="GET", paths="/api/v1/workflows/experiments/", times=6
    )
    result = main_py("submit", "--wait", "--runs-dir", str(tmp_path),
                     "--poll-interval", "0.01", "--wait-timeout", "120")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("no answer from the Argo Server") == 6
    assert "answers again" in result.stdout and "Succeeded" in result.stdout


def test_sigterm_during_submit_ends_with_a_message_and_a_record(
    emulated_env, project, main_py, tmp_path
):
    emulated_env.argo.faults.set("hang", methods="POST", times=1)
    process = subprocess.Popen(
        [sys.executable, "main.py", "submit", "--runs-dir", str(tmp_path)],
        cwd=project, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a bound on a hung test, not a measurement
        while "POST" not in {entry.method for entry in emulated_env.argo.requests}:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, stdout + stderr
    assert stderr.startswith("error: terminated by SIGTERM while the workflow was being submitted")
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    (record,) = (tmp_path / UNCONFIRMED_DIR).iterdir()
    assert json.loads((record / "provenance.json").read_text())["state"] == "reply-lost"
    emulated_env.argo.faults.clear()
    again = main_py("submit", "--runs-dir", str(tmp_path))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "it was never created: submitting it now" in again.stdout
    assert len(emulated_env.argo.workflows) == 1


@pytest.mark.parametrize(
    "argv",
    [("submit", "--argo-tokn", TOKEN), ("render", TOKEN), (TOKEN,),
     ("check", "--argo_namespace", TOKEN)],
    ids=["misspelt-flag", "stray-positional", "as-command", "non-secret-setting"],
)
def test_main_py_never_echoes_a_misplaced_token(main_py, argv):
    result = main_py(*argv)
    assert result.returncode == 2, result.stdout + result.stderr
    assert_clean(result, TOKEN)
