"""SocketWatch with real UDP sockets: readers are called per ready socket, one datagram each
time, until every datagram is read; removed sockets are not called again."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator

import pytest

from afterbeep.net.socketwatch import SocketWatch


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    made = []
    for _ in range(3):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        made.append(sock)
    yield made
    for sock in made:
        sock.close()


class Reads:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    def reader(self, sock: socket.socket, into: list[bytes]) -> Callable[[], None]:
        def read() -> None:
            into.append(sock.recv(2048))  # one datagram per call, as RtpStream does
            self.event.set()

        return read

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(2.0):  # the readers were not called
            while not condition():
                self.event.clear()
                await self.event.wait()


async def test_every_datagram_reaches_its_sockets_reader(sockets: list[socket.socket]) -> None:
    watch, reads = SocketWatch(asyncio.get_running_loop()), Reads()
    received: list[list[bytes]] = [[] for _ in sockets]
    for sock, into in zip(sockets, received, strict=True):
        watch.add(sock.fileno(), reads.reader(sock, into))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        # More datagrams on one socket than one poll round reads: the socket stays ready.
        for index, sock in enumerate(sockets):
            for n in range(10):
                sender.sendto(bytes([index, n]), sock.getsockname())
        await reads.until(lambda: sum(map(len, received)) == 30)
    for index, into in enumerate(received):
        assert into == [bytes([index, n]) for n in range(10)]
    watch.close()


async def test_a_removed_socket_is_not_read(sockets: list[socket.socket]) -> None:
    watch, reads = SocketWatch(asyncio.get_running_loop()), Reads()
    kept: list[bytes] = []
    dropped: list[bytes] = []
    watch.add(sockets[0].fileno(), reads.reader(sockets[0], kept))
    watch.add(sockets[1].fileno(), reads.reader(sockets[1], dropped))
    watch.remove(sockets[1].fileno())
    watch.remove(sockets[1].fileno())  # twice is harmless (a stream closed twice)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"late", sockets[1].getsockname())
        sender.sendto(b"kept", sockets[0].getsockname())
        await reads.until(lambda: kept == [b"kept"])
        await asyncio.sleep(0.05)  # time for a wrong call to happen
    assert dropped == []
    assert sockets[1].recv(16) == b"late"  # still queued: nobody read it
    watch.close()
