"""Message-waiting lamps on the running server: SIPp as the subscribing phone, as a phone that
gets unsolicited NOTIFYs, and as the caller who leaves the messages (real sockets throughout).

Messages are left with deposit.xml's default audio (1 s of silence) in a mailbox whose
shortest message is 1 s, so that each deposit takes about 3 s.
"""

from __future__ import annotations

import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.audio import make_dtmf_pcap
from tests.support.server import LOOPBACK, Server, ServerFactory, free_port
from tests.support.sipp import SippResult

Sipp = Callable[..., SippResult]


def in_background(run: Callable[[], SippResult]) -> Callable[[float], SippResult]:
    """Start ``run`` in a thread; the returned function waits for its result."""
    results: list[SippResult] = []
    thread = threading.Thread(target=lambda: results.append(run()), daemon=True)
    thread.start()

    def wait(timeout: float) -> SippResult:
        thread.join(timeout)
        assert results, "sipp did not finish"
        return results[0]

    return wait


def wait_for_log(server: Server, pattern: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, server.stderr_text()):
        assert time.monotonic() < deadline, f"no {pattern!r} in the log\n{server.describe()}"
        time.sleep(0.05)


def leave_message(server: Server, sipp: Sipp, mailbox: str, count: int) -> None:
    sipp("deposit", server.sip_address, service=mailbox).assert_ok(server)
    server.wait_for_messages(mailbox, count, timeout=10)


def mwi_server(server_factory: ServerFactory, *extra: str, start: bool = True) -> Server:
    server = server_factory(extra_args=list(extra), start=False)
    server.add_mailbox("1001", "Alice", min_seconds=1)  # the CLI works before the server runs
    return server.start() if start else server


def test_subscriber_sees_each_message_then_refreshes_and_unsubscribes(
    server_factory: ServerFactory, sipp: Sipp
) -> None:
    server = mwi_server(server_factory)
    subscriber = in_background(
        lambda: sipp("mwi_subscribe", server.sip_address, service="1001", timeout=40)
    )
    wait_for_log(server, r"subscribed to 1001 for 120 s")
    leave_message(server, sipp, "1001", 1)  # NOTIFY: yes, 1/0
    leave_message(server, sipp, "1001", 2)  # NOTIFY: yes, 2/0
    result = subscriber(60)
    result.assert_ok(server)
    notifies = result.received(r"^NOTIFY ")
    assert len(notifies) == 5  # initial, 1/0, 2/0, after the refresh, terminated
    cseqs = [int(re.findall(r"CSeq: (\d+) NOTIFY", block)[0]) for block in notifies]
    assert cseqs == sorted(cseqs) and len(set(cseqs)) == 5


def test_unsolicited_notify_at_start_and_after_a_deposit(
    server_factory: ServerFactory, sipp: Sipp
) -> None:
    port = free_port("both")
    server = mwi_server(
        server_factory, "--mwi-notify", f"1001=sip:phone@{LOOPBACK}:{port}", start=False
    )
    phone = in_background(
        lambda: sipp("mwi_phone", f"{LOOPBACK}:9", local_port=port, calls=2, timeout=30)
    )
    time.sleep(0.5)  # SIPp listens before the server's start-up NOTIFY
    server.start()
    leave_message(server, sipp, "1001", 1)
    result = phone(45)
    result.assert_ok(server)
    bodies = [re.findall(r"Voice-Message: (\d+/\d+)", b)[0] for b in result.received("^NOTIFY ")]
    assert bodies == ["0/0", "1/0"]


def test_subscription_is_kept_across_a_restart(server_factory: ServerFactory, sipp: Sipp) -> None:
    server = mwi_server(server_factory)
    subscriber = in_background(
        lambda: sipp("mwi_restart", server.sip_address, service="1001", timeout=40)
    )
    wait_for_log(server, r"subscribed to 1001")
    time.sleep(0.3)  # the first NOTIFY's answer
    server.restart()
    wait_for_log(server, r"1 subscription\(s\) taken back")
    leave_message(server, sipp, "1001", 1)
    subscriber(60).assert_ok(server)


def subscribe_request(
    port: int, local_port: int, user: str, event: str, expires: int = 600
) -> bytes:
    token = secrets.token_hex(6)
    lines = [
        f"SUBSCRIBE sip:{user}@{LOOPBACK}:{port} SIP/2.0",
        f"Via: SIP/2.0/UDP {LOOPBACK}:{local_port};branch=z9hG4bK-{token};rport",
        "Max-Forwards: 70",
        f"From: <sip:phone@{LOOPBACK}:{local_port}>;tag={token}",
        f"To: <sip:{user}@{LOOPBACK}:{port}>",
        f"Call-ID: mwi-{token}@{LOOPBACK}",
        "CSeq: 1 SUBSCRIBE",
        f"Contact: <sip:phone@{LOOPBACK}:{local_port}>",
        f"Event: {event}",
        f"Expires: {expires}",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def first_response(
    server: Server, user: str, event: str = "message-summary", expires: int = 600
) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(3.0)
        local_port = sock.getsockname()[1]
        request = subscribe_request(server.sip_port, local_port, user, event, expires)
        sock.sendto(request, (LOOPBACK, server.sip_port))
        reply, _ = sock.recvfrom(65535)
    return reply.decode("utf-8", "replace")


def test_refusals(server_factory: ServerFactory) -> None:
    server = mwi_server(server_factory)
    assert first_response(server, "9999").startswith("SIP/2.0 404 Not Found\r\n")
    bad_event = first_response(server, "1001", "presence")
    assert bad_event.startswith("SIP/2.0 489 Bad Event\r\n")
    assert "Allow-Events: message-summary\r\n" in bad_event
    too_brief = first_response(server, "1001", expires=10)
    assert too_brief.startswith("SIP/2.0 423 Interval Too Brief\r\n")
    assert "Min-Expires: 60\r\n" in too_brief


def test_untrusted_networks_get_403(server_factory: ServerFactory) -> None:
    """Counts are private: only --mwi-trust networks may subscribe (loopback by default)."""
    server = mwi_server(server_factory, "--mwi-trust", "10.0.0.0/8")
    assert first_response(server, "1001").startswith("SIP/2.0 403 Forbidden\r\n")


def test_the_lamp_follows_messages_heard_by_phone(
    server_factory: ServerFactory, sipp: Sipp, tmp_path: Path
) -> None:
    port = free_port("both")
    server = server_factory(
        extra_args=["--mwi-notify", f"1001=sip:phone@{LOOPBACK}:{port}", "--no-force-greetings"],
        start=False,
    )
    server.add_mailbox("1001", "Alice", min_seconds=1, pin="1234", pin_is_final=True)
    phone = in_background(
        lambda: sipp("mwi_phone", f"{LOOPBACK}:9", local_port=port, calls=4, timeout=60)
    )
    time.sleep(0.5)
    server.start()
    leave_message(server, sipp, "1001", 1)
    leave_message(server, sipp, "1001", 2)
    # The owner dials in and listens to the first message: one new, one old.
    keys = tmp_path / "listen.pcap"
    # (# is "skip ahead" while a message plays: it waits for the menu after the message.)
    make_dtmf_pcap(keys, "1001#1234#,,,,1,,,,,,,,,,,,,,#", ssrc=0x5EED7777, first_seq=700)
    sipp("dialin", server.sip_address, service="*98", keys={"dtmf_pcap": str(keys)}).assert_ok(
        server
    )
    result = phone(60)
    result.assert_ok(server)
    bodies = [re.findall(r"Voice-Message: (\d+/\d+)", b)[0] for b in result.received("^NOTIFY ")]
    assert bodies == ["0/0", "1/0", "2/0", "1/1"]
