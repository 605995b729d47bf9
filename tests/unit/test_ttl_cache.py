"""TtlCache: one read per key at a time, shared by the callers that miss together."""

from __future__ import annotations

import asyncio

import pytest

from afterbeep.store.cache import TtlCache


class Source:
    def __init__(self) -> None:
        self.reads = 0
        self.value = "a"
        self.fail = False

    async def read(self) -> str:
        self.reads += 1
        value, fail = self.value, self.fail  # what the database held when the read began
        await asyncio.sleep(0.01)
        if fail:
            raise OSError("database gone")
        return value


async def test_callers_that_miss_together_share_one_read() -> None:
    cache: TtlCache[str, str] = TtlCache(10.0, 100)
    source = Source()
    values = await asyncio.gather(*(cache.get("k", source.read) for _ in range(50)))
    assert values == ["a"] * 50
    assert source.reads == 1
    assert await cache.get("k", source.read) == "a"
    assert source.reads == 1  # fresh: no read at all


async def test_expired_values_are_read_again() -> None:
    cache: TtlCache[str, str] = TtlCache(0.02, 100)
    source = Source()
    await cache.get("k", source.read)
    source.value = "b"
    await asyncio.sleep(0.03)
    assert await cache.get("k", source.read) == "b"
    assert source.reads == 2


async def test_a_read_begun_before_a_change_is_not_kept() -> None:
    cache: TtlCache[str, str] = TtlCache(10.0, 100)
    source = Source()
    pending = asyncio.ensure_future(cache.get("k", source.read))
    await asyncio.sleep(0.005)
    assert source.reads == 1  # under way
    cache.discard("k")  # the mailbox changed while it was being read
    source.value = "b"
    assert await pending == "a"
    assert await cache.get("k", source.read) == "b"
    assert source.reads == 2


async def test_a_failed_read_fails_its_callers_and_the_next_one_retries() -> None:
    cache: TtlCache[str, str] = TtlCache(10.0, 100)
    source = Source()
    source.fail = True
    results = await asyncio.gather(
        *(cache.get("k", source.read) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, OSError) for r in results)
    assert source.reads == 1
    source.fail = False
    assert await cache.get("k", source.read) == "a"


async def test_a_cancelled_caller_leaves_the_read_to_the_others() -> None:
    cache: TtlCache[str, str] = TtlCache(10.0, 100)
    source = Source()
    first = asyncio.ensure_future(cache.get("k", source.read))
    second = asyncio.ensure_future(cache.get("k", source.read))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == "a"
    assert source.reads == 1


async def test_size_is_bounded() -> None:
    cache: TtlCache[int, str] = TtlCache(10.0, 3)
    source = Source()
    for key in range(10):
        await cache.get(key, source.read)
    assert len(cache._values) <= 3
