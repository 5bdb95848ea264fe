"""Stopping what a task leaves behind, even when it escapes its process group.

A task runs in a process group of its own, which the runner stops when the task ends. A
process that calls `setsid` or forks twice leaves that group; in a pod it would die with
the container. To do the same here, the runner becomes a "child subreaper" for the length
of a run (Linux's `PR_SET_CHILD_SUBREAPER`): an orphaned descendant of a task is then
re-parented to the runner instead of to init, and is recognised by the marker that every
task process carries in its environment (`HERA_UTILS_LOCAL_TASK`, inherited by whatever it
starts). Elsewhere than on Linux, only the process group is stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

__all__ = ["TASK_MARKER", "become_subreaper", "stop_escaped", "task_end_threads"]

TASK_MARKER = "HERA_UTILS_LOCAL_TASK"

_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


@contextlib.contextmanager
def become_subreaper() -> Iterator[bool]:
    """Make this process the subreaper of its descendants for the block; yields success."""
    prctl = _prctl()
    if prctl is None:
        yield False
        return
    previous = ctypes.c_int(0)
    prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(previous), 0, 0, 0)
    enabled = prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield enabled
    finally:
        if enabled and not previous.value:
            prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def stop_escaped(marker_prefix: str, *, exact: bool = False, skip: Collection[int] = (),
                 threads: Collection[int] | None = None, groups: Collection[int] = ()) -> int:
    """SIGKILL and reap the children of this process whose task marker starts so.

    With `exact`, the marker must be `marker_prefix` itself (one task's: `run:1` is not
    `run:12`). Only processes re-parented here (see `become_subreaper`) and carrying the
    marker are touched; the pids in `skip` (the running tasks' own processes) are not even
    read. `threads` limits the search to the children of these threads (default: all).
    A zombie shows no environment: a child in a process group of `groups` (the task's,
    whose end killed it) is reaped too, zombie already or still dying, or it would stay a
    zombie until this process ends. Returns how many were stopped.
    """
    if not marker_prefix or not sys.platform.startswith("linux"):
        return 0
    needle = f"{TASK_MARKER}={marker_prefix}".encode()
    stopped = 0
    for pid in _children(threads):
        if pid in skip:
            continue
        in_group = bool(groups) and _group_of(pid) in groups
        if not (in_group or _carries(pid, needle, exact=exact)):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            stopped += 1
        _reap(pid)
    return stopped


REAP_WAIT = 0.5  # seconds a killed child may take to die before it is left to the kernel


def _reap(pid: int) -> None:
    """Wait for a child that was sent SIGKILL, a bounded time (one stuck in the kernel)."""
    deadline = time.monotonic() + REAP_WAIT
    with contextlib.suppress(ChildProcessError, OSError):
        while os.waitpid(pid, os.WNOHANG) == (0, 0) and time.monotonic() < deadline:
            time.sleep(0.0005)


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


def task_end_threads() -> tuple[int, ...]:
    """The threads an escaped process of a task run by this thread is re-parented to.

    Linux gives an orphan to the first live thread of its subreaper (the main thread);
    older kernels gave it to the thread that started its ancestor (this one).
    """
    return (os.getpid(), threading.get_native_id())


def _children(threads: Collection[int] | None = None) -> set[int]:
    """The pids of the children of this process's `threads` (default: all of them).

    Read with plain `os` calls: this runs after every task, so it is kept cheap.
    """
    pids: set[int] = set()
    if threads is None:
        try:
            threads = [int(name) for name in os.listdir("/proc/self/task")]
        except (OSError, ValueError):
            return pids
    for thread in dict.fromkeys(threads):
        with contextlib.suppress(OSError, ValueError):
            descriptor = os.open(f"/proc/self/task/{thread}/children", os.O_RDONLY)
            try:
                listed = b"".join(iter(functools.partial(os.read, descriptor, 65536), b""))
            finally:
                os.close(descriptor)
            pids.update(int(word) for word in listed.split())
    return pids


def _group_of(pid: int) -> int | None:
    """The process group of `pid`, a zombie's too (None if it is gone)."""
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _carries(pid: int, needle: bytes, *, exact: bool) -> bool:
    try:
        environment = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    # Variables are NUL-separated; the marker's value must be, or start with, the needle.
    if exact:
        return needle in environment.split(b"\0")
    return any(entry.startswith(needle) for entry in environment.split(b"\0"))
