"""Running one task attempt as a local process, and finding a container runtime.

Each attempt is its own process in its own process group (session), so that stopping it
(deadline, Ctrl-C) stops everything it started, as the end of a container would. Its
stderr goes straight to the attempt's log file; its stdout passes through us into the same
file and is kept for `outputs.result`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .reaper import TASK_MARKER, stop_escaped

__all__ = [
    "RESULT_LIMIT",
    "ContainerRuntime",
    "ProcessOutcome",
    "container_run_command",
    "copy_from_container",
    "find_container_runtime",
    "python_interpreter",
    "remove_container",
    "result_text",
    "run_process",
]

# Argo keeps the last 256 kB of a task's stdout as `outputs.result`, after trimming one
# trailing newline (workflow/executor/executor.go, CaptureScriptResult).
RESULT_LIMIT = 256 * 1024
TERMINATE_GRACE = 3.0  # seconds between SIGTERM and SIGKILL when stopping a task
PROBE_TIMEOUT = 5.0  # seconds a container runtime has to answer `info`
_PYTHON = re.compile(r"^python(\d+(\.\d+)*)?$")


@dataclass
class ProcessOutcome:
    """How an attempt ended: exit code (None if it never started), stdout kept, deadline."""

    exit_code: int | None
    stdout: bytes = b""
    timed_out: bool = False
    start_error: str = ""


def python_interpreter(command: str) -> str:
    """`sys.executable` for `python`/`python3`/`python3.11`..., the command itself otherwise."""
    return sys.executable if _PYTHON.match(os.path.basename(command)) else command


def result_text(stdout: bytes) -> str:
    """`outputs.result` from a task's stdout, trimmed and capped as Argo does."""
    if stdout.endswith(b"\n"):
        stdout = stdout[:-1]
    if len(stdout) > RESULT_LIMIT:
        stdout = stdout[-RESULT_LIMIT:]
    return stdout.decode("utf-8", errors="replace")


class _Tail:
    """The last `limit` bytes written to it (plus one, for the trailing newline trim)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit + 1
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.limit:  # trim rarely: amortised constant cost
            del self.data[: len(self.data) - self.limit]

    def value(self) -> bytes:
        return bytes(self.data[-self.limit:])


async def run_process(argv: list[str], *, env: dict[str, str], cwd: str, log_path: Path,
                      workers: ThreadPoolExecutor, timeout: float | None = None,
                      live: list[subprocess.Popen[bytes]] | None = None) -> ProcessOutcome:
    """Run `argv` to its end, logging to `log_path`; kill it at `timeout` seconds.

    Pooled worker threads (from `workers`) start the process, copy its stdout and wait
    for it, so the event loop never spends a process start's milliseconds and starting a
    task costs no new thread. Cancellation (Ctrl-C, workflow deadline) terminates the
    process group, waits for it and re-raises. `live`, if given, lists the running
    processes (for a forced stop).
    """
    loop = asyncio.get_running_loop()
    with open(log_path, "ab", buffering=0) as log:
        started = loop.run_in_executor(workers, _start, argv, env, cwd, log)
        try:
            process = await asyncio.shield(started)
        except asyncio.CancelledError:
            await _abandon(started)
            raise
        if isinstance(process, str):
            log.write((process + "\n").encode())
            return ProcessOutcome(exit_code=None, start_error=process)
        if live is not None:
            live.append(process)
        tail = _Tail(RESULT_LIMIT)
        finished = loop.run_in_executor(workers, _drain_and_wait, process, log, tail,
                                        env.get(TASK_MARKER, ""))
        timed_out = False
        try:
            try:
                await asyncio.wait_for(asyncio.shield(finished), timeout)
            except asyncio.TimeoutError:
                timed_out = True
                await _stop(process, finished)
        except asyncio.CancelledError:
            await _stop(process, finished)
            raise
        finally:
            if live is not None and process in live:
                live.remove(process)
        return ProcessOutcome(exit_code=_exit_code(process.returncode), stdout=tail.value(),
                              timed_out=timed_out)


def _start(argv: list[str], env: dict[str, str], cwd: str, log: Any
           ) -> subprocess.Popen[bytes] | str:
    """The started process, or why it could not start (in a worker thread)."""
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=log, cwd=cwd, env=env, start_new_session=True)
    except OSError as error:
        return f"cannot start {argv[0]}: {error.strerror or error}"


async def _abandon(started: asyncio.Future[subprocess.Popen[bytes] | str]) -> None:
    """Stopped while the process was starting: let the start end, then kill what started."""
    process = await started
    if not isinstance(process, str):
        _signal_group(process, signal.SIGKILL)
        assert process.stdout is not None
        process.stdout.close()
        await asyncio.get_running_loop().run_in_executor(None, process.wait)


def _drain_and_wait(process: subprocess.Popen[bytes], log: Any, tail: _Tail,
                    marker: str) -> None:
    """Copy stdout to the log and the tail until it closes, then reap the process.

    What the process left running is stopped with it: its process group, and the
    descendants that left the group (`marker` names them, see `reaper`).
    """
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    exited_at: float | None = None
    try:
        while True:
            ready, _, _ = select.select([descriptor], [], [], 0.2)
            if ready:
                chunk = os.read(descriptor, 65536)
                if not chunk:
                    break
                log.write(chunk)
                tail.add(chunk)
            if exited_at is None:
                if process.poll() is not None:
                    # When the main process ends, its container would end too: stop what it
                    # left behind, which may still hold stdout open.
                    exited_at = time.monotonic()
                    _signal_group(process, signal.SIGKILL)
            elif time.monotonic() - exited_at > 2.0:
                break  # a process that left the group holds stdout: stop reading
    finally:
        process.stdout.close()
        process.wait()
        _signal_group(process, signal.SIGKILL)
        stop_escaped(marker)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


async def _stop(process: subprocess.Popen[bytes], finished: asyncio.Future[None]) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after a grace period."""
    _signal_group(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(finished), TERMINATE_GRACE)
    except asyncio.TimeoutError:
        _signal_group(process, signal.SIGKILL)
        await finished


def force_kill(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGKILL every listed process group now (a second Ctrl-C)."""
    for process in list(processes):
        _signal_group(process, signal.SIGKILL)


def _exit_code(returncode: int | None) -> int | None:
    # A process killed by signal N reports -N; shells and Kubernetes report 128 + N.
    if returncode is not None and returncode < 0:
        return 128 - returncode
    return returncode


# --------------------------------------------------------------------------- containers


@dataclass(frozen=True)
class ContainerRuntime:
    """A working `docker` or `podman` command line."""

    name: str
    path: str


_PROBES: dict[str, tuple[bool, str]] = {}


def find_container_runtime(preference: str | None = None, *, timeout: float = PROBE_TIMEOUT
                           ) -> tuple[ContainerRuntime | None, str]:
    """A container runtime that answers `info`, or None and the reason why there is none.

    `preference` is None/"auto" (docker, then podman), "none" (containers disabled), or a
    command name or path. Each probe's answer is cached per executable for the process.
    """
    if preference is not None and preference.strip().lower() == "none":
        return None, "containers are disabled (container_runtime='none')"
    candidates = ["docker", "podman"] if preference in (None, "", "auto") else [preference]
    reasons = []
    for candidate in candidates:
        path = shutil.which(candidate)
        if path is None:
            reasons.append(f"{candidate} is not on PATH")
            continue
        works, reason = _probe(path, timeout)
        if works:
            return ContainerRuntime(os.path.basename(candidate), path), ""
        reasons.append(reason)
    return None, "; ".join(reasons)


def _probe(path: str, timeout: float) -> tuple[bool, str]:
    cached = _PROBES.get(path)
    if cached is None:
        name = os.path.basename(path)
        try:
            completed = subprocess.run([path, "info"], stdin=subprocess.DEVNULL,
                                       capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            cached = (False, f"'{name} info' did not answer within {timeout:g}s")
        except OSError as error:
            cached = (False, f"cannot run {path}: {error.strerror or error}")
        else:
            if completed.returncode == 0:
                cached = (True, "")
            else:
                detail = completed.stderr.decode(errors="replace").strip().splitlines()
                first = f": {detail[-1][:200]}" if detail else ""
                cached = (False, f"'{name} info' failed (exit code {completed.returncode}){first}")
        _PROBES[path] = cached
    return cached


def container_run_command(runtime: ContainerRuntime, *, name: str, image: str,
                          command: list[str], args: list[str], env: dict[str, str],
                          mounts: list[tuple[str, str]], working_dir: str | None) -> list[str]:
    """The `docker run`/`podman run` command line of a container template.

    Kubernetes' `command` replaces the image's entrypoint and `args` its command, hence
    `--entrypoint` with the first word of `command`.
    """
    argv = [runtime.path, "run", "--name", name]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    for host, target in mounts:
        argv += ["-v", f"{host}:{target}"]
    if working_dir:
        argv += ["-w", working_dir]
    if command:
        argv += ["--entrypoint", command[0]]
    return [*argv, image, *command[1:], *args]


async def copy_from_container(runtime: ContainerRuntime, container: str, path: str,
                              local_path: str) -> None:
    """`docker cp container:path local_path` (a file the container wrote as an output)."""
    await _quiet_command([runtime.path, "cp", f"{container}:{path}", local_path])


async def remove_container(runtime: ContainerRuntime, container: str) -> None:
    """`docker rm -f container`: the container of a finished or stopped task."""
    await _quiet_command([runtime.path, "rm", "-f", container])


async def _quiet_command(argv: list[str], timeout: float = 60.0) -> None:
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except asyncio.TimeoutError:
            process.kill()
            raise
