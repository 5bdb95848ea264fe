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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .reaper import TASK_MARKER, stop_escaped, task_end_threads

__all__ = [
    "RESULT_LIMIT",
    "ContainerRuntime",
    "ProcessOutcome",
    "container_run_command",
    "copy_from_container",
    "find_container_runtime",
    "mounts_in",
    "python_interpreter",
    "remove_container",
    "result_text",
    "run_process",
    "start_failure",
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


@dataclass
class _Attempt:
    """What the worker thread running an attempt shares with the event loop."""

    process: subprocess.Popen[bytes] | None = None
    stop_requested: bool = False  # set by the loop: the worker stops what it starts
    lock: threading.Lock = field(default_factory=threading.Lock)


async def run_process(argv: list[str], *, env: dict[str, str], cwd: str, log_path: Path,
                      workers: ThreadPoolExecutor, timeout: float | None = None,
                      live: list[subprocess.Popen[bytes]] | None = None) -> ProcessOutcome:
    """Run `argv` to its end, logging to `log_path`; kill it at `timeout` seconds.

    One pooled worker thread (from `workers`) opens the log, starts the process, copies
    its stdout and waits for it: the event loop spends none of a start's milliseconds and
    hands each attempt over once, which keeps a busy machine's wake-ups per task few.
    Cancellation (Ctrl-C, workflow deadline) terminates the process group, waits for it
    and re-raises. `live`, if given, lists the running processes (for a forced stop).
    """
    attempt, tail = _Attempt(), _Tail(RESULT_LIMIT)
    finished = asyncio.get_running_loop().run_in_executor(
        workers, _start_and_drain, argv, env, cwd, log_path, tail, attempt, live)
    timed_out = False
    try:
        try:
            problem = await asyncio.wait_for(asyncio.shield(finished), timeout)
        except asyncio.TimeoutError:
            timed_out = True
            await _stop(attempt, finished)
            problem = ""
    except asyncio.CancelledError:
        await _stop(attempt, finished)
        raise
    finally:
        if live is not None and attempt.process in live:
            live.remove(attempt.process)
    if problem:
        return ProcessOutcome(exit_code=None, start_error=problem)
    if attempt.process is None:  # the deadline came before a worker thread was free
        return ProcessOutcome(exit_code=None, timed_out=True)
    return ProcessOutcome(exit_code=_exit_code(attempt.process.returncode),
                          stdout=tail.value(), timed_out=timed_out)


def _start_and_drain(argv: list[str], env: dict[str, str], cwd: str, log_path: Path,
                     tail: _Tail, attempt: _Attempt,
                     live: list[subprocess.Popen[bytes]] | None) -> str:
    """Start and follow the process to its end (in a worker thread); '' or why it failed."""
    with open(log_path, "ab", buffering=0) as log:
        try:
            os.makedirs(cwd, exist_ok=True)  # a task's own directory, made off the loop
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=log, cwd=cwd, env=env, start_new_session=True)
        except OSError as error:
            problem = start_failure(argv[0], error) if os.path.isdir(cwd) else \
                f"cannot make the working directory {cwd}: {error.strerror or error}"
            log.write((problem + "\n").encode())
            return problem
        if live is not None:
            live.append(process)  # list.append is atomic: the loop may read it at any time
        with attempt.lock:
            attempt.process = process
            stop = attempt.stop_requested
        if stop:  # stopped while it was starting
            _signal_group(process, signal.SIGKILL)
        _drain_and_wait(process, log, tail, env.get(TASK_MARKER, ""), live)
    return ""


def start_failure(program: str, error: OSError) -> str:
    """Why `program` did not start, worded as the container runtime tells Argo (runc)."""
    if isinstance(error, FileNotFoundError) and os.sep not in program:
        return f'exec: "{program}": executable file not found in $PATH'
    if isinstance(error, FileNotFoundError):
        return f'exec: "{program}": stat {program}: no such file or directory'
    if isinstance(error, PermissionError):
        return f'exec: "{program}": permission denied'
    return f'exec: "{program}": {error.strerror or error}'


def _drain_and_wait(process: subprocess.Popen[bytes], log: BinaryIO, tail: _Tail,
                    marker: str, live: list[subprocess.Popen[bytes]] | None) -> None:
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
        # The other tasks' own processes are children too: no need to read theirs.
        stop_escaped(marker, exact=True, skip={p.pid for p in live or ()},
                     threads=task_end_threads(), groups=(process.pid,))


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


async def _stop(attempt: _Attempt, finished: asyncio.Future[str]) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after a grace period."""
    with attempt.lock:
        attempt.stop_requested = True
        process = attempt.process
    if process is not None:
        _signal_group(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(finished), TERMINATE_GRACE)
    except asyncio.TimeoutError:
        if attempt.process is not None:
            _signal_group(attempt.process, signal.SIGKILL)
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
                          mounts: list[tuple[str, str]], working_dir: str | None,
                          network: str | None = None, detach: bool = False) -> list[str]:
    """The `docker run`/`podman run` command line of a container template.

    Kubernetes' `command` replaces the image's entrypoint and `args` its command, hence
    `--entrypoint` with the first word of `command`. `--init` runs it as a child of an init
    process, as Argo's executor runs it: as PID 1 it would ignore the signals it sends
    itself (its default actions do not apply to PID 1). `network` is `host` or
    `container:<name>` (the network of a pod's other containers); `detach` starts it in the
    background (`-d`: the command returns once the container runs).
    """
    argv = [runtime.path, "run", "--init", *(["-d"] if detach else []), "--name", name]
    if network:
        argv += ["--network", network]
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


def mounts_in(argv: list[str]) -> list[tuple[str, str]]:
    """The (host, container path) volumes of a `container_run_command` command line."""
    mounts, index = [], 2  # after `docker run`, flags until the image
    while index < len(argv) and argv[index].startswith("-"):
        flag = argv[index]
        if flag in ("--init", "-d"):
            index += 1
            continue
        if flag == "-v" and index + 1 < len(argv):
            host, _, target = argv[index + 1].partition(":")
            mounts.append((host, target))
        index += 2
    return mounts
