"""New messages without reloading: a browser listens (server-sent events) to its mailbox,
and hears whenever the store says the mailbox's messages changed (here, or on another
node through PostgreSQL NOTIFY)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

KEEPALIVE_SECONDS = 15.0
QUEUE_SIZE = 16  # changes coalesce: a browser that lags just refreshes once


class Hub:
    def __init__(self) -> None:
        self._listeners: dict[int, set[asyncio.Queue[None]]] = defaultdict(set)
        self._closing = asyncio.Event()

    def changed(self, mailbox_id: int) -> None:
        for queue in self._listeners.get(mailbox_id, ()):
            if queue.empty():
                queue.put_nowait(None)

    def close(self) -> None:
        self._closing.set()

    async def stream(self, mailbox_id: int) -> AsyncIterator[str]:
        """Server-sent events for one mailbox: ``changed`` on each change, comments to keep
        proxies from closing an idle connection; ends when the server stops."""
        queue: asyncio.Queue[None] = asyncio.Queue(QUEUE_SIZE)
        self._listeners[mailbox_id].add(queue)
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            yield "retry: 3000\n\n"
            while not self._closing.is_set():
                waiting = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {waiting, closing},
                    timeout=KEEPALIVE_SECONDS,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if waiting in done:
                    yield "event: changed\ndata: {}\n\n"
                else:
                    waiting.cancel()
                    yield ": keepalive\n\n"
        finally:
            closing.cancel()
            listeners = self._listeners[mailbox_id]
            listeners.discard(queue)
            if not listeners:
                del self._listeners[mailbox_id]
