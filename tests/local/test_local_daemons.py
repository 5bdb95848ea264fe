"""Daemon tasks and steps in local runs, modelled on Argo's (`dag-daemon-task.yaml`,
`daemon-step.yaml`, `daemoned-pod-completed.yaml`, operator.go's killDaemonedChildren)."""

from __future__ import annotations

import os
import socket

import pytest

from hera_utils.local import executors

PY = {"image": "python:3.12", "command": ["python"]}


def wf(templates: list[dict], entry: str = "main") -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "daemons"},
            "spec": {"entrypoint": entry, "templates": templates}}


def script(name: str, source: str, **extra) -> dict:
    return {"name": name, "script": {**PY, "source": source}, **extra}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server(port: int, stopped: os.PathLike, *, on_term: str = "sys.exit(0)",
           delay: float = 0.0) -> dict:
    """A daemon answering `pong` on `port` (after `delay` s), noting in `stopped` that it
    got SIGTERM."""
    source = f"""
import http.server, os, signal, sys, time
time.sleep({delay})
def stop(*_):
    open({str(stopped)!r}, 'w').write(str(os.getpid()))
    {on_term}
signal.signal(signal.SIGTERM, stop)
class Pong(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'pong')
    def log_message(self, *_):
        pass
http.server.HTTPServer(('127.0.0.1', {port}), Pong).serve_forever()
"""
    return script("server", source, daemon=True)


def client(port: int) -> dict:
    """Asks the daemon at `{{inputs.parameters.ip}}` (it may take a moment to listen)."""
    source = f"""
import time, urllib.request
for _ in range(200):
    try:
        url = 'http://{{{{inputs.parameters.ip}}}}:{port}/'
        print(urllib.request.urlopen(url, timeout=2).read().decode())
        break
    except OSError:
        time.sleep(0.02)
"""
    return script("client", source, inputs={"parameters": [{"name": "ip"}]})


def served_dag() -> dict:
    """A DAG whose client task depends on its server task and is given the server's ip."""
    return {"name": "main", "dag": {"tasks": [
        {"name": "server", "template": "server"},
        {"name": "client", "template": "client", "depends": "server",
         "arguments": {"parameters": [{"name": "ip", "value": "{{tasks.server.ip}}"}]}}]}}


def test_a_dag_daemon_serves_later_tasks_and_is_stopped_with_its_dag(run, tmp_path) -> None:
    port, stopped = free_port(), tmp_path / "stopped"
    dag = served_dag()
    result = run(wf([dag, server(port, stopped), client(port)]))
    assert result.succeeded, result.message
    assert result.task("client").inputs == {"ip": "127.0.0.1"}
    assert result.task("client").result == "pong"
    # killDaemonedChildren: stopped (SIGTERM) once its DAG ended, then Succeeded.
    assert stopped.exists()
    assert result.task("server").phase == "Succeeded"


def test_a_steps_daemon_is_stopped_when_its_steps_end_before_what_follows(run, tmp_path
                                                                         ) -> None:
    port, stopped = free_port(), tmp_path / "stopped"
    inner = {"name": "inner", "steps": [
        [{"name": "server", "template": "server"}],
        [{"name": "client", "template": "client",
          "arguments": {"parameters": [{"name": "ip", "value": "{{steps.server.ip}}"}]}}]]}
    after = script("after", f"import os; print(os.path.exists({str(stopped)!r}))")
    main = {"name": "main", "steps": [[{"name": "inner", "template": "inner"}],
                                      [{"name": "after", "template": "after"}]]}
    result = run(wf([main, inner, after, server(port, stopped), client(port)]))
    assert result.succeeded, result.message
    assert result.task("client").result == "pong"
    assert result.task("after").result == "True"  # the inner scope stopped its daemon
    assert result.task("server").phase == "Succeeded"


def test_a_daemon_that_ignores_sigterm_is_killed(run, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(executors, "TERMINATE_GRACE", 0.2)
    port, stopped = free_port(), tmp_path / "stopped"
    dag = served_dag()
    result = run(wf([dag, server(port, stopped, on_term="pass"), client(port)]))
    assert result.succeeded, result.message
    pid = int(stopped.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_daemon_that_exits_by_itself_has_failed(run, monkeypatch) -> None:
    # operator.go: "Daemoned pod succeeded. Marking it as failed".
    from hera_utils.local import daemons

    monkeypatch.setattr(daemons, "SETTLE_SECONDS", 0.1)
    quick = script("quick", "import time; time.sleep(0.3)", daemon=True)
    wait = script("wait", "import time; time.sleep(0.8)")
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "quick", "template": "quick"},
        {"name": "wait", "template": "wait", "depends": "quick"}]}}
    result = run(wf([dag, quick, wait]))
    assert result.task("quick").phase == "Failed"
    assert result.task("wait").phase == "Succeeded"  # it started while quick was daemoned


def test_a_daemon_that_ends_before_it_is_ready_never_serves(run) -> None:
    quick = script("quick", "print('done')", daemon=True)
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "quick", "template": "quick"},
        {"name": "after", "template": "after", "depends": "quick"}]}}
    result = run(wf([dag, quick, script("after", "print('after')")]))
    assert result.phase == "Failed"
    assert (result.task("quick").phase, result.task("after").phase) == ("Failed", "Omitted")


def test_a_stubbed_daemon_container_is_stubbed_and_gives_its_address(run) -> None:
    influx = {"name": "influx", "daemon": True, "container": {"image": "influxdb:1.2"}}
    use = script("use", "print('{{inputs.parameters.ip}}')",
                 inputs={"parameters": [{"name": "ip"}]})
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "influx", "template": "influx"},
        {"name": "use", "template": "use", "depends": "influx",
         "arguments": {"parameters": [{"name": "ip", "value": "{{tasks.influx.ip}}"}]}}]}}
    result = run(wf([dag, influx, use]), stub_containers=True)
    assert result.succeeded, result.message
    assert result.task("influx").stubbed
    assert result.task("use").result == "127.0.0.1"


def test_only_a_pod_template_can_be_a_daemon(run) -> None:
    from hera_utils.errors import ConfigurationError

    inner = {"name": "inner", "daemon": True, "steps": [[{"name": "a", "template": "a"}]]}
    main = {"name": "main", "steps": [[{"name": "inner", "template": "inner"}]]}
    with pytest.raises(ConfigurationError, match="only a script or container template"):
        run(wf([main, inner, script("a", "print(1)")]))


def test_a_retried_daemon_ends_with_its_retry_node(run, tmp_path) -> None:
    # dag-daemon-retry-strategy.yaml: the Retry node is the task, daemoned as its attempt.
    port, stopped = free_port(), tmp_path / "stopped"
    retried = {**server(port, stopped), "retryStrategy": {"limit": 2}}
    dag = served_dag()
    result = run(wf([dag, retried, client(port)]))
    assert result.succeeded, result.message
    assert result.task("client").result == "pong"
    server_task = result.task("server")
    assert (server_task.phase, server_task.attempts) == ("Succeeded", 1)


def test_a_daemon_leaves_the_only_slot_to_the_tasks_it_serves(run, tmp_path) -> None:
    port, stopped = free_port(), tmp_path / "stopped"
    dag = served_dag()
    workflow = wf([dag, server(port, stopped), client(port)])
    workflow["spec"]["activeDeadlineSeconds"] = 30  # were the slot held: fail, not hang
    result = run(workflow, parallelism=1)
    assert result.succeeded, result.message
    assert result.task("client").result == "pong"


def test_more_daemons_than_slots_all_run_beside_the_task_they_serve(run, tmp_path) -> None:
    # Each running process has a thread of its own: four daemons and their client at
    # parallelism 1 need five at once.
    ports = [free_port() for _ in range(4)]
    servers = [{**server(port, tmp_path / f"stopped-{i}"), "name": f"server-{i}"}
               for i, port in enumerate(ports)]
    asks = "".join(f"print(ask({port}))\n" for port in ports)
    source = f"""
import time, urllib.request
def ask(port):  # patient: a loaded machine starts five interpreters slowly
    for _ in range(500):
        try:
            return urllib.request.urlopen(f'http://127.0.0.1:{{port}}/', timeout=2).read().decode()
        except OSError:
            time.sleep(0.05)
{asks}"""
    dag = {"name": "main", "dag": {"tasks": [
        *({"name": f"server-{i}", "template": f"server-{i}"} for i in range(4)),
        {"name": "client", "template": "client",
         "dependencies": [f"server-{i}" for i in range(4)]}]}}
    workflow = wf([dag, *servers, script("client", source)])
    workflow["spec"]["activeDeadlineSeconds"] = 90  # were a thread missing: fail, not hang
    result = run(workflow, parallelism=1)
    client_log = result.task("client").log
    assert result.succeeded, (result.message, client_log and client_log.read_text())
    assert result.task("client").result.split() == ["pong"] * 4


def test_a_run_stopped_at_its_deadline_stops_its_daemon_too(run, tmp_path) -> None:
    port, stopped = free_port(), tmp_path / "stopped"
    slow = script("slow", "import time; time.sleep(60)")
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "server", "template": "server"},
        {"name": "slow", "template": "slow", "depends": "server"}]}}
    workflow = wf([dag, server(port, stopped), slow])
    workflow["spec"]["activeDeadlineSeconds"] = 1
    result = run(workflow)
    assert result.phase == "Failed"
    assert stopped.exists()
    assert result.task("server").phase == "Failed"  # stopped by the run, not by its scope
    assert "Running" not in {task.phase for task in result.tasks}


def test_a_daemon_with_a_readiness_probe_is_ready_once_it_passes(run, tmp_path) -> None:
    # daemon-nginx.yaml: the client asks once, after the probe has passed.
    port, stopped = free_port(), tmp_path / "stopped"
    probed = server(port, stopped, delay=0.3)
    probed["script"]["readinessProbe"] = {"httpGet": {"path": "/", "port": port},
                                          "initialDelaySeconds": 2, "timeoutSeconds": 1}
    once = script("client", "import urllib.request\nprint(urllib.request.urlopen("
                  f"'http://{{{{inputs.parameters.ip}}}}:{port}/', timeout=2).read().decode())",
                  inputs={"parameters": [{"name": "ip"}]})
    steps = {"name": "main", "steps": [
        [{"name": "server", "template": "server"}],
        [{"name": "client", "template": "client",
          "arguments": {"parameters": [{"name": "ip", "value": "{{steps.server.ip}}"}]}}]]}
    result = run(wf([steps, probed, once]))
    assert result.succeeded, result.message
    assert result.task("client").result == "pong"


def once(port: int) -> dict:
    """A client that asks once, as Hera's daemon example does."""
    return script("client", "import urllib.request\nprint(urllib.request.urlopen("
                  f"'http://{{{{inputs.parameters.ip}}}}:{port}/', timeout=2).read().decode())",
                  inputs={"parameters": [{"name": "ip"}]})


def test_a_daemon_without_a_probe_is_ready_once_it_listens(run, tmp_path) -> None:
    # On a cluster the client's pod starts seconds later; here it waits for the listener.
    port, stopped = free_port(), tmp_path / "stopped"
    dag = served_dag()
    result = run(wf([dag, server(port, stopped, delay=0.3), once(port)]))
    assert result.succeeded, result.message
    assert result.task("client").result == "pong"


def test_a_daemon_that_never_listens_is_ready_after_the_settle_time(run, tmp_path,
                                                                   monkeypatch) -> None:
    from hera_utils.local import daemons

    monkeypatch.setattr(daemons, "SETTLE_SECONDS", 0.2)
    quiet = script("quiet", "import time; time.sleep(60)", daemon=True)
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "quiet", "template": "quiet"},
        {"name": "after", "template": "after", "depends": "quiet"}]}}
    result = run(wf([dag, quiet, script("after", "print('after')")]))
    assert result.succeeded, result.message
    assert result.task("after").result == "after"
    assert result.task("quiet").phase == "Succeeded"


def test_only_a_port_opened_by_a_task_process_makes_a_daemon_ready(tmp_path) -> None:
    # Another program opening a port (here: this process, as a test server) is no sign.
    import subprocess
    import sys
    import time

    from hera_utils.local import daemons

    if not sys.platform.startswith("linux"):
        pytest.skip("listening sockets are read from /proc")
    before = daemons._listening()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert not daemons._a_child_listens(before)
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", (
        "import socket, time, pathlib\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\n"
        f"s.listen()\npathlib.Path({str(ready)!r}).touch()\ntime.sleep(30)")])
    try:
        while not ready.exists() and child.poll() is None:
            time.sleep(0.02)
        assert daemons._a_child_listens(before)
    finally:
        child.kill()
        child.wait()
