"""Small asyncio helpers: gather with clean cancellation, optional semaphores, one-shot
moments, a task's turn."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from .values import parse_integer

__all__ = ["FAIL_FAST_MESSAGE", "Moment", "Slots", "Turn", "cancel_all", "gather", "limited",
           "semaphore_of"]

T = TypeVar("T")


class HeldSlots(Protocol):
    """Slots the loop holds for a while (`asyncio.Semaphore`, `slots.ProcessSlots`)."""

    async def acquire(self) -> Any:
        """Wait for a slot and hold it."""

    def release(self) -> None:
        """Give the slot back."""


class Moment:
    """Something the loop waits for once (an attempt's start, its end): set on the loop.

    Lighter than `asyncio.Event`, which keeps a list of waiters: this one has one at most.
    Cancelling the wait leaves what it waits for going on."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.passed = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        """(On the loop.) It has come: wake whoever waits."""
        self.passed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self) -> None:
        """Until it has come."""
        if not self.passed:
            self._waiter = self.loop.create_future()
            await self._waiter


async def gather(coroutines: list[Awaitable[T]]) -> list[T]:
    """Run coroutines concurrently; if cancelled, cancel them all and wait for their cleanup."""
    futures = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return list(await asyncio.gather(*futures))
    except asyncio.CancelledError:
        await cancel_all(futures)
        raise


async def cancel_all(futures: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel the futures not done yet and wait until they have finished."""
    pending = [future for future in futures if not future.done()]
    for future in pending:
        future.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


FAIL_FAST_MESSAGE = "template has failed or errored children and failFast enabled"


class Slots(asyncio.Semaphore):
    """A template's `parallelism`, and its own `failFast`: once a child failed, `halted`
    tells the children still waiting for a slot not to start (the controller's
    `checkParallelism`)."""

    def __init__(self, value: int, *, fail_fast: bool = False) -> None:
        super().__init__(value)
        self.fail_fast = fail_fast
        self.halted = False


def semaphore_of(value: Any, *, fail_fast: Any = False) -> Slots | None:
    """A template's `parallelism` (and `failFast`) as a semaphore (None: no limit)."""
    limit = parse_integer(value)
    return Slots(limit, fail_fast=fail_fast is True) if limit and limit > 0 else None


class _Unlimited:
    """The context of a template without `parallelism`: nothing to hold."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *_: object) -> None:
        return None


_UNLIMITED = _Unlimited()


def limited(semaphore: asyncio.Semaphore | None) -> asyncio.Semaphore | _Unlimited:
    """What `async with` holds for the block: `semaphore`, if there is one."""
    return _UNLIMITED if semaphore is None else semaphore


class Turn:
    """A task's turn to run: the locks of the output paths it shares with other tasks (in
    order, so that two tasks never wait for each other), then a slot of the run's
    parallelism, if it takes one. `on_wait(path)` is told of a lock that is taken."""

    def __init__(self, locks: list[tuple[str, asyncio.Lock]], slots: HeldSlots | None,
                 on_wait: Callable[[str], None]) -> None:
        self.locks = locks
        self.slots = slots
        self.on_wait = on_wait
        self._held: list[asyncio.Lock] = []
        self._slot = False

    async def __aenter__(self) -> None:
        try:
            for path, lock in self.locks:
                if lock.locked():
                    self.on_wait(path)
                await lock.acquire()
                self._held.append(lock)
            if self.slots is not None:
                await self.slots.acquire()
                self._slot = True
        except BaseException:
            self._release()
            raise

    async def __aexit__(self, *_: object) -> None:
        self._release()

    def _release(self) -> None:
        if self._slot and self.slots is not None:
            self.slots.release()
            self._slot = False
        while self._held:
            self._held.pop().release()
