"""GroupCommit: items that arrive together are written in one batch, each caller learns its
own outcome, and nothing queued is dropped."""

from __future__ import annotations

import asyncio

import pytest

from afterbeep.store.batching import GroupCommit


class Log:
    def __init__(self, bad: frozenset[int] = frozenset()) -> None:
        self.batches: list[list[int]] = []
        self.bad = bad

    async def write(self, items: list[int]) -> None:
        await asyncio.sleep(0.01)  # a transaction takes a while; others queue meanwhile
        if self.bad & set(items):
            raise ValueError(f"refused {sorted(self.bad & set(items))}")
        self.batches.append(items)


async def test_items_arriving_together_share_a_batch() -> None:
    log = Log()
    commit = GroupCommit(log.write, linger=0.005)
    await asyncio.gather(*(commit.submit(i) for i in range(10)))
    assert log.batches == [list(range(10))]


async def test_items_arriving_during_a_write_go_in_the_next_batch() -> None:
    log = Log()
    commit = GroupCommit(log.write)
    first = asyncio.ensure_future(commit.submit(0))
    await asyncio.sleep(0.005)  # the first batch is being written
    await asyncio.gather(first, *(commit.submit(i) for i in (1, 2, 3)))
    assert log.batches == [[0], [1, 2, 3]]


async def test_one_bad_item_fails_only_its_caller() -> None:
    log = Log(bad=frozenset({2}))
    commit = GroupCommit(log.write, linger=0.005)
    results = await asyncio.gather(*(commit.submit(i) for i in range(4)), return_exceptions=True)
    assert [isinstance(r, ValueError) for r in results] == [False, False, True, False]
    assert sorted(i for batch in log.batches for i in batch) == [0, 1, 3]


async def test_a_cancelled_caller_still_gets_its_item_written() -> None:
    log = Log()
    commit = GroupCommit(log.write, linger=0.005)
    waiting = asyncio.ensure_future(commit.submit(7))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await commit.flush()
    assert log.batches == [[7]]


async def test_large_backlogs_are_cut_into_bounded_batches() -> None:
    log = Log()
    commit = GroupCommit(log.write, linger=0.005, max_batch=4)
    await asyncio.gather(*(commit.submit(i) for i in range(10)))
    assert [len(batch) for batch in log.batches] == [4, 4, 2]
