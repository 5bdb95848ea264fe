"""Daemon tasks and steps (`daemon: true`): kept running until their scope ends.

As in Argo's controller, a daemon's node is `Running` and daemoned once its process runs,
so that the tasks after it start (a bare `depends` name accepts `Daemoned`) and see its
`{{tasks.X.ip}}` or `{{steps.X.ip}}`. Every process of a local run shares this machine's
network, so that address is the loopback one, 127.0.0.1. When the DAG or steps node that
started the daemon ends, the daemon is stopped as other stops are (SIGTERM, a grace
period, SIGKILL) and its node Succeeded (operator.go, `killDaemonedChildren`). A daemon
that exits by itself before that has failed: a daemon is meant to run until stopped.

A daemon with a `readinessProbe` (`tcpSocket` or `httpGet` on a port number) is ready
once the probe passes against 127.0.0.1, tried often within the probe's window
(`initialDelaySeconds` + `failureThreshold` x `periodSeconds`, Kubernetes' defaults
0 + 3 x 10 s); a probe that never passes is told, and the daemon taken as ready anyway
(waiting for ever would only hang the run). Without a probe, Kubernetes calls a running
container ready; on a cluster the pods after it take seconds to start, so a client that
connects once finds the server up. Here they would start at once: so a daemon without a
probe is ready once a new TCP port listens on this machine (read from /proc/net on Linux)
or after `SETTLE_SECONDS`, whichever comes first.
A daemon takes none of the run's slots of parallelism (its node's `pod_ip`, set before it
starts, tells `pods` so): it mostly waits, and holding a slot until its scope ends would
leave the tasks it serves none on a machine of few cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from .nodes import Node
from .values import parse_integer

__all__ = ["LOOPBACK", "Daemons"]

LOOPBACK = "127.0.0.1"
SETTLE_SECONDS = 2.0
_PROC_NET = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


class Daemons:
    """The daemons of one run, by the DAG or steps node (scope) that started them."""

    def __init__(self, notice: Callable[[str], None]) -> None:
        self._by_scope: dict[int, list[asyncio.Future[Any]]] = {}
        self._notice = notice

    async def run(self, node: Node, attempt: Coroutine[Any, Any, None],
                  spec: Mapping[str, Any] | None = None) -> None:
        """Run a daemon's attempt as node `node`; return once it is ready (or has ended).

        `spec` is the template's container or script, whose `readinessProbe` is tried.
        """
        loop = asyncio.get_running_loop()
        running: asyncio.Future[None] = loop.create_future()
        node.pod_ip = LOOPBACK
        if node.attempt_of is not None:
            node.attempt_of.pod_ip = LOOPBACK
        earlier = node.on_start

        def started(started_node: Node) -> None:
            if earlier is not None:
                earlier(started_node)
            if not running.done():
                running.set_result(None)

        node.on_start = started
        listening = _listening()  # before the daemon starts: what it opens is new
        task = asyncio.ensure_future(attempt)
        probe = (spec or {}).get("readinessProbe")
        try:
            await asyncio.wait({task, running}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done() and isinstance(probe, dict):
                await self._ready(node, task, probe)
            elif not task.done():
                await _settled(task, listening)
        except asyncio.CancelledError:  # the run is stopped before the daemon is ready
            await _stop(task)
            raise
        finally:
            running.cancel()
        if task.done():
            task.result()  # an attempt that ended already (a stub, an error): nothing kept
            return
        nodes = [node] if node.attempt_of is None else [node, node.attempt_of]
        for daemon_node in nodes:
            daemon_node.daemoned = True

        def ended(_: asyncio.Future[Any]) -> None:
            for daemon_node in nodes:
                daemon_node.daemoned = False
            if node.attempt_of is not None and node.fulfilled:
                node.attempt_of.finish(node.phase, node.message)  # its Retry node ends too

        task.add_done_callback(ended)
        self._by_scope.setdefault(_key(node.boundary), []).append(task)

    async def stop(self, scope: Node | None) -> None:
        """Stop the daemons that scope `scope` started (its node has ended)."""
        for task in self._by_scope.pop(_key(scope), []):
            await _stop(task)

    async def stop_all(self) -> None:
        """Stop every daemon still running (the run is over)."""
        while self._by_scope:
            _, tasks = self._by_scope.popitem()
            for task in tasks:
                await _stop(task)


    async def _ready(self, node: Node, task: asyncio.Future[Any],
                     probe: Mapping[str, Any]) -> None:
        """Wait until `probe` passes, the attempt ends, or the probe's window is over."""
        check = _probe_check(probe)
        if check is None:
            return  # an exec probe, or a named port: not tried here
        window = (_seconds(probe, "initialDelaySeconds", 0)
                  + _seconds(probe, "failureThreshold", 3) * _seconds(probe, "periodSeconds", 10))
        until = time.monotonic() + window
        while not task.done():
            if await asyncio.to_thread(check):
                return
            if time.monotonic() > until:
                self._notice(f"daemon {node.display_name}: its readiness probe did not pass "
                             f"within {window:g}s; taken as ready")
                return
            await asyncio.wait({task}, timeout=0.05)


async def _settled(task: asyncio.Future[Any], before: frozenset[str]) -> None:
    """Wait until a TCP port not in `before` listens in a task process of this run (not in
    another program of the machine), the attempt ends, or the settle time."""
    until = time.monotonic() + SETTLE_SECONDS
    while not task.done() and time.monotonic() < until:
        if await asyncio.to_thread(_a_child_listens, before):
            return
        await asyncio.wait({task}, timeout=0.05)


def _a_child_listens(before: frozenset[str]) -> bool:
    """Whether a socket listening now, and not in `before`, is held by a child process."""
    new = {inode for address, inode in _listening_sockets() if address not in before}
    return bool(new) and bool(new & _children_sockets())


def _listening() -> frozenset[str]:
    """The local addresses of this machine's listening TCP sockets (none known: empty)."""
    return frozenset(address for address, _ in _listening_sockets())


def _listening_sockets() -> list[tuple[str, str]]:
    """(local address, socket inode) of each listening TCP socket of this machine."""
    found = []
    for table in _PROC_NET:
        try:
            rows = table.read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A":  # TCP_LISTEN
                found.append((fields[1], fields[9]))
    return found


def _children_sockets() -> set[str]:
    """The socket inodes held by this process's descendants (the tasks' processes)."""
    sockets: set[str] = set()
    pending, seen = [os.getpid()], set()
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            with contextlib.suppress(OSError, ValueError):
                pending.extend(int(child) for child in children.read_text().split())
        if pid == os.getpid():
            continue  # this process's own servers are not a daemon's
        with contextlib.suppress(OSError):
            for descriptor in os.scandir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(descriptor.path)
                    if link.startswith("socket:["):
                        sockets.add(link[8:-1])
    return sockets


def _probe_check(probe: Mapping[str, Any]) -> Callable[[], bool] | None:
    """A function trying `probe` once against this machine (None: not a probe tried here)."""
    for kind in ("tcpSocket", "httpGet"):
        action = probe.get(kind)
        if not isinstance(action, dict):
            continue
        port = parse_integer(action.get("port"))
        if port is None:
            continue
        path = str(action.get("path") or "/") if kind == "httpGet" else None
        return lambda: _answers(port, path)
    return None


def _answers(port: int, path: str | None) -> bool:
    """Whether 127.0.0.1:`port` accepts a connection (and, for `path`, answers 2xx/3xx)."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=1)
    try:
        connection.connect()
        if path is None:
            return True
        connection.request("GET", path)
        return 200 <= connection.getresponse().status < 400
    except (OSError, http.client.HTTPException):
        return False
    finally:
        with contextlib.suppress(OSError):
            connection.close()


def _seconds(probe: Mapping[str, Any], key: str, default: float) -> float:
    value = parse_integer(probe.get(key)) if probe.get(key) is not None else None
    return float(value) if value is not None else default


def _key(scope: Node | None) -> int:
    return 0 if scope is None else id(scope)


async def _stop(task: asyncio.Future[Any]) -> None:
    """Cancel a daemon's attempt: its process is stopped, its node finished (`pods`)."""
    task.cancel()
    # `wait`, not `await task`: a cancellation of the caller itself still reaches it.
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved, so that an attempt's failure is not reported twice
