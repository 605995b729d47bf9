"""The UDP shell on a real socket: an INVITE that waited too long in the kernel's queue (the
loop was behind) is refused with 503; one read at once starts a call."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

from afterbeep.net.sip_transport import SHED_AFTER, SipTransport
from afterbeep.sip.useragent import Event, IncomingCall, UserAgent


def _invite(port: int, branch: str) -> bytes:
    return (
        f"INVITE sip:1001@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{branch};rport\r\n"
        f"From: <sip:5550100@127.0.0.1>;tag=from-{branch}\r\n"
        f"To: <sip:1001@127.0.0.1>\r\n"
        f"Call-ID: {branch}@127.0.0.1\r\n"
        f"CSeq: 1 INVITE\r\n"
        f"Contact: <sip:5550100@127.0.0.1:{port}>\r\n"
        f"Max-Forwards: 70\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


class Peer:
    """A real SIP transport on loopback and a phone's UDP socket talking to it."""

    def __init__(self, transport: SipTransport, phone: socket.socket) -> None:
        self.transport = transport
        self.phone = phone
        self.port = phone.getsockname()[1]

    def send(self, data: bytes, *, unread_for: float = 0.0) -> None:
        self.phone.sendto(data, ("127.0.0.1", self.transport.local_port))
        # The loop is held (as when it is behind): the datagram waits unread in the queue.
        time.sleep(unread_for)

    async def response(self) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(None, self.phone.recv, 65535)


@contextlib.asynccontextmanager
async def peer(events: list[Event]) -> AsyncIterator[Peer]:
    transport = SipTransport(UserAgent(advertised_host="127.0.0.1"), events.append)
    await transport.start("127.0.0.1", 0)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
            phone.bind(("127.0.0.1", 0))
            phone.settimeout(5)
            yield Peer(transport, phone)
    finally:
        await transport.close()


async def test_a_new_call_that_waited_too_long_is_refused_and_a_fresh_one_is_not() -> None:
    events: list[Event] = []
    async with peer(events) as p:
        p.send(_invite(p.port, "late"), unread_for=SHED_AFTER + 0.1)
        refused = await p.response()
        assert refused.startswith(b"SIP/2.0 503 ")
        assert b"\r\nRetry-After: 5\r\n" in refused
        assert not [e for e in events if isinstance(e, IncomingCall)]
        # Its retransmission meets the transaction: the same answer, still no call.
        p.send(_invite(p.port, "late"))
        assert (await p.response()).startswith(b"SIP/2.0 503 ")
        assert p.transport.ua.calls_shed == 1

        p.send(_invite(p.port, "fresh"))
        assert (await p.response()).startswith(b"SIP/2.0 100 ")
        (call,) = [e for e in events if isinstance(e, IncomingCall)]
        assert call.session.call_id == "fresh@127.0.0.1"


def _options(port: int, branch: str) -> bytes:
    # The INVITE's headers, request line and CSeq method renamed.
    return _invite(port, branch).replace(b"INVITE", b"OPTIONS")


async def test_a_late_options_probe_hears_what_an_invite_would() -> None:
    """§11.2: a dispatcher probing with OPTIONS learns of the overload (503), and of its end."""
    async with peer([]) as p:
        p.send(_options(p.port, "late"), unread_for=SHED_AFTER + 0.1)
        assert (await p.response()).startswith(b"SIP/2.0 503 ")
        p.send(_options(p.port, "fresh"))
        assert (await p.response()).startswith(b"SIP/2.0 200 ")
        assert p.transport.ua.calls_shed == 0  # no call was refused
