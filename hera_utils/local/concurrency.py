"""Small asyncio helpers: gather with clean cancellation, optional semaphores."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any, TypeVar

from .values import parse_integer

__all__ = ["cancel_all", "gather", "limited", "semaphore_of"]

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


def semaphore_of(value: Any) -> asyncio.Semaphore | None:
    """A template's `parallelism` as a semaphore (None: no limit)."""
    limit = parse_integer(value)
    return asyncio.Semaphore(limit) if limit and limit > 0 else None


@contextlib.asynccontextmanager
async def limited(semaphore: asyncio.Semaphore | None) -> AsyncIterator[None]:
    """Hold `semaphore` for the block, if there is one."""
    if semaphore is None:
        yield
    else:
        async with semaphore:
            yield
