"""The UDP shell on a real socket: an INVITE that waited too long in the kernel's queue (the
loop was behind) is refused with 503; one read at once starts a call."""

from __future__ import annotations

import asyncio
import socket
import time

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


async def _response(phone: socket.socket) -> bytes:
    return await asyncio.get_running_loop().run_in_executor(None, phone.recv, 65535)


async def test_a_new_call_that_waited_too_long_is_refused_and_a_fresh_one_is_not() -> None:
    events: list[Event] = []
    transport = SipTransport(UserAgent(advertised_host="127.0.0.1"), events.append)
    await transport.start("127.0.0.1", 0)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
            phone.bind(("127.0.0.1", 0))
            phone.settimeout(5)
            server = ("127.0.0.1", transport.local_port)
            port = phone.getsockname()[1]

            phone.sendto(_invite(port, "late"), server)
            time.sleep(SHED_AFTER + 0.1)  # noqa: ASYNC251  (the loop is busy: it waits unread)
            refused = await _response(phone)
            assert refused.startswith(b"SIP/2.0 503 ")
            assert b"\r\nRetry-After: 5\r\n" in refused
            assert not [e for e in events if isinstance(e, IncomingCall)]
            # Its retransmission meets the transaction: the same answer, still no call.
            phone.sendto(_invite(port, "late"), server)
            assert (await _response(phone)).startswith(b"SIP/2.0 503 ")
            assert transport.ua.calls_shed == 1

            phone.sendto(_invite(port, "fresh"), server)
            trying = await _response(phone)
            assert trying.startswith(b"SIP/2.0 100 ")
            (call,) = [e for e in events if isinstance(e, IncomingCall)]
            assert call.session.call_id == "fresh@127.0.0.1"
    finally:
        await transport.close()


def _options(port: int, branch: str) -> bytes:
    # The INVITE's headers, request line and CSeq method renamed.
    return _invite(port, branch).replace(b"INVITE", b"OPTIONS")


async def test_a_late_options_probe_hears_what_an_invite_would() -> None:
    """§11.2: a dispatcher probing with OPTIONS learns of the overload (503), and of its end."""
    transport = SipTransport(UserAgent(advertised_host="127.0.0.1"), lambda event: None)
    await transport.start("127.0.0.1", 0)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            probe.settimeout(5)
            server = ("127.0.0.1", transport.local_port)
            port = probe.getsockname()[1]
            probe.sendto(_options(port, "late"), server)
            time.sleep(SHED_AFTER + 0.1)  # noqa: ASYNC251  (the loop is busy: it waits unread)
            assert (await _response(probe)).startswith(b"SIP/2.0 503 ")
            probe.sendto(_options(port, "fresh"), server)
            assert (await _response(probe)).startswith(b"SIP/2.0 200 ")
            assert transport.ua.calls_shed == 0  # no call was refused
    finally:
        await transport.close()
