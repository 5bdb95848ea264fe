"""`python main.py results pull|ls` of the default experiment, against the emulated cluster:
what is copied where, and every failure as one line, an exit code and no traceback."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
import tarfile
from pathlib import Path

import pytest
from template_helpers import run_main

NS = "experiments"


@pytest.fixture(scope="module")
def project(generated) -> Path:
    return generated("defaults")


@pytest.fixture
def experiment_dir(project: Path) -> str:
    """The experiment's directory on the volume (its layout's root)."""
    found = re.search(r'name: str = "([^"]+)"', (project / "inputs.py").read_text())
    assert found
    return found[1]


@pytest.fixture
def volume(emulated_env, tmp_path: Path, experiment_dir: str) -> Path:
    contents = tmp_path / "claim-contents"
    (contents / experiment_dir / "compute" / "2020").mkdir(parents=True)
    (contents / experiment_dir / "compute" / "2020" / "result.json").write_text('{"v": 1}\n')
    (contents / experiment_dir / "summary").mkdir()
    (contents / experiment_dir / "summary" / "summary.json").write_text("[]\n")
    (contents / "someone-else").mkdir()
    (contents / "someone-else" / "theirs.txt").write_text("not ours\n")
    emulated_env.k8s.set_volume_contents(NS, "data", contents)
    return contents


def assert_one_line(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error:")


def test_pull_copies_the_experiment_directory_into_results(
    emulated_env, project, volume, experiment_dir
):
    result = run_main(project, "results", "pull")
    assert result.returncode == 0, result.stderr
    copied = project / "results" / experiment_dir
    assert (copied / "compute" / "2020" / "result.json").read_text() == '{"v": 1}\n'
    assert (copied / "summary" / "summary.json").read_text() == "[]\n"
    assert not (copied / "someone-else").exists()
    assert f"copied 2 files (12 bytes) into {copied}" in result.stdout
    assert emulated_env.k8s.pods(NS) == [] and len(emulated_env.k8s.deleted_pods) == 1


def test_pull_of_a_path_into_a_chosen_directory(emulated_env, project, volume, tmp_path):
    target = tmp_path / "elsewhere"
    result = run_main(project, "results", "pull", "someone-else", "--to", str(target))
    assert result.returncode == 0, result.stderr
    assert (target / "theirs.txt").read_text() == "not ours\n"


def test_ls_lists_the_experiment_directory(emulated_env, project, volume):
    result = run_main(project, "results", "ls")
    assert result.returncode == 0, result.stderr
    names = [line.split()[-1] for line in result.stdout.splitlines() if line.startswith("d")]
    assert names == ["compute", "summary"]
    root = run_main(project, "results", "ls", "/")
    assert "someone-else" in root.stdout


def test_an_entry_escaping_the_destination_is_refused_exit_3(
    emulated_env, project, volume, tmp_path, experiment_dir
):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in ((f"{experiment_dir}/ok.txt", b"ok"), ("../escaped.txt", b"evil")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    emulated_env.k8s.exec_override = lambda command: ([buffer.getvalue()], 0)
    target = tmp_path / "a" / "b"
    result = run_main(project, "results", "pull", "--to", str(target))
    assert result.returncode == 3
    assert "refused" in result.stderr and "'../escaped.txt'" in result.stderr
    assert (target / "ok.txt").read_bytes() == b"ok"
    assert not (tmp_path / "a" / "escaped.txt").exists()
    assert not (tmp_path / "escaped.txt").exists()
    assert_one_line(result)


@pytest.mark.parametrize(
    ("arrange", "expected"),
    [
        ("no-exec", "pods/exec"),
        ("no-pods", "not allowed to create pods"),
        ("claim-missing", "volume claim 'nope'"),
        ("never-starts", "ImagePullBackOff"),
        ("deadline", "DeadlineExceeded"),
    ],
)
def test_each_failure_is_one_line_with_a_hint_and_exit_3(
    emulated_env, project, volume, monkeypatch, arrange, expected
):
    k8s = emulated_env.k8s
    if arrange == "no-exec":
        k8s.allowed_verbs = lambda user, ns, verb, resource, group: resource != "pods/exec"
    elif arrange == "no-pods":
        k8s.allowed_verbs = lambda user, ns, verb, resource, group: (
            resource
            not in (
                "pods",
                "pods/exec",
            )
            or verb in ("get", "list")
        )
    elif arrange == "claim-missing":
        monkeypatch.setenv("KUBEVOLUMECLAIMNAME", "nope")
    elif arrange == "never-starts":
        k8s.pods_never_start = "ImagePullBackOff"
    elif arrange == "deadline":
        reads = iter(range(10**6))
        k8s.clock = lambda: 1e9 + 10_000 * next(reads)
    result = run_main(project, "results", "pull")
    assert result.returncode == 3, result.stderr
    assert expected in result.stderr
    assert "(" in result.stderr.splitlines()[-1]  # the hint, after the message
    assert_one_line(result)
    assert k8s.pods(NS) == []


def test_usage_errors_exit_2(emulated_env, project):
    for argv in (("results",), ("results", "push"), ("results", "ls", "a", "b"), ("render", "x")):
        result = run_main(project, *argv)
        assert result.returncode == 2, (argv, result.stderr)
        assert_one_line(result)
    wrong = run_main(project, "submit", "--to", "x")
    assert wrong.returncode == 2 and "--to applies to results" in wrong.stderr


def test_check_says_whether_results_can_read_the_claim(emulated_env, project):
    emulated_env.k8s.allowed_verbs = lambda user, ns, verb, resource, group: resource != "pods/exec"
    result = run_main(project, "check")
    line = next(line for line in result.stdout.splitlines() if "results_access" in line)
    assert "✗" in line and "create pods/exec" in line
    assert "ask your cluster admin" in result.stdout
    assert result.returncode == 3


def test_ctrl_c_during_a_pull_ends_with_130_and_leaves_no_pod(emulated_env, project, volume):
    streaming = threading.Event()

    def slow(command):
        streaming.set()
        for _ in range(600):  # at most 30 s of zeros: far more than the test needs
            threading.Event().wait(0.05)
            yield b"\0" * 512

    emulated_env.k8s.exec_override = lambda command: (slow(command), 0)
    process = subprocess.Popen(
        [sys.executable, "main.py", "results", "pull", "--to", "interrupted"],
        cwd=project,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert streaming.wait(120), "the pull never reached the exec"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in stderr
    assert emulated_env.k8s.pods(NS) == [] and len(emulated_env.k8s.deleted_pods) == 1


def test_submit_does_not_need_the_rights_of_results(emulated_env, project, tmp_path):
    emulated_env.k8s.allowed_verbs = lambda user, ns, verb, resource, group: resource != "pods/exec"
    result = run_main(project, "submit", "--runs-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
