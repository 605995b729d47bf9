"""Group commit: writes that arrive together share one transaction.

Each caller waits until its own item is committed (nothing is acknowledged before it is
durable). A batch is written ``linger`` seconds after its first item came, with every item
that came meanwhile, and while it is being written the next callers queue for the next one.
A quiet service writes each item alone, a little later; a busy one writes large batches, so
the cost of a transaction is shared by the calls that ended around the same time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        linger: float = 0.0,
        max_batch: int = 500,
    ) -> None:
        self._write = write
        self._linger = linger
        self._max = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Queue ``item`` and return once it is committed; the write's error if it failed.
        A caller cancelled while waiting does not withdraw its item: it is still written."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())
        await future

    async def flush(self) -> None:
        """Wait until everything queued so far is written (shutting down)."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._pending:
                if self._linger:
                    await asyncio.sleep(self._linger)
                batch, self._pending = self._pending[: self._max], self._pending[self._max :]
                await self._write_batch(batch)
        finally:
            self._task = None

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await self._write([item for item, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            if len(batch) > 1:
                # One bad item (a mailbox removed meanwhile) must not fail the others.
                for one in batch:
                    await self._write_batch([one])
                return
            _settle(batch, exc)
            return
        _settle(batch, None)


def _settle(batch: list[tuple[T, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, future in batch:
        if future.done():
            continue  # the caller was cancelled; the item was written (or failed) all the same
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
