"""Container tasks: run through docker/podman when one works, reported or stubbed otherwise.

A fake `docker` command (`fake_docker`: a small Python program put first on PATH) stands for
the engine: it records its command lines and runs the container's command on this machine.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from fake_docker import bin_dir, docker_calls, install_fake_docker
from localrun_helpers import WORKFLOWS, phases

from hera_utils.local import runtimes

__all__ = ["bin_dir"]  # a fixture of the tests below


def _install_fake_docker(bin_dir: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> Path:
    return install_fake_docker(bin_dir, monkeypatch, mode)


def _calls(tmp_path: Path) -> list[list[str]]:
    return docker_calls(tmp_path)


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

    runtime, reason = runtimes.find_container_runtime(timeout=0.5)
    again, same_reason = runtimes.find_container_runtime(timeout=0.5)

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
