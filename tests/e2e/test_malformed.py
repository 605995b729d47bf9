"""Bad input against the running server: it answers what it can, drops the rest, and keeps
serving calls (every address in what we send is 127.0.0.1)."""

from __future__ import annotations

import random
import re
import socket
from collections.abc import Callable

import pytest
from tests.e2e.conftest import Speech
from tests.support.server import Server
from tests.support.sipp import SippResult

Sipp = Callable[..., SippResult]


class Peer:
    """A UDP socket on loopback that sends to the server and reads what comes back."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def exchange(self, data: bytes, timeout: float = 1.0) -> list[bytes]:
        self.sock.sendto(data, ("127.0.0.1", self.server.sip_port))
        self.sock.settimeout(timeout)
        replies: list[bytes] = []
        try:
            while True:
                replies.append(self.sock.recv(65535))
                self.sock.settimeout(0.2)
        except TimeoutError:
            return replies

    def invite(
        self,
        *,
        uri: str = "sip:1001@127.0.0.1",
        version: str = "SIP/2.0",
        body: bytes = b"",
        content_length: int | None = None,
        extra: str = "",
        content_type: str = "application/sdp",
    ) -> bytes:
        length = len(body) if content_length is None else content_length
        head = (
            f"INVITE {uri} {version}\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{random.getrandbits(40)}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:5550100@127.0.0.1:{self.port}>;tag=t{random.getrandbits(30)}\r\n"
            "To: <sip:1001@127.0.0.1>\r\n"
            f"Call-ID: bad-{random.getrandbits(40)}@127.0.0.1\r\n"
            "CSeq: 1 INVITE\r\n"
            f"Contact: <sip:5550100@127.0.0.1:{self.port}>\r\n"
            f"{extra}"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\n\r\n"
        )
        return head.encode() + body

    def close(self) -> None:
        self.sock.close()


def alive(server: Server) -> bool:
    """OPTIONS answered; retried like a real UA's Timer E, since UDP may drop one try."""
    return any(server.ping() is not None for _ in range(5))


def statuses(replies: list[bytes]) -> list[int]:
    return [int(m.group(1)) for r in replies if (m := re.match(rb"SIP/2.0 (\d{3})", r))]


@pytest.fixture
def peer(server: Server) -> Peer:
    p = Peer(server)
    yield p  # type: ignore[misc]
    p.close()


def test_garbage_datagrams_are_dropped(server: Server, peer: Peer) -> None:
    rng = random.Random(4475)
    for _ in range(300):
        size = rng.choice([1, 17, 200, 1400, 8000])
        peer.sock.sendto(rng.randbytes(size), ("127.0.0.1", server.sip_port))
    # Text that looks like SIP but is not.
    for junk in (b"SIP/2.0\r\n\r\n", b"INVITE\r\n\r\n", b"\r\n\r\n\r\n", b"OPTIONS sip: SIP/2.0"):
        peer.sock.sendto(junk, ("127.0.0.1", server.sip_port))
    assert alive(server)
    assert server.process is not None and server.process.poll() is None


def test_truncated_body_gets_400(server: Server, peer: Peer) -> None:
    replies = peer.exchange(peer.invite(body=b"v=0\r\n", content_length=400))
    assert statuses(replies) == [400]


def test_bad_sdp_gets_a_4xx_and_no_call(server: Server, peer: Peer) -> None:
    replies = peer.exchange(peer.invite(body=b"this is not SDP at all\r\n"))
    codes = statuses(replies)
    assert codes and codes[-1] in (400, 488), codes
    sdp_without_media = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    assert statuses(peer.exchange(peer.invite(body=sdp_without_media)))[-1] == 488


def test_unsupported_version_and_scheme(server: Server, peer: Peer) -> None:
    assert statuses(peer.exchange(peer.invite(version="SIP/3.0"))) == [505]
    assert statuses(peer.exchange(peer.invite(uri="mailto:1001@127.0.0.1")))[-1] == 416


def test_huge_headers_are_refused_or_dropped(server: Server, peer: Peer) -> None:
    extra = "".join(f"X-Padding-{i}: {'a' * 200}\r\n" for i in range(300))  # ~62 KB
    replies = peer.exchange(peer.invite(extra=extra))
    assert all(code >= 400 for code in statuses(replies)), statuses(replies)
    assert alive(server)


def test_tcp_garbage_closes_the_connection_only(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.sip_port), timeout=2) as conn:
        conn.sendall(b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: x\r\n\r\n")  # no Content-Length
        conn.settimeout(2)
        assert conn.recv(4096) == b""  # closed by the server: a stream cannot resynchronise
    assert alive(server)


def test_server_still_takes_messages_after_bad_input(
    server: Server, peer: Peer, sipp: Sipp, speech: Speech
) -> None:
    rng = random.Random(3261)
    template = peer.invite(body=b"v=0\r\n")
    for _ in range(200):
        mutated = bytearray(template)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        peer.sock.sendto(bytes(mutated[: rng.randrange(1, len(mutated) + 1)]),
                         ("127.0.0.1", server.sip_port))  # fmt: skip
    sipp("deposit", server.sip_address, service="1001", keys=speech.sipp_keys()).assert_ok(server)
    assert len(server.wait_for_messages("1001", 1, timeout=10)) == 1
