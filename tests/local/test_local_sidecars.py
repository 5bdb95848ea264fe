"""Sidecars and init containers of pod templates, run as Argo runs them in a pod.

Init containers run in order before anything else and a failing one fails the pod; sidecars
start before the main container, share its network and are stopped once it has ended (their
stop's exit codes do not count). A fake `docker` (`fake_docker`) stands for the engine.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_docker import bin_dir, docker_calls, install_fake_docker

from hera_utils.errors import ConfigurationError

__all__ = ["bin_dir"]  # a fixture of the tests below

SERVE = ("import http.server, sys\n"
         "class Hello(http.server.BaseHTTPRequestHandler):\n"
         "    def do_GET(self):\n"
         "        self.send_response(200); self.end_headers()\n"
         "        self.wfile.write(b'hello from the sidecar')\n"
         "    def log_message(self, *args): pass\n"
         "print('serving', flush=True)\n"
         "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Hello).serve_forever()\n")
FETCH = ("import sys, time, urllib.request\n"
         "for _ in range(600):\n"
         "    try:\n"
         "        page = urllib.request.urlopen(f'http://127.0.0.1:{sys.argv[1]}/', timeout=5)\n"
         "        print(page.read().decode()); break\n"
         "    except OSError:\n"
         "        time.sleep(0.05)\n"
         "else:\n"
         "    sys.exit(1)\n")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _workflow(name: str, template: dict[str, Any], *others: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", **template}, *others]}}


def _runs(calls: list[list[str]]) -> list[list[str]]:
    return [call for call in calls if call[0] == "run"]


def _name(call: list[str]) -> str:
    return call[call.index("--name") + 1]


@pytest.fixture
def docker(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (bin_dir / "python3").symlink_to(sys.executable)  # what the images' commands name
    return install_fake_docker(bin_dir, monkeypatch)


def test_a_sidecar_serves_the_main_container_on_localhost_and_is_stopped_after_it(
        run, docker, tmp_path):
    port = _free_port()
    workflow = _workflow("with-sidecar", {
        "container": {"image": "python:3", "command": ["python3", "-c", FETCH, str(port)]},
        "sidecars": [{"name": "web", "image": "python:3",
                      "command": ["python3", "-c", SERVE, str(port)]}]})

    result = run(workflow)

    assert result.phase == "Succeeded", result.message
    task = result.task("with-sidecar")
    assert task.result == "hello from the sidecar"
    assert task.log.read_text() == "hello from the sidecar\n"  # the main container's log
    calls = docker_calls(tmp_path)
    sidecar, main = _runs(calls)
    assert "-d" in sidecar and _name(sidecar).endswith("-web")
    # the main container joins the sidecar's network, as a pod's containers share one
    assert main[main.index("--network") + 1] == f"container:{_name(sidecar)}"
    assert "--network" not in sidecar
    stop = calls.index(next(call for call in calls if call[0] == "stop"))
    assert calls[stop][-1] == _name(sidecar) and stop > calls.index(main)
    assert ["rm", "-f", _name(sidecar)] in calls[stop:]
    sidecar_log = next(path for path in task.logs if path.name.endswith(".web.log"))
    assert "serving" in sidecar_log.read_text()


def test_a_sidecar_that_fails_by_itself_fails_the_pod_as_argo_reads_it(run, docker):
    # Argo ignores a sidecar's 137/143 (its stop), not another code (inferFailedReason).
    workflow = _workflow("failing-sidecar", {
        "container": {"image": "alpine", "command": ["sh", "-c", "echo main done"]},
        "sidecars": [{"name": "stubborn", "image": "alpine", "command": ["sh", "-c"],
                      "args": ["trap 'exit 3' TERM; while true; do sleep 0.05; done"]}]})

    result = run(workflow)

    assert result.phase == "Failed"
    assert result.task("failing-sidecar").message == "stubborn: Error (exit code 3)"
    assert result.task("failing-sidecar").result == "main done"


def test_a_sidecar_killed_at_its_stop_does_not_fail_the_pod(run, docker, tmp_path):
    # Without --init a container is PID 1 and ignores SIGTERM: the stop ends in SIGKILL
    # (137); here --init lets SIGTERM end it (143). Neither counts.
    workflow = _workflow("sidecars-stopped", {
        "container": {"image": "alpine", "command": ["sh", "-c", "echo ok"]},
        "sidecars": [{"name": "one", "image": "alpine", "command": ["sleep", "600"]},
                     {"name": "two", "image": "alpine", "command": ["sleep", "600"]}]})

    result = run(workflow)

    assert result.phase == "Succeeded", result.message
    runs = _runs(docker_calls(tmp_path))
    first, second, main = runs
    assert second[second.index("--network") + 1] == f"container:{_name(first)}"
    assert main[main.index("--network") + 1] == f"container:{_name(first)}"
    stopped = {call[-1] for call in docker_calls(tmp_path) if call[0] == "stop"}
    assert stopped == {_name(first), _name(second)}


def test_a_script_with_a_sidecar_reaches_it_on_the_host_network(run, docker, tmp_path):
    port = _free_port()
    workflow = _workflow("script-sidecar", {
        "script": {"image": "python:3", "command": ["python3"],
                   "source": FETCH.replace("sys.argv[1]", str(port))},
        "sidecars": [{"name": "web", "image": "python:3",
                      "command": ["python3", "-c", SERVE, str(port)]}]})

    result = run(workflow)

    assert result.phase == "Succeeded", result.message
    assert result.task("script-sidecar").result == "hello from the sidecar"
    (sidecar,) = _runs(docker_calls(tmp_path))
    assert sidecar[sidecar.index("--network") + 1] == "host"


def test_init_containers_run_in_order_before_the_main_container(run, docker, tmp_path):
    mounts = [{"name": "work", "mountPath": "/work-area"}]
    workflow = _workflow("init-order", {
        "container": {"image": "alpine", "command": ["cat", "/work-area/steps"],
                      "volumeMounts": mounts},
        "volumes": [{"name": "work", "emptyDir": {}}],
        "initContainers": [
            {"name": "first", "image": "alpine", "mirrorVolumeMounts": True,
             "command": ["sh", "-c", "echo first >> /work-area/steps"]},
            {"name": "second", "image": "alpine", "volumeMounts": mounts,
             "command": ["sh", "-c", "echo second >> /work-area/steps"]}]})

    result = run(workflow)

    assert result.phase == "Succeeded", result.message
    assert result.task("init-order").result == "first\nsecond"
    first, second, main = _runs(docker_calls(tmp_path))
    assert _name(first).endswith("-first") and _name(second).endswith("-second")
    volume = next(word for word in main if word.endswith(":/work-area"))
    assert volume in first and volume in second  # the pod's volume, theirs too


def test_a_failing_init_container_fails_the_pod_before_anything_else_runs(run, docker,
                                                                         tmp_path):
    workflow = _workflow("init-fails", {
        "container": {"image": "alpine", "command": ["echo", "never"]},
        "initContainers": [{"name": "hello", "image": "alpine", "command": ["sh", "-c"],
                            "args": ["echo checking; exit 2"]}],
        "sidecars": [{"name": "web", "image": "alpine", "command": ["sleep", "600"]}]})

    result = run(workflow)

    assert result.phase == "Failed"
    task = result.task("init-fails")
    assert task.message == "hello: Error (exit code 2)"  # Argo: "<container>: Error (...)"
    assert [_name(call)[-6:] for call in _runs(docker_calls(tmp_path))] == ["-hello"]
    init_log = next(path for path in task.logs if path.name.endswith(".hello.log"))
    assert "checking" in init_log.read_text()


def test_without_a_runtime_a_script_with_sidecars_is_not_runnable_here(run, bin_dir):
    workflow = _workflow("no-runtime", {
        "script": {"image": "python:3", "command": [sys.executable], "source": "print(1)"},
        "sidecars": [{"name": "web", "image": "nginx"}]})

    result = run(workflow)

    assert result.phase == "Error"
    assert result.task("no-runtime").message.startswith(
        "not runnable here: init containers and sidecars need a working docker or podman")


def test_stubbed_containers_stub_the_sidecars_of_a_script_which_still_runs(run, docker,
                                                                         tmp_path):
    workflow = _workflow("stubbed-sidecar", {
        "script": {"image": "python:3", "command": [sys.executable], "source": "print(41 + 1)"},
        "initContainers": [{"name": "setup", "image": "alpine"}],
        "sidecars": [{"name": "web", "image": "nginx"}]})

    result = run(workflow, stub_containers=True)

    assert result.phase == "Succeeded", result.message
    assert result.task("stubbed-sidecar").result == "42"
    assert docker_calls(tmp_path) == []


def test_a_sidecar_needs_a_name_and_an_image(run, bin_dir):
    workflow = _workflow("unnamed", {
        "container": {"image": "alpine", "command": ["true"]},
        "sidecars": [{"image": "nginx"}], "initContainers": [{"name": "setup"}]})

    with pytest.raises(ConfigurationError) as raised:
        run(workflow, stub_containers=True)

    assert "sidecars[0] needs a name" in raised.value.message
    assert "initContainers[0] (setup) needs an image" in raised.value.message


def test_in_containers_a_scripts_sidecar_shares_the_scripts_container_network(
        run, docker, tmp_path):
    workflow = _workflow("imaged-sidecar", {
        "script": {"image": "python:3", "command": ["python3"], "source": "print('ok')"},
        "sidecars": [{"name": "web", "image": "alpine", "command": ["sleep", "600"]}]})

    result = run(workflow, script_runtime="container")

    assert result.phase == "Succeeded", result.message
    sidecar, main = _runs(docker_calls(tmp_path))
    assert "--network" not in sidecar
    assert main[main.index("--network") + 1] == f"container:{_name(sidecar)}"


def test_a_main_container_past_its_deadline_still_has_its_sidecars_stopped(
        run, docker, tmp_path):
    workflow = _workflow("sidecar-deadline", {
        "container": {"image": "alpine", "command": ["sleep", "600"]},
        "activeDeadlineSeconds": 1,
        "sidecars": [{"name": "web", "image": "alpine", "command": ["sleep", "600"]}]})

    result = run(workflow)

    assert result.phase == "Failed"
    assert result.task("sidecar-deadline").message == "Step exceeded its deadline"
    calls = docker_calls(tmp_path)
    sidecar = _name(_runs(calls)[0])
    assert ["stop", "-t", "3", sidecar] in calls and ["rm", "-f", sidecar] in calls
