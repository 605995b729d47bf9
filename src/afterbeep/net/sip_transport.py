"""The asyncio shell around the sans-IO ``UserAgent``: UDP and TCP sockets and one timer.

Every entry point follows the same three steps: feed the core (bytes or an action, with the
loop's time), send what it produced, hand its events to the application.

The UDP socket is read directly (``recvmsg``) rather than through an asyncio transport, for
the kernel's arrival time of each datagram (Linux ``SO_TIMESTAMPNS``): a datagram that
waited more than ``SHED_AFTER`` seconds (T1) in the socket's queue means the loop is behind,
and new calls are then refused with 503 (cheap) instead of being set up (costly) for callers
who have already retransmitted or given up. Without it, an offered load above capacity made
the queue seconds long and call setups collapsed to a fraction of capacity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any, cast

from afterbeep.net.addresses import is_ip
from afterbeep.sip.errors import SipSyntaxError
from afterbeep.sip.message import StreamFramer
from afterbeep.sip.useragent import Address, Event, UserAgent

log = logging.getLogger(__name__)

# Seconds a datagram may wait to be read before new calls are refused: T1, after which the
# caller has retransmitted its INVITE (a prompt synthesized on the spot, a full collection
# must not refuse calls; seconds of queue must).
SHED_AFTER = 0.5
# Not in Python 3.11's socket module; 35 on Linux's generic ABI (x86, ARM).
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
MAX_DATAGRAM = 65535


class SipTransport:
    """Owns the SIP sockets; the application reacts to events through ``on_event``."""

    def __init__(self, ua: UserAgent, on_event: Callable[[Event], None]) -> None:
        self.ua = ua
        self._on_event = on_event
        self._loop = asyncio.get_running_loop()
        self._udp: socket.socket | None = None
        self._stamped = False  # the kernel timestamps arrivals
        self._tcp_server: asyncio.Server | None = None
        self._streams: dict[tuple[str, int], _StreamConnection] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._pending_connects: dict[tuple[str, int], list[bytes]] = {}
        self.local_port = 0

    async def start(self, host: str, port: int) -> None:
        sock = await self._bound_udp(host, port)
        with contextlib.suppress(OSError):
            # Bursts (a trunk's retransmissions, a scanner) must queue, not be dropped by the
            # kernel; the kernel caps this at net.core.rmem_max.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        if SO_TIMESTAMPNS is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                self._stamped = True
        self._udp = sock
        self._loop.add_reader(sock.fileno(), self._udp_readable)
        self.local_port = sock.getsockname()[1]
        self._tcp_server = await self._loop.create_server(
            lambda: _StreamConnection(self), host, self.local_port
        )

    async def _bound_udp(self, host: str, port: int) -> socket.socket:
        """A UDP socket on the first of the host's addresses that can be bound (a name such
        as ``localhost`` may list ``::1`` on a machine without IPv6)."""
        infos = await self._loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        error: OSError = OSError(f"no address for {host}")
        for family, _, _, _, address in infos:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                sock.bind(address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            return sock
        raise error

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for connection in list(self._streams.values()):
            connection.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()
        if self._udp is not None:
            self._loop.remove_reader(self._udp.fileno())
            self._udp.close()

    # ---- driving the core ------------------------------------------------------------------

    def act(self, action: Callable[[float], Any]) -> None:
        """Run a TU action on the core (answer, bye, …) and push out what it produced."""
        action(self._loop.time())
        self._flush()

    def received(self, data: bytes, source: Address, *, shed: bool = False) -> None:
        self.ua.receive(data, source, self._loop.time(), shed=shed)
        self._flush()

    def _udp_readable(self) -> None:
        """One datagram per readiness, like asyncio's own transports: the loop stays fair
        to the media and the calls' tasks."""
        sock = self._udp
        if sock is None:
            return
        try:
            data, ancillary, _flags, addr = sock.recvmsg(MAX_DATAGRAM, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # ICMP unreachable from a peer that went away
            log.debug("UDP error: %s", exc)
            return
        if len(data) < 16:
            return  # keepalives (CRLF, STUN-ish noise) carry nothing to answer
        shed = self._stamped and _waited(ancillary) > SHED_AFTER
        self.received(data, Address("UDP", str(addr[0]), addr[1]), shed=shed)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.ua.handle_timer(self._loop.time())
        self._flush()

    def _flush(self) -> None:
        for item in self.ua.outgoing():
            self._send(item.data, item.destination)
        for event in self.ua.events():
            try:
                self._on_event(event)
            except Exception:  # one call's bug must not take the SIP stack down
                log.exception("event handler failed for %s", type(event).__name__)
        deadline = self.ua.next_deadline()
        if deadline != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(deadline, self._on_timer) if deadline else None
            self._timer_at = deadline

    # ---- sending ---------------------------------------------------------------------------

    def _send(self, data: bytes, destination: Address) -> None:
        if not is_ip(destination.host):
            self._loop.create_task(self._resolve_and_send(data, destination))
            return
        key = (destination.host, destination.port)
        if destination.transport == "UDP":
            if self._udp is not None:
                try:
                    self._udp.sendto(data, key)
                except OSError as exc:
                    # A full send buffer or an unreachable peer: the message is lost like
                    # any datagram, and SIP's retransmissions cover it.
                    log.debug("UDP send to %s:%s failed: %s", *key, exc)
            return
        connection = self._streams.get(key)
        if connection is not None:
            connection.write(data)
            return
        queued = self._pending_connects.setdefault(key, [])
        queued.append(data)
        if len(queued) == 1:
            self._loop.create_task(self._connect(key))

    async def _resolve_and_send(self, data: bytes, destination: Address) -> None:
        try:
            infos = await self._loop.getaddrinfo(destination.host, destination.port)
        except OSError as exc:
            log.warning("cannot resolve %s: %s", destination.host, exc)
            return
        host = str(infos[0][4][0])
        self._send(data, Address(destination.transport, host, destination.port))

    async def _connect(self, key: tuple[str, int]) -> None:
        try:
            await self._loop.create_connection(lambda: _StreamConnection(self), *key)
        except OSError as exc:
            log.warning("cannot connect to %s:%s over TCP: %s", *key, exc)
            self._pending_connects.pop(key, None)
            return
        connection = self._streams.get(key)
        for data in self._pending_connects.pop(key, []):
            if connection is not None:
                connection.write(data)


def _waited(ancillary: list[tuple[int, int, bytes]]) -> float:
    """Seconds since the kernel received the datagram (0 when it did not say)."""
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
            return time.time() - (int(seconds) + int(nanoseconds) / 1e9)
    return 0.0


class _StreamConnection(asyncio.Protocol):
    """One TCP connection: frames messages by Content-Length (RFC 3261 §18.3)."""

    def __init__(self, owner: SipTransport) -> None:
        self._owner = owner
        self._framer = StreamFramer()
        self._transport: asyncio.Transport | None = None
        self._peer: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._peer = (str(peer[0]), int(peer[1]))
        self._owner._streams[self._peer] = self

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._framer.feed(data)
        except SipSyntaxError as exc:
            # A stream we cannot frame cannot be resynchronised: close it.
            log.info("closing TCP connection from %s:%s: %s", *self._peer, exc.reason)
            self.close()
            return
        for message in messages:
            self._owner.received(message, Address("TCP", *self._peer))

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._owner._streams.get(self._peer) is self:
            del self._owner._streams[self._peer]
