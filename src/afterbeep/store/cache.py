"""Database reads reused for a few seconds, without stampedes.

Every call looks its mailbox up; at hundreds of calls a second, the moment a cached value
expired every call arriving during the new read made its own read, each queued behind the
others (and on SQLite behind the one writer): answers took seconds and the service fell over.
So one read per key is in flight at a time, and callers that miss together share it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, size: int) -> None:
        self._ttl = ttl
        self._size = size
        self._values: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}
        self._generation = 0  # a read begun before a ``clear``/``discard`` is not kept

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        hit = self._values.get(key)
        if hit is not None and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        task = self._loading.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load(key, load))
            task.add_done_callback(_retrieve)
            self._loading[key] = task
        return await asyncio.shield(task)  # a caller cancelled does not cancel the others

    def discard(self, key: K) -> None:
        self._values.pop(key, None)
        self._generation += 1

    def clear(self) -> None:
        self._values.clear()
        self._generation += 1

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        generation = self._generation
        try:
            value = await load()
        finally:
            self._loading.pop(key, None)
        if generation == self._generation:
            if len(self._values) >= self._size:
                self._values.clear()  # scanners dialling random numbers must not grow it
            self._values[key] = (time.monotonic(), value)
        return value


def _retrieve(task: asyncio.Task[object]) -> None:
    # A read that failed after all its callers were cancelled: its error reached no one (the
    # next caller tries again), and must not be reported as never retrieved.
    if not task.cancelled():
        task.exception()
