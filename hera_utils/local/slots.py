"""The run's `parallelism`: how many pods (task processes) may run at once.

A slot is either handed to a start request (`request`: a job that starts a task's process
in a worker thread) or held by the event loop for a while (`acquire`, `release`: a
container set, a pod with init containers or sidecars, a container task). A request waits
in line when no slot is free. When a requested process ends, the worker thread that
followed it passes its slot on itself (`pass_on`), if one waits: it starts the next request's
process at once, and follows it, without waking the event loop or another thread. A wake-up takes
tens of microseconds of CPU, and on a machine whose cores all run tasks it waits for a core
(a millisecond or more): passing the slot this way keeps a freed slot from standing idle
between one task and the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ProcessSlots"]

Request = TypeVar("Request")  # a start request (`executors`): its process starts in a worker


class _Holder:
    """The event loop waiting for a slot to hold (`ProcessSlots.acquire`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.granted = False  # set under the lock: the slot is this holder's

    def grant(self) -> None:
        """(Any thread, under the lock.) Give the slot; the loop learns of it soon."""
        self.granted = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self.loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class ProcessSlots(Generic[Request]):
    """`limit` slots, shared by the event loop and the worker threads."""

    def __init__(self, limit: int, submit: Callable[[Request], None]) -> None:
        """`submit(request)` has a worker thread run a request that the loop frees a
        slot for (`release`)."""
        self._lock = threading.Lock()
        self._free = limit
        self._line: deque[Request | _Holder] = deque()
        self._submit = submit  # how a request given a slot by the loop reaches a worker

    def request(self, start: Request) -> bool:
        """(On the loop.) True if `start` has a slot now (the caller has it run); else it
        waits in line, and is run in a worker thread once a slot is passed to it."""
        with self._lock:
            if self._free == 0:
                self._line.append(start)
                return False
            self._free -= 1
            return True

    def withdraw(self, start: Request) -> bool:
        """(On the loop.) Take a waiting request out of line; False if it has its slot."""
        with self._lock:
            try:
                self._line.remove(start)
            except ValueError:
                return False
            return True

    def pass_on(self) -> tuple[bool, Request | None]:
        """(In the worker thread whose request's process has ended.) Give its slot to the
        first in line: (True, the request, which the caller runs itself), or (True, None)
        if the loop waited for it. (False, None) if nobody waits: the slot stays taken
        until the loop, once it has recorded the end, calls `release` (else a task it
        starts meanwhile would start before the one whose slot it took had ended)."""
        with self._lock:
            if not self._line:
                return False, None
            return True, self._next()

    def release(self) -> None:
        """(On the loop.) Give up a held slot; a request it goes to goes to a worker."""
        with self._lock:
            start = self._next()
        if start is not None:
            self._submit(start)

    async def acquire(self) -> None:
        """(On the loop.) Hold a slot (waiting in line for it) until `release`."""
        with self._lock:
            if self._free > 0:
                self._free -= 1
                return
            holder = _Holder(asyncio.get_running_loop())
            self._line.append(holder)
        try:
            await holder.future
        except asyncio.CancelledError:
            with self._lock:
                granted = holder.granted
                if not granted:
                    self._line.remove(holder)
            if granted:  # given at the moment it was cancelled: give it back
                self.release()
            raise

    def _next(self) -> Request | None:
        """(Under the lock.) Give a freed slot to the first in line; the request that takes
        it, for the caller to run, or None (a holder took it, or the slot is free)."""
        if not self._line:
            self._free += 1
            return None
        first = self._line.popleft()
        if isinstance(first, _Holder):
            first.grant()
            return None
        return first
