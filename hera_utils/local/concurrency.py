"""Small asyncio helpers: gather with clean cancellation, optional semaphores."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any, TypeVar

from .values import parse_integer

__all__ = ["FAIL_FAST_MESSAGE", "Slots", "cancel_all", "gather", "limited", "semaphore_of"]

T = TypeVar("T")


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


@contextlib.asynccontextmanager
async def limited(semaphore: asyncio.Semaphore | None) -> AsyncIterator[None]:
    """Hold `semaphore` for the block, if there is one."""
    if semaphore is None:
        yield
    else:
        async with semaphore:
            yield
