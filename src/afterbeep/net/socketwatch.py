"""Read readiness for many sockets through one loop callback.

On Linux every watched socket joins one epoll set, and the event loop watches only that
set's descriptor: one callback serves all the sockets with a datagram waiting, with no
per-packet loop handle. A thousand calls' RTP sockets deliver 50,000 packets a second; the
loop's own per-socket readers cost a callback each, plus a failed read each when the reader
drains its socket. Elsewhere the loop's readers are used.
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import Callable

ROUNDS = 4  # polls per loop callback while sockets stay ready (bounded: the loop must turn)


class SocketWatch:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._readers: dict[int, Callable[[], None]] = {}
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        if self._epoll is not None:
            loop.add_reader(self._epoll.fileno(), self._ready)

    def add(self, fd: int, reader: Callable[[], None]) -> None:
        """Call ``reader`` whenever ``fd`` is readable; it should read one datagram."""
        if self._epoll is None:
            self._loop.add_reader(fd, reader)
            return
        self._readers[fd] = reader
        self._epoll.register(fd, select.EPOLLIN)

    def remove(self, fd: int) -> None:
        """Stop watching ``fd`` (before it is closed)."""
        if self._epoll is None:
            self._loop.remove_reader(fd)
        elif self._readers.pop(fd, None) is not None:
            self._epoll.unregister(fd)

    def close(self) -> None:
        if self._epoll is not None:
            self._loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
            self._readers.clear()

    def _ready(self) -> None:
        assert self._epoll is not None
        readers = self._readers
        for _ in range(ROUNDS):
            events = self._epoll.poll(0)
            for fd, _mask in events:
                reader = readers.get(fd)  # None: closed by an earlier reader in this batch
                if reader is not None:
                    reader()
            if not events:
                return
