"""Following a started task process to its end: stdout, exit, what it leaves behind.

A task's stdout is copied into its log and kept (the tail Argo keeps as `outputs.result`);
when its main process exits, its process group is killed, as the end of a container would
end it, and the descendants that left the group are found by their marker (`reaper`).
`Follower` does this from the event loop, through its selector (the stdout pipe, and a
pidfd that becomes readable at the exit); `drain_and_wait` from a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import subprocess
import time
from typing import BinaryIO

from .reaper import stop_escaped, task_end_threads

__all__ = ["EXIT_GRACE", "Follower", "Tail", "drain_and_wait", "signal_group"]

EXIT_GRACE = 2.0  # seconds stdout is still read once the task's main process has ended


class Tail:
    """The last `limit` bytes written to it (plus one, for the trailing newline trim)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit + 1
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        """Keep `chunk`, dropping what falls out of the limit."""
        self.data += chunk
        if len(self.data) > 2 * self.limit:  # trim rarely: amortised constant cost
            del self.data[: len(self.data) - self.limit]

    def value(self) -> bytes:
        """The bytes kept."""
        return bytes(self.data[-self.limit:])


class Follower:
    """Copies a process's stdout to its log and tail, from the event loop, until it ends.

    The same rules as `drain_and_wait`: when the main process exits, its group is killed
    (what it left behind would die with its container); stdout is read to its end, or for
    `EXIT_GRACE` seconds more if a process that left the group still holds it open.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, process: subprocess.Popen[bytes],
                 pidfd: int, log: BinaryIO, tail: Tail, marker: str,
                 live: list[subprocess.Popen[bytes]] | None,
                 finished: asyncio.Future[str]) -> None:
        assert process.stdout is not None
        self.loop, self.process, self.pidfd, self.log, self.tail = loop, process, pidfd, log, tail
        self.marker, self.live, self.finished = marker, live, finished
        self.stdout = process.stdout.fileno()
        self.reading = self.running = True
        self.grace: asyncio.TimerHandle | None = None
        os.set_blocking(self.stdout, False)
        loop.add_reader(self.stdout, self._read)
        loop.add_reader(pidfd, self._exited)

    def _read(self) -> None:
        try:
            chunk = os.read(self.stdout, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._stop_reading()
            return
        self.tail.add(chunk)
        try:
            self.log.write(chunk)
        except OSError as error:  # e.g. a full disk: the attempt fails, as in a thread
            if not self.finished.done():
                self.finished.set_exception(error)

    def _exited(self) -> None:
        self.loop.remove_reader(self.pidfd)
        self.running = False
        # As in `drain_and_wait`: what the main process left behind is stopped with it.
        signal_group(self.process, signal.SIGKILL)
        if self.reading:
            self.grace = self.loop.call_later(EXIT_GRACE, self._stop_reading)
        else:
            self._end()

    def _stop_reading(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.stdout)
        if self.grace is not None:
            self.grace.cancel()
        if not self.running:
            self._end()

    def _end(self) -> None:
        process = self.process
        try:
            assert process.stdout is not None
            process.stdout.close()
            os.close(self.pidfd)
            self.log.close()
            process.wait()  # it has exited: reaping does not block
            signal_group(process, signal.SIGKILL)
            stop_escaped(self.marker, exact=True, skip={p.pid for p in self.live or ()},
                         threads=task_end_threads(), groups=(process.pid,))
        finally:
            if not self.finished.done():
                self.finished.set_result("")


def drain_and_wait(process: subprocess.Popen[bytes], log: BinaryIO, tail: Tail,
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
                    signal_group(process, signal.SIGKILL)
            elif time.monotonic() - exited_at > EXIT_GRACE:
                break  # a process that left the group holds stdout: stop reading
    finally:
        process.stdout.close()
        process.wait()
        signal_group(process, signal.SIGKILL)
        # The other tasks' own processes are children too: no need to read theirs.
        stop_escaped(marker, exact=True, skip={p.pid for p in live or ()},
                     threads=task_end_threads(), groups=(process.pid,))


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Send `signum` to the process group of `process` (gone already: nothing to do)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
