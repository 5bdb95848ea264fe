"""The threads that follow a run's task processes: one per running process, reused.

A process is started, read and waited for by a thread of its own (see `executors`), so a
run needs as many threads as it has processes running at once: its parallelism, plus its
daemons, sidecars and init containers, which take no slot. The pool therefore has no upper
bound (a bound would make a run with more daemons than threads wait for ever); it starts a
thread only when none is idle, so it holds as many threads as were ever busy at once.
Handing a job over is a lock and a queue put, with no future object: the job tells its
caller itself that it is done (`executors.run_process`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Workers"]

SHUTDOWN_WAIT = 5.0  # seconds the end of a run waits for jobs still cleaning up


class Workers:
    """An unbounded pool of reusable threads running `submit`ted jobs."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = \
            queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads done with their job and not yet promised another
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, job: Callable[..., Any], *args: Any) -> None:
        """Run `job(*args)` in a thread of the pool (a new one if none is idle)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the run's worker threads are shut down")
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1  # that idle thread will take this job from the queue
        self._jobs.put((job, args))
        if spawn:
            thread = threading.Thread(target=self._serve, daemon=True,
                                      name=f"{self._name}_{len(self._threads)}")
            self._threads.append(thread)
            thread.start()

    def shutdown(self, timeout: float = SHUTDOWN_WAIT) -> None:
        """End every thread once the jobs queued before are done; wait for them (at most
        `timeout` seconds in all: a job still at work after that is left to finish)."""
        with self._lock:
            self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _serve(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, args = item
            job(*args)  # a job handles its own errors (`executors._job`)
            with self._lock:
                self._idle += 1
