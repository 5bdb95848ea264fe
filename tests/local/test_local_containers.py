"""Container tasks: run through docker/podman when one works, reported or stubbed otherwise.

A fake `docker` command (a small Python program put first on PATH) stands for the engine:
it records its command lines and runs the container's command on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from localrun_helpers import WORKFLOWS, phases

from hera_utils.local import executors

FAKE_DOCKER = f"""#!{sys.executable}
import json, os, shutil, signal, subprocess, sys, time
with open(os.environ["FAKE_DOCKER_CALLS"], "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
mode = os.environ.get("FAKE_DOCKER_MODE", "ok")
command = sys.argv[1]
if command == "info":
    if mode == "down":
        sys.stderr.write("Cannot connect to the Docker daemon. Is the docker daemon running?\\n")
        sys.exit(1)
    if mode == "hang":
        time.sleep(30)
    sys.exit(0)
if command == "run":
    args, env, entrypoint, init, mounts = sys.argv[2:], dict(os.environ), None, False, {{}}
    while args[0].startswith("-"):
        flag = args.pop(0)
        if flag == "--init":
            init = True
            continue
        value = args.pop(0)
        if flag == "-e":
            key, _, text = value.partition("=")
            env[key] = text
        elif flag == "--entrypoint":
            entrypoint = value
        elif flag == "-v":
            host, target = value.rsplit(":", 1)
            mounts[target] = host
    image = args.pop(0)
    # What the container sees at a mount's path is the host's directory: name that instead.
    args = [next((mounts[t] + a[len(t):] for t in mounts if a == t or a.startswith(t + "/")),
                 a) for a in args]
    # As PID 1 (no --init), a signal whose action is the default does nothing.
    pid_one = None if init else (lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    code = subprocess.call(([entrypoint] if entrypoint else []) + args, env=env,
                           preexec_fn=pid_one)
    sys.exit(128 - code if code < 0 else code)
if command == "cp":
    source = sys.argv[2].split(":", 1)[1]
    if not os.path.exists(source):
        sys.exit(1)
    shutil.copyfile(source, sys.argv[3])
sys.exit(0)
"""


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with a shell and no docker or podman; tests may add a fake docker to it."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for tool in ("sh", "bash"):
        found = shutil.which(tool)
        if found:
            (directory / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(directory))
    monkeypatch.setenv("FAKE_DOCKER_CALLS", str(tmp_path / "docker-calls.jsonl"))
    assert shutil.which("docker") is None and shutil.which("podman") is None
    return directory


def _install_fake_docker(bin_dir: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> Path:
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("FAKE_DOCKER_MODE", mode)
    return docker


def _calls(tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "docker-calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_without_docker_or_podman_a_container_task_is_not_runnable_and_the_run_fails(
        run, bin_dir):
    result = run(WORKFLOWS / "mixed.yaml")

    assert not result.succeeded and result.phase == "Error"
    assert phases(result) == {"prepare": "Succeeded", "simulate": "Error", "analyse": "Omitted"}
    simulate = result.task("simulate")
    assert simulate.message.startswith("not runnable here: a container task needs a working "
                                       "docker or podman")
    assert "docker is not on PATH" in simulate.message
    assert simulate.log.read_text().startswith("not runnable here")
    assert result.message == f"simulate: {simulate.message}"


def test_a_container_entrypoint_without_runtime_fails_the_whole_run(run, bin_dir):
    result = run(WORKFLOWS / "hello-world.yaml")

    assert (result.succeeded, result.phase) == (False, "Error")
    assert phases(result) == {result.name: "Error"}
    assert "not runnable here" in result.message


def test_a_docker_that_does_not_answer_info_counts_as_absent(run, bin_dir, monkeypatch,
                                                             tmp_path):
    _install_fake_docker(bin_dir, monkeypatch, mode="down")

    result = run(WORKFLOWS / "mixed.yaml")

    assert phases(result) == {"prepare": "Succeeded", "simulate": "Error", "analyse": "Omitted"}
    assert "'docker info' failed (exit code 1): Cannot connect to the Docker daemon" in \
        result.task("simulate").message
    assert [call[0] for call in _calls(tmp_path)] == ["info"]  # nothing was run


def test_the_runtime_probe_times_out_and_is_cached(bin_dir, monkeypatch, tmp_path):
    _install_fake_docker(bin_dir, monkeypatch, mode="hang")

    runtime, reason = executors.find_container_runtime(timeout=0.5)
    again, same_reason = executors.find_container_runtime(timeout=0.5)

    assert runtime is None and again is None
    assert reason == same_reason == \
        "'docker info' did not answer within 0.5s; podman is not on PATH"
    assert len(_calls(tmp_path)) == 1  # the second answer came from the cache


def test_stubbed_containers_let_the_rest_of_the_workflow_run(run, bin_dir):
    result = run(WORKFLOWS / "mixed.yaml", stub_containers=True)

    assert result.succeeded and result.message == "1 container task(s) stubbed, not run"
    assert phases(result) == {"prepare": "Succeeded", "simulate": "Succeeded",
                              "analyse": "Succeeded"}
    simulate = result.task("simulate")
    assert simulate.stubbed
    assert "image registry.example.org/simulator:1.0" in simulate.message
    assert '"echo simulating ready;' in simulate.message  # the resolved command
    assert result.task("analyse").result == "42"  # the output parameter's default


def test_a_working_runtime_runs_the_container_with_its_env_and_collects_outputs(
        run, bin_dir, monkeypatch, tmp_path):
    docker = _install_fake_docker(bin_dir, monkeypatch, mode="ok")

    result = run(WORKFLOWS / "mixed.yaml")

    assert result.succeeded, result.message
    assert phases(result) == {"prepare": "Succeeded", "simulate": "Succeeded",
                              "analyse": "Succeeded"}
    assert result.task("simulate").result == "simulating ready"
    assert result.task("simulate").parameters == {"answer": "7"}
    assert result.task("analyse").result == "7"
    calls = _calls(tmp_path)
    run_call = next(call for call in calls if call[0] == "run")
    name = run_call[run_call.index("--name") + 1]
    assert run_call[run_call.index("-e") + 1] == "MODE=fast"
    entry = run_call.index("--entrypoint")
    assert run_call[entry + 1:entry + 4] == ["sh", "registry.example.org/simulator:1.0", "-c"]
    assert ["cp", f"{name}:/tmp/{result.name}-answer.txt"] == next(
        call for call in calls if call[0] == "cp")[:2]
    assert ["rm", "-f", name] in calls
    assert summary_entry_runtime(result) == docker.name
    os.unlink(f"/tmp/{result.name}-answer.txt")


def summary_entry_runtime(result) -> str:
    return json.loads(result.summary_path.read_text())["container_runtime"]


def test_a_container_that_signals_itself_ends_as_under_argos_executor(
        run, bin_dir, monkeypatch, tmp_path):
    # Argo runs the command as a child (not PID 1): its own SIGTERM ends it, exit 143.
    _install_fake_docker(bin_dir, monkeypatch, mode="ok")
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "self-signal"},
                "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {
                    "image": "alpine", "command": ["sh", "-c"],
                    "args": ["kill -TERM $$; echo survived"]}}]}}

    result = run(workflow)

    assert result.phase == "Failed"
    assert result.task("self-signal").exit_code == 143
    assert result.task("self-signal").message == "Error (exit code 143)"


def test_a_containers_volume_is_a_run_directory_mounted_at_its_path(
        run, bin_dir, monkeypatch, tmp_path):
    # volumes-pvc.yaml: the mount path need not exist here; the claim is the run's directory.
    _install_fake_docker(bin_dir, monkeypatch, mode="ok")
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "claimed"},
                "spec": {"entrypoint": "main",
                         "volumeClaimTemplates": [{"metadata": {"name": "workdir"}}],
                         "templates": [{"name": "main", "container": {
                             "image": "alpine", "command": ["sh", "-c", "exit 0"],
                             "volumeMounts": [{"name": "workdir",
                                               "mountPath": "/mnt/nowhere-here"}]}}]}}

    result = run(workflow)

    assert result.succeeded, result.message
    run_call = next(call for call in _calls(tmp_path) if call[0] == "run")
    claim = result.run_dir / "volumes" / "workdir"
    assert run_call[run_call.index("-v") + 1] == f"{claim}:/mnt/nowhere-here"
    assert claim.is_dir()


def test_in_containers_a_script_runs_in_its_image_staged_as_argo_stages_it(
        run, bin_dir, monkeypatch, tmp_path):
    _install_fake_docker(bin_dir, monkeypatch, mode="ok")
    (bin_dir / "python3").symlink_to(sys.executable)
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "imaged"},
                "spec": {"entrypoint": "main", "templates": [{"name": "main", "script": {
                    "image": "python:3.12", "command": ["python3"], "args": ["-u"],
                    "source": "import sys\nprint('in', sys.argv[0].rsplit('/', 1)[-1])"}}]}}

    result = run(workflow, script_runtime="container")

    assert result.succeeded, result.message
    run_call = next(call for call in _calls(tmp_path) if call[0] == "run")
    entry = run_call.index("--entrypoint")
    assert run_call[entry + 1:] == ["python3", "python:3.12", "-u", "/argo/staging/script"]
    script = next(value for value in run_call if value.endswith(":/argo/staging/script"))
    assert Path(script.rsplit(":", 1)[0]).read_text().startswith("import sys")
    assert result.task("imaged").result.startswith("in main-")


def test_in_containers_without_a_runtime_a_script_is_not_runnable(run, bin_dir):
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "imaged"},
                "spec": {"entrypoint": "main", "templates": [{"name": "main", "script": {
                    "image": "python:3.12", "command": ["python"], "source": "print(1)"}}]}}

    result = run(workflow, script_runtime="container")

    assert result.phase == "Error"
    assert result.message.startswith("not runnable here: a script task in its image")
