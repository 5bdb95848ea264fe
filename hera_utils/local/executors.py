"""Running one task attempt as a local process.

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
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .concurrency import Moment
from .reaper import TASK_MARKER, stop_escaped, task_end_threads
from .slots import ProcessSlots
from .workers import Workers

__all__ = [
    "RESULT_LIMIT",
    "ProcessOutcome",
    "process_slots",
    "python_interpreter",
    "result_text",
    "run_process",
    "start_failure",
]

# Argo keeps the last 256 kB of a task's stdout as `outputs.result`, after trimming one
# trailing newline (workflow/executor/executor.go, CaptureScriptResult).
RESULT_LIMIT = 256 * 1024
TERMINATE_GRACE = 3.0  # seconds between SIGTERM and SIGKILL when stopping a task
# A process's environment, or how to make it when the process starts.
Environment = dict[str, str] | Callable[[], dict[str, str]]
EXIT_LOOK = 0.2  # seconds between looks at whether a process whose stdout is open has ended
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


class _Attempt:
    """What the worker thread running an attempt shares with the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.process: subprocess.Popen[bytes] | None = None
        self.stop_requested = False  # set by the loop: the worker stops what it starts
        self.lock = threading.Lock()
        self.problem = ""  # why the process did not start
        self.error: BaseException | None = None  # a defect in the worker, re-raised
        # The start under way or over (it may wait for a slot), the worker's job over.
        self.started, self.ended = Moment(loop), Moment(loop)
        self.slot_passed = False  # set by the worker: the next in line has this one's slot


async def run_process(argv: list[str], *, env: Environment, cwd: str, log_path: Path,
                      workers: Workers, timeout: float | None = None,
                      live: list[subprocess.Popen[bytes]] | None = None,
                      after: Callable[[bool], None] | None = None,
                      cleanup: Callable[[], None] | None = None,
                      slots: ProcessSlots[_Job] | None = None,
                      on_start: Callable[[], None] | None = None) -> ProcessOutcome:
    """Run `argv` to its end, logging to `log_path`; kill it at `timeout` seconds.

    One pooled worker thread (from `workers`) opens the log, starts the process (the loop
    does, when no other process runs), copies its stdout, waits for it and calls
    `after(started)` (what a pod's wait container does once its main container ends:
    collect its outputs). The loop is woken once per attempt, when all that is done;
    `cleanup()` (removing the pod's file system) runs after that, off the path to the next
    task's start.
    With `slots`, the process first waits for a slot of the run's parallelism, which the
    thread of the process that frees it starts it in (`slots`); `on_start()` is then called
    on the loop, and `timeout` counts from there. Without, it starts at once, after
    `on_start()`. Cancellation (Ctrl-C, workflow deadline) withdraws a process still
    waiting, else terminates its process group, waits for the worker and re-raises. `live`,
    if given, lists the running processes (for a forced stop).
    """
    attempt, tail = _Attempt(asyncio.get_running_loop()), _Tail(RESULT_LIMIT)
    job = _Job(argv, env, cwd, log_path, tail, attempt, live, after, cleanup, slots)
    if slots is None or slots.request(job):  # a slot now: starts at once
        if on_start is not None:
            on_start()
        _start_now(job, workers, live)
    holds_slot = slots is not None
    try:
        timed_out = await _until_ended(attempt, timeout, on_start)
    except asyncio.CancelledError:
        if slots is not None and slots.withdraw(job):  # it never had a slot, nor started
            holds_slot = False
        else:
            await _stop(attempt)
        raise
    finally:
        if live is not None and attempt.process in live:
            live.remove(attempt.process)
        # The end is recorded now: a slot nobody waited for is free (`ProcessSlots.pass_on`).
        if holds_slot and attempt.ended.passed and not attempt.slot_passed:
            assert slots is not None
            slots.release()
    if attempt.error is not None:
        raise attempt.error
    if attempt.problem:
        return ProcessOutcome(exit_code=None, start_error=attempt.problem)
    if attempt.process is None:  # the deadline came before the process was started
        return ProcessOutcome(exit_code=None, timed_out=True)
    return ProcessOutcome(exit_code=_exit_code(attempt.process.returncode),
                          stdout=tail.value(), timed_out=timed_out)


async def _until_ended(attempt: _Attempt, timeout: float | None,
                       on_start: Callable[[], None] | None) -> bool:
    """Wait for the start (if in line for a slot: then `on_start()`) and the end of the
    attempt, stopping it at `timeout` seconds; whether it was."""
    if not attempt.started.passed:
        await attempt.started.wait()
        if on_start is not None:
            on_start()
    try:
        await (attempt.ended.wait() if timeout is None else
               asyncio.wait_for(attempt.ended.wait(), timeout))
    except asyncio.TimeoutError:
        await _stop(attempt)
        return True
    return False


def process_slots(limit: int, workers: Workers) -> ProcessSlots[_Job]:
    """The run's `limit` slots of parallelism, taken by `run_process(slots=...)`."""
    return ProcessSlots(limit, lambda job: workers.submit(job.run, True))


def _start_now(job: _Job, workers: Workers, live: list[subprocess.Popen[bytes]] | None
               ) -> None:
    """Have `job`'s process started now, and followed by a worker thread."""
    job.attempt.started.passed = True
    if live is not None and not live:
        # Nothing else runs (a chain of tasks): the cores are idle and so is the loop,
        # which starts the process itself rather than wait for a thread to wake up.
        job.start()
        workers.submit(job.follow_all)
    else:
        workers.submit(job.run, False)


class _Job:
    """A worker thread's part of an attempt: start the process, follow it to its end."""

    def __init__(self, argv: list[str], env: Environment, cwd: str, log_path: Path,
                 tail: _Tail, attempt: _Attempt, live: list[subprocess.Popen[bytes]] | None,
                 after: Callable[[bool], None] | None, cleanup: Callable[[], None] | None,
                 slots: ProcessSlots[_Job] | None) -> None:
        self.argv, self.cwd, self.log_path = argv, cwd, log_path
        self.make_env = env
        self.env: dict[str, str] = {}
        self.tail, self.attempt, self.live = tail, attempt, live
        self.after, self.cleanup = after, cleanup
        self.slots = slots
        self.log = -1

    def run(self, from_line: bool) -> None:
        """Start the process here, then follow it (and those its slot passes to); the loop
        is told of the start if the job waited in line."""
        self.start()
        if from_line:
            self._notify(self.attempt.started.set)
        self.follow_all()

    def follow_all(self) -> None:
        """Follow the process, then each one its slot passes to (`follow`)."""
        job: _Job | None = self
        while job is not None:
            job = job.follow()

    def start(self) -> None:
        """Open the log and start the process (unless the loop stopped the attempt)."""
        attempt = self.attempt
        try:
            with attempt.lock:
                stopped = attempt.stop_requested  # before this thread took the job
            # A bare descriptor: the child's stderr and our copy of its stdout append to it.
            self.log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND |
                               os.O_CLOEXEC, 0o666)
            if not stopped:
                # Made here, not in line: a request waiting for a slot holds no environment.
                self.env = self.make_env() if callable(self.make_env) else self.make_env
                attempt.problem = _start(self.argv, self.env, self.cwd, self.log, attempt,
                                         self.live)
        except BaseException as error:  # handed to the loop, raised there
            attempt.error = error

    def follow(self) -> _Job | None:
        """Follow the process to its end, collect its outputs (`after`), pass the slot on,
        tell the loop, then `cleanup`; the job the slot went to, started, to follow next.

        The next process in line starts from this thread, at once: no other thread, nor
        the loop, needs a core first, and this thread follows it too. The loop hears of
        this attempt's end before the next one's start (one wake-up for both), so their
        nodes' times are in order, as on Argo, where the slot is the pod's until its
        outputs are saved."""
        attempt = self.attempt
        following = None
        try:
            try:
                if attempt.process is not None:
                    _drain_and_wait(attempt.process, self.log, self.tail,
                                    self.env.get(TASK_MARKER, ""), self.live)
            finally:
                if self.log >= 0:
                    os.close(self.log)
            if self.after is not None and attempt.error is None:
                self.after(not attempt.problem and attempt.process is not None)
        except BaseException as error:  # handed to the loop, raised there
            attempt.error = error
        finally:
            if self.slots is not None:
                attempt.slot_passed, following = self.slots.pass_on()
                if following is not None:
                    following.start()
            self._notify(attempt.ended.set)
            if following is not None:
                self._notify(following.attempt.started.set)
            if self.cleanup is not None:
                with contextlib.suppress(OSError):
                    self.cleanup()
        return following

    def _notify(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self.attempt.loop.call_soon_threadsafe(callback)


def _start(argv: list[str], env: dict[str, str], cwd: str, log: int, attempt: _Attempt,
           live: list[subprocess.Popen[bytes]] | None) -> str:
    """Start the process (its own session, stderr to `log`); '' or why it did not start."""
    try:
        os.makedirs(cwd, exist_ok=True)  # a task's own directory, made off the loop
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=log, cwd=cwd, env=env, start_new_session=True)
    except OSError as error:
        problem = start_failure(argv[0], error) if os.path.isdir(cwd) else \
            f"cannot make the working directory {cwd}: {error.strerror or error}"
        os.write(log, (problem + "\n").encode())
        return problem
    if live is not None:
        live.append(process)  # list.append is atomic: the loop may read it at any time
    with attempt.lock:
        attempt.process = process
        stop = attempt.stop_requested
    if stop:  # stopped while it was starting
        _signal_group(process, signal.SIGKILL)
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


def _drain_and_wait(process: subprocess.Popen[bytes], log: int, tail: _Tail,
                    marker: str, live: list[subprocess.Popen[bytes]] | None) -> None:
    """Copy stdout to the log and the tail until it closes, then reap the process.

    What the process left running is stopped with it: its process group, and the
    descendants that left the group (`marker` names them, see `reaper`).
    """
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    exited_at: float | None = None
    next_look = time.monotonic() + EXIT_LOOK
    try:
        while True:
            ready, _, _ = select.select([descriptor], [], [], EXIT_LOOK)
            if ready:
                chunk = os.read(descriptor, 65536)
                if not chunk:
                    break
                os.write(log, chunk)
                tail.add(chunk)
                if time.monotonic() < next_look:
                    continue  # output flows: look at the process only now and then
            next_look = time.monotonic() + EXIT_LOOK
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


async def _stop(attempt: _Attempt) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after a grace period;
    return once the worker's job is over."""
    with attempt.lock:
        attempt.stop_requested = True
        process = attempt.process
    if process is not None:
        _signal_group(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(attempt.ended.wait(), TERMINATE_GRACE)
    except asyncio.TimeoutError:
        if attempt.process is not None:
            _signal_group(attempt.process, signal.SIGKILL)
        await attempt.ended.wait()


def force_kill(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGKILL every listed process group now (a second Ctrl-C)."""
    for process in list(processes):
        _signal_group(process, signal.SIGKILL)


def _exit_code(returncode: int | None) -> int | None:
    # A process killed by signal N reports -N; shells and Kubernetes report 128 + N.
    if returncode is not None and returncode < 0:
        return 128 - returncode
    return returncode
