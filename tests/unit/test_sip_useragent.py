"""The UAS core end to end in memory: bytes and a fake clock in, datagrams and events out.

The peer is a phone behind NAT: it writes its private address (10.0.0.2:5062) in Via and
Contact and its packets arrive from 203.0.113.5:40000. Timers are RFC 3261's defaults
(T1 = 0.5 s, T2 = 4 s, T4 = 5 s).
"""

from __future__ import annotations

import gc
import itertools
import re
import weakref
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afterbeep.sip.errors import LocalProtocolError
from afterbeep.sip.message import Request, Response, Via, parse_message
from afterbeep.sip.uri import NameAddr
from afterbeep.sip.useragent import (
    Address,
    CallCancelled,
    CallConfirmed,
    CallEnded,
    Event,
    IncomingCall,
    InDialogRequest,
    Outgoing,
    ReInvite,
    RequestCompleted,
    Session,
    SessionState,
    UserAgent,
)

T1, T2, T4 = 0.5, 4.0, 5.0
PHONE = Address("UDP", "203.0.113.5", 40000)
OURS = "198.51.100.7"
OFFER = (
    b"v=0\r\no=alice 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)
ANSWER = (
    b"v=0\r\no=afterbeep 1 1 IN IP4 198.51.100.7\r\ns=-\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n"
)
# 2xx retransmissions (§13.3.1.4) at T1, 2·T1, 4·T1, then every T2, until 64·T1.
BACKOFF = [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]


def sip(
    method: str,
    *,
    uri: str = "sip:1001@198.51.100.7",
    branch: str = "z9hG4bKinv1",
    via: str = "SIP/2.0/UDP 10.0.0.2:5062;branch={branch};rport",
    call_id: str = "call-1@10.0.0.2",
    from_tag: str = "ft1",
    to_tag: str | None = None,
    cseq: int = 1,
    cseq_method: str | None = None,
    contact: str | None = "<sip:alice@10.0.0.2:5062>",
    headers: Sequence[str] = (),
    body: bytes | None = None,
) -> bytes:
    """A request from the phone. INVITEs carry OFFER unless ``body`` says otherwise."""
    if body is None:
        body = OFFER if method == "INVITE" else b""
    lines = [
        f"{method} {uri} SIP/2.0",
        "Via: " + via.format(branch=branch),
        "Max-Forwards: 70",
        f'From: "Alice" <sip:+15551000@example.com>;tag={from_tag}',
        "To: <sip:1001@vm.example.com>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
    ]
    if contact:
        lines.append(f"Contact: {contact}")
    lines += headers
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def msg(out: Outgoing) -> Request | Response:
    return parse_message(out.data)


def status(out: Outgoing) -> int:
    """The status code from the start line (a 400 echoes a CSeq that may not parse)."""
    version, code, _ = out.data.split(b" ", 2)
    assert version == b"SIP/2.0", out.data[:40]
    return int(code)


def request_of(out: Outgoing) -> Request:
    parsed = msg(out)
    assert isinstance(parsed, Request), out.data[:40]
    return parsed


def response_of(out: Outgoing) -> Response:
    parsed = msg(out)
    assert isinstance(parsed, Response), out.data[:40]
    return parsed


def reply_to(request: Request, code: int) -> bytes:
    """The phone's answer to a request we sent (a 200 to our BYE, say)."""
    head = [f"SIP/2.0 {code} X"]
    head += [f"Via: {v}" for v in request.headers.get_all("Via")]
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = request.header(name)
        assert value is not None
        head.append(f"{name}: {value}")
    return ("\r\n".join([*head, "Content-Length: 0"]) + "\r\n\r\n").encode()


class _Marker:
    """What the TU hangs on a session (its call object), weakly referenceable."""


class Harness:
    """A UserAgent, a fake clock and the wire."""

    def __init__(self, advertised_host: str | None = OURS) -> None:
        counter = itertools.count(1)
        self.ua = UserAgent(
            advertised_host=advertised_host, port=5060, new_token=lambda: f"tok{next(counter)}"
        )
        self.now = 0.0

    def send(self, data: bytes, source: Address = PHONE, at: float | None = None) -> list[Outgoing]:
        if at is not None:
            self.now = at
        self.ua.receive(data, source, self.now)
        return self.ua.outgoing()

    def advance(self, until: float) -> list[tuple[float, Outgoing]]:
        out: list[tuple[float, Outgoing]] = []
        while (deadline := self.ua.next_deadline()) is not None and deadline <= until:
            self.now = deadline
            self.ua.handle_timer(deadline)
            out += [(deadline, o) for o in self.ua.outgoing()]
        self.now = until
        return out

    def events(self) -> list[Event]:
        return self.ua.events()

    def call(self, data: bytes | None = None, source: Address = PHONE) -> Session:
        """Receive an INVITE; check the 100 and return the new session."""
        out = self.send(data or sip("INVITE"), source)
        assert [status(o) for o in out] == [100]
        (event,) = self.events()
        assert isinstance(event, IncomingCall)
        return event.session

    def answered(self, data: bytes | None = None, source: Address = PHONE) -> Session:
        session = self.call(data, source)
        self.ua.answer(session, ANSWER, self.now)
        (ok,) = self.ua.outgoing()
        assert status(ok) == 200
        return session

    def confirmed(self, data: bytes | None = None, source: Address = PHONE) -> Session:
        session = self.answered(data, source)
        assert self.send(ack(session)) == []
        assert [type(e) for e in self.events()] == [CallConfirmed]
        return session


def ack(session: Session, cseq: int = 1, branch: str = "z9hG4bKack1") -> bytes:
    # §17.1.1.3: the ACK for a 2xx is its own transaction, with a new branch.
    return sip("ACK", branch=branch, to_tag=session.local_tag, cseq=cseq, contact=None)


def in_dialog(
    session: Session,
    method: str,
    cseq: int,
    branch: str,
    contact: str | None = "<sip:alice@10.0.0.2:5062>",
) -> bytes:
    return sip(method, branch=branch, to_tag=session.local_tag, cseq=cseq, contact=contact)


class TestInvite:
    def test_100_at_once_and_an_incoming_call(self) -> None:
        h = Harness()
        out = h.send(sip("INVITE"))
        assert len(out) == 1
        trying = response_of(out[0])
        assert (trying.status, trying.reason) == (100, "Trying")
        assert trying.to_tag is None  # §8.2.6.1: the 100 need not (and here does not) tag
        assert trying.call_id == "call-1@10.0.0.2"
        assert trying.cseq == (1, "INVITE")
        assert out[0].destination == PHONE
        (event,) = h.events()
        assert isinstance(event, IncomingCall)
        session = event.session
        assert session.state is SessionState.INCOMING
        assert session.remote_tag == "ft1"
        assert session.remote_target == "sip:alice@10.0.0.2:5062"
        assert session.local_host == OURS
        assert session.invite.body == OFFER
        assert h.ua.active_sessions == 1

    def test_retransmitted_invite_gets_the_last_provisional(self) -> None:
        # §17.2.1: the server transaction resends its last provisional response.
        h = Harness()
        session = h.call()
        assert [status(o) for o in h.send(sip("INVITE"), at=0.5)] == [100]
        h.ua.ring(session, 0.6)
        (ringing,) = h.ua.outgoing()
        assert response_of(ringing).to_tag == session.local_tag
        assert response_of(ringing).header("Contact") == "<sip:1001@198.51.100.7:5060>"
        assert h.send(sip("INVITE"), at=1.0) == [ringing]
        assert h.events() == []
        assert h.ua.active_sessions == 1

    def test_answer_sends_200_with_tag_contact_sdp_and_record_route(self) -> None:
        h = Harness()
        data = sip(
            "INVITE",
            headers=[
                "Record-Route: <sip:p1.example.net;lr>, <sip:p2.example.net:5070;lr;ftag=ft1>",
                "Record-Route: <sip:p3.example.net;lr>",
            ],
        )
        session = h.call(data)
        h.ua.answer(session, ANSWER, 1.0)
        (out,) = h.ua.outgoing()
        assert out.destination == PHONE
        ok = response_of(out)
        assert (ok.status, ok.reason) == (200, "OK")
        assert ok.to_tag == session.local_tag
        assert ok.from_tag == "ft1"
        assert ok.header("To") == f"<sip:1001@vm.example.com>;tag={session.local_tag}"
        assert ok.header("Contact") == "<sip:1001@198.51.100.7:5060>"
        assert ok.header("Content-Type") == "application/sdp"
        assert ok.body == ANSWER
        assert ok.header("Content-Length") == str(len(ANSWER))
        # §12.1.1: Record-Route copied into the 2xx, in order.
        assert ok.headers.get_all("Record-Route") == [
            "<sip:p1.example.net;lr>",
            "<sip:p2.example.net:5070;lr;ftag=ft1>",
            "<sip:p3.example.net;lr>",
        ]
        assert ok.cseq == (1, "INVITE")
        assert ok.top_via.branch == "z9hG4bKinv1"
        assert "INVITE" in (ok.header("Allow") or "")
        assert session.state is SessionState.ANSWERED

    def test_answer_twice_or_reject_with_2xx_is_a_local_error(self) -> None:
        h = Harness()
        session = h.answered()
        with pytest.raises(LocalProtocolError):
            h.ua.answer(session, ANSWER, 1.0)
        other = h.call(sip("INVITE", call_id="call-2", branch="z9hG4bKinv2"))
        with pytest.raises(LocalProtocolError):
            h.ua.reject(other, 200, 1.0)

    def test_contact_over_tcp_says_so(self) -> None:
        h = Harness()
        tcp = Address("TCP", "203.0.113.5", 40001)
        session = h.call(sip("INVITE", via="SIP/2.0/TCP 10.0.0.2:5062;branch={branch}"), tcp)
        h.ua.answer(session, ANSWER, 0.0)
        (out,) = h.ua.outgoing()
        assert response_of(out).header("Contact") == "<sip:1001@198.51.100.7:5060;transport=tcp>"
        assert out.destination == tcp

    def test_second_invite_with_a_new_branch_while_early_is_482(self) -> None:
        h = Harness()
        h.call()
        out = h.send(sip("INVITE", branch="z9hG4bKother"))
        assert [status(o) for o in out] == [482]
        assert h.events() == []


class TestTwoHundredRetransmission:
    def test_2xx_is_retransmitted_until_the_ack(self) -> None:
        # §13.3.1.4: T1, 2·T1, 4·T1 … capped at T2, until the ACK arrives.
        h = Harness()
        session = h.answered()
        sent = h.advance(9.0)
        assert [at for at, _ in sent] == [0.5, 1.5, 3.5, 7.5]
        assert {o.data for _, o in sent} == {sent[0][1].data}
        assert all(status(o) == 200 and o.destination == PHONE for _, o in sent)
        assert h.send(ack(session), at=9.0) == []  # ACKs are never answered
        (event,) = h.events()
        assert event == CallConfirmed(session)
        assert session.state is SessionState.CONFIRMED
        assert h.advance(100.0) == []
        assert h.events() == []
        # A retransmitted ACK changes nothing.
        assert h.send(ack(session)) == []
        assert h.events() == []

    def test_ack_with_the_wrong_cseq_does_not_stop_it(self) -> None:
        h = Harness()
        session = h.answered()
        assert h.send(ack(session, cseq=7)) == []
        assert h.events() == []
        assert [at for at, _ in h.advance(2.0)] == [0.5, 1.5]

    def test_no_ack_within_64_t1_sends_bye(self) -> None:
        # §13.3.1.4: after 64·T1 without an ACK the session is ended with a BYE.
        h = Harness()
        session = h.answered()
        sent = h.advance(64 * T1 - 0.001)
        assert [at for at, _ in sent] == BACKOFF
        assert all(status(o) == 200 for _, o in sent)
        assert h.events() == []
        sent = h.advance(64 * T1)
        assert [at for at, _ in sent] == [64 * T1]
        bye = request_of(sent[0][1])
        assert bye.method == "BYE"
        assert sent[0][1].destination == PHONE
        assert h.events() == [CallEnded(session, "ack-timeout")]
        assert session.state is SessionState.TERMINATED
        assert h.ua.active_sessions == 0
        # The phone answers the BYE; nothing more is sent (the BYE is not retransmitted).
        assert h.send(reply_to(bye, 200), at=32.2) == []
        assert h.advance(200.0) == []
        assert h.ua.next_deadline() is None

    def test_ack_reusing_the_invite_branch_still_confirms(self) -> None:
        # RFC 2543 clients send the 2xx ACK with the INVITE's branch; it matches the INVITE
        # transaction in Accepted, which passes it on to the core (RFC 6026 §7.1).
        h = Harness()
        session = h.answered()
        assert [at for at, _ in h.advance(0.7)] == [0.5]
        assert h.send(sip("ACK", to_tag=session.local_tag, contact=None)) == []
        assert h.events() == [CallConfirmed(session)]
        assert h.advance(100.0) == []

    def test_retransmitted_invite_after_the_200_is_absorbed(self) -> None:
        # RFC 6026 §7.1: in Accepted the INVITE server transaction absorbs retransmissions.
        h = Harness()
        session = h.answered()
        assert h.send(sip("INVITE"), at=0.2) == []
        assert h.events() == []
        assert h.ua.active_sessions == 1
        assert session.state is SessionState.ANSWERED


class TestCancel:
    def test_cancel_before_answer(self) -> None:
        # §9.2: 200 to the CANCEL, then 487 to the INVITE.
        h = Harness()
        session = h.call()
        out = h.send(sip("CANCEL", cseq=1, contact=None), at=1.0)
        assert [status(o) for o in out] == [200, 487]
        cancel_ok, terminated = (response_of(o) for o in out)
        assert cancel_ok.cseq == (1, "CANCEL")
        assert terminated.cseq == (1, "INVITE")
        assert terminated.to_tag == session.local_tag
        # §9.2: the To tags of the two responses SHOULD be the same.
        assert cancel_ok.to_tag == terminated.to_tag
        assert all(o.destination == PHONE for o in out)
        assert h.events() == [CallCancelled(session)]
        assert session.state is SessionState.TERMINATED
        assert h.ua.active_sessions == 0
        # The 487 is retransmitted (Timer G) until the ACK, which has the INVITE's branch.
        sent = h.advance(2.0)
        assert [(at, status(o)) for at, o in sent] == [(1.5, 487)]
        ack_487 = sip("ACK", to_tag=session.local_tag, contact=None)
        assert h.send(ack_487, at=2.0) == []
        assert h.advance(100.0) == []
        assert h.events() == []

    def test_retransmitted_cancel_gets_the_same_200(self) -> None:
        h = Harness()
        h.call()
        first = h.send(sip("CANCEL", contact=None), at=1.0)
        again = h.send(sip("CANCEL", contact=None), at=1.2)
        assert again == [first[0]]

    def test_cancel_for_an_unknown_transaction_is_481(self) -> None:
        h = Harness()
        h.call()
        out = h.send(sip("CANCEL", branch="z9hG4bKnope", contact=None))
        assert [status(o) for o in out] == [481]
        assert h.events() == []

    def test_cancel_after_the_answer_changes_nothing(self) -> None:
        h = Harness()
        session = h.answered()
        out = h.send(sip("CANCEL", contact=None), at=0.2)
        assert [status(o) for o in out] == [200]
        assert h.events() == []
        assert session.state is SessionState.ANSWERED


class TestReject:
    def test_reject_is_retransmitted_until_acked(self) -> None:
        h = Harness()
        session = h.call()
        h.ua.reject(session, 486, 0.0)
        (busy,) = h.ua.outgoing()
        assert (response_of(busy).status, response_of(busy).reason) == (486, "Busy Here")
        assert response_of(busy).to_tag == session.local_tag
        assert session.state is SessionState.TERMINATED
        assert [at for at, _ in h.advance(2.0)] == [0.5, 1.5]
        assert h.send(sip("ACK", to_tag=session.local_tag, contact=None), at=2.0) == []
        assert h.advance(100.0) == []
        assert h.ua.active_sessions == 0

    def test_bye_on_an_unanswered_call_rejects_it_with_480(self) -> None:
        h = Harness()
        session = h.call()
        h.ua.bye(session, 1.0)
        assert [status(o) for o in h.ua.outgoing()] == [480]
        h.ua.bye(session, 1.1)  # already terminated: nothing
        assert h.ua.outgoing() == []


class TestPeerBye:
    def test_bye_in_dialog(self) -> None:
        h = Harness()
        session = h.confirmed()
        out = h.send(in_dialog(session, "BYE", 2, "z9hG4bKbye1", contact=None), at=5.0)
        assert [status(o) for o in out] == [200]
        ok = response_of(out[0])
        assert ok.to_tag == session.local_tag
        assert ok.cseq == (2, "BYE")
        assert h.events() == [CallEnded(session, "bye")]
        assert session.state is SessionState.TERMINATED
        assert h.ua.active_sessions == 0
        # A retransmitted BYE gets the same 200 from the transaction.
        assert h.send(in_dialog(session, "BYE", 2, "z9hG4bKbye1", contact=None)) == out
        assert h.events() == []

    def test_an_ended_call_is_freed_while_its_transactions_absorb_retransmissions(self) -> None:
        """Timers J and L keep transactions 32 s: they must not keep the call (its requests,
        session and whatever the TU hung on it) alive that long, nor in the old generation."""
        gc.collect()
        gc.disable()  # freed by reference count, not by a collection
        try:
            h = Harness()
            session = h.confirmed()
            session.app = marker = _Marker()
            bye = in_dialog(session, "BYE", 2, "z9hG4bKbye1", contact=None)
            h.send(bye, at=5.0)
            h.events()
            alive = weakref.ref(marker)
            del session, marker
            assert alive() is None, gc.get_referrers(alive())
            assert [status(o) for o in h.send(bye)] == [200]  # still absorbed and answered
        finally:
            gc.enable()

    def test_bye_before_the_ack_ends_the_call_and_stops_retransmissions(self) -> None:
        h = Harness()
        session = h.answered()
        out = h.send(in_dialog(session, "BYE", 2, "z9hG4bKbye1", contact=None), at=0.2)
        assert [status(o) for o in out] == [200]
        assert h.events() == [CallEnded(session, "bye")]
        assert [status(o) for _, o in h.advance(100.0)] == []

    def test_bye_for_an_unknown_dialog_is_481(self) -> None:
        h = Harness()
        session = h.confirmed()
        out = h.send(sip("BYE", branch="z9hG4bKx", to_tag="nosuchtag", cseq=2, contact=None))
        assert [status(o) for o in out] == [481]
        out = h.send(sip("BYE", branch="z9hG4bKy", cseq=2, contact=None))  # no To tag
        assert [status(o) for o in out] == [481]
        assert h.events() == []
        assert session.state is SessionState.CONFIRMED

    def test_bye_cancels_a_pending_reinvite_with_487(self) -> None:
        # §15.1.2: pending requests get 487 when the dialog is ended by a BYE.
        h = Harness()
        session = h.confirmed()
        h.send(in_dialog(session, "INVITE", 2, "z9hG4bKre1"))
        assert isinstance(h.events()[0], ReInvite)
        out = h.send(in_dialog(session, "BYE", 3, "z9hG4bKbye1", contact=None))
        assert sorted((response_of(o).cseq, status(o)) for o in out) == [
            ((2, "INVITE"), 487),
            ((3, "BYE"), 200),
        ]


class TestOurRequests:
    def test_bye_without_route_set_goes_back_to_the_source(self) -> None:
        # §12.2.1.1: Request-URI = remote target (the INVITE's Contact), no Route;
        # sent to the address the INVITE came from (symmetric signalling behind NAT).
        h = Harness()
        session = h.confirmed()
        h.ua.bye(session, 10.0)
        (out,) = h.ua.outgoing()
        assert out.destination == PHONE
        bye = request_of(out)
        assert bye.method == "BYE"
        assert bye.uri == "sip:alice@10.0.0.2:5062"
        assert bye.headers.get_all("Route") == []
        # From and To swap: our tag on From, the caller's on To (§12.2.1.1).
        assert bye.name_addr("From").uri == "sip:1001@vm.example.com"
        assert bye.from_tag == session.local_tag
        assert bye.name_addr("To").uri == "sip:+15551000@example.com"
        assert bye.to_tag == "ft1"
        assert bye.call_id == "call-1@10.0.0.2"
        assert bye.cseq == (session.local_seq, "BYE")
        assert bye.header("Max-Forwards") == "70"
        via = bye.top_via
        assert (via.transport, via.host, via.port) == ("UDP", OURS, 5060)
        assert via.branch is not None and via.branch.startswith("z9hG4bK")
        assert "rport" in via.params
        assert session.state is SessionState.TERMINATED
        assert h.ua.active_sessions == 0

    def test_bye_is_retransmitted_until_answered(self) -> None:
        h = Harness()
        session = h.confirmed()
        h.ua.bye(session, 10.0)
        (out,) = h.ua.outgoing()
        sent = h.advance(12.0)
        assert [(at, o.data) for at, o in sent] == [(10.5, out.data), (11.5, out.data)]
        assert h.send(reply_to(request_of(out), 200), at=12.0) == []
        assert h.advance(200.0) == []
        assert h.events() == []  # the answer to our BYE is not an event

    def test_cseq_increases_across_our_requests(self) -> None:
        # §12.2.1.1: the local sequence number is incremented for each request.
        h = Harness()
        session = h.confirmed()
        h.ua.request(session, "INFO", 1.0, body=b"Signal=5\r\n", content_type="application/dtmf")
        h.ua.request(session, "OPTIONS", 1.0)
        h.ua.bye(session, 1.0)
        requests = [request_of(o) for o in h.ua.outgoing()]
        numbers = [r.cseq for r in requests]
        first = numbers[0][0]
        assert numbers == [(first, "INFO"), (first + 1, "OPTIONS"), (first + 2, "BYE")]
        # Each request is a new client transaction with its own branch (§8.1.1.7).
        assert len({r.top_via.branch for r in requests}) == 3
        assert requests[0].body == b"Signal=5\r\n"
        assert requests[0].header("Content-Type") == "application/dtmf"

    def test_request_completed_events(self) -> None:
        h = Harness()
        session = h.confirmed()
        h.ua.request(session, "INFO", 1.0)
        (out,) = h.ua.outgoing()
        info = request_of(out)
        assert h.send(reply_to(info, 200), at=1.2) == []
        (event,) = h.events()
        assert isinstance(event, RequestCompleted)
        assert event.method == "INFO"
        assert event.response is not None and event.response.status == 200
        # A request nobody answers ends with Timer F and response None.
        h.ua.request(session, "INFO", 2.0)
        h.ua.outgoing()
        h.advance(2.0 + 64 * T1)
        (event,) = h.events()
        assert event == RequestCompleted(session, "INFO", None)

    def test_loose_routing(self) -> None:
        # §12.2.1.1: first route has lr: Request-URI = remote target, Route = route set.
        h = Harness()
        data = sip(
            "INVITE",
            headers=["Record-Route: <sip:p1.example.net;lr>, <sip:p2.example.net:5070;lr>"],
        )
        session = h.confirmed(data)
        h.ua.bye(session, 5.0)
        (out,) = h.ua.outgoing()
        bye = request_of(out)
        assert bye.uri == "sip:alice@10.0.0.2:5062"
        assert bye.headers.get_all("Route") == [
            "<sip:p1.example.net;lr>",
            "<sip:p2.example.net:5070;lr>",
        ]
        assert out.destination == Address("UDP", "p1.example.net", 5060)

    def test_strict_routing(self) -> None:
        # §12.2.1.1: first route without lr: it becomes the Request-URI and the remote
        # target is appended as the last Route.
        h = Harness()
        data = sip(
            "INVITE",
            headers=[
                "Record-Route: <sip:p1.example.net:5080;transport=udp>, <sip:p2.example.net;lr>"
            ],
        )
        session = h.confirmed(data)
        h.ua.bye(session, 5.0)
        (out,) = h.ua.outgoing()
        bye = request_of(out)
        assert bye.uri == "sip:p1.example.net:5080;transport=udp"
        assert bye.headers.get_all("Route") == [
            "<sip:p2.example.net;lr>",
            "<sip:alice@10.0.0.2:5062>",
        ]
        assert out.destination == Address("UDP", "p1.example.net", 5080)

    def test_ipv6_local_host_is_bracketed_in_via(self) -> None:
        # RFC 5118 §4.5 / RFC 3261 §25.1: sent-by = host [ COLON port ], IPv6 in brackets.
        h = Harness(advertised_host="2001:db8::7")
        source = Address("UDP", "2001:db8::99", 5060)
        data = sip("INVITE", via="SIP/2.0/UDP [2001:db8::99]:5060;branch={branch}")
        session = h.confirmed(data, source)
        h.ua.bye(session, 5.0)
        (out,) = h.ua.outgoing()
        via = request_of(out).top_via
        assert (via.host, via.port) == ("2001:db8::7", 5060)
        assert out.destination == source

    def test_target_refresh_by_reinvite(self) -> None:
        # §12.2.2 (and RFC 6141 §4): a re-INVITE's Contact replaces the remote target.
        h = Harness()
        session = h.confirmed()
        h.send(in_dialog(session, "INVITE", 2, "z9hG4bKre1", contact="<sip:alice@10.0.0.3:5064>"))
        (event,) = h.events()
        assert isinstance(event, ReInvite)
        h.ua.respond(event.handle, 200, 1.0, body=ANSWER)
        h.ua.outgoing()
        h.send(ack(session, cseq=2, branch="z9hG4bKack2"))
        h.ua.bye(session, 2.0)
        (out,) = h.ua.outgoing()
        assert request_of(out).uri == "sip:alice@10.0.0.3:5064"


class TestReInvite:
    def test_reinvite_answered_and_its_2xx_retransmitted_until_ack(self) -> None:
        h = Harness()
        session = h.confirmed()
        out = h.send(in_dialog(session, "INVITE", 2, "z9hG4bKre1"), at=10.0)
        (event,) = h.events()
        assert isinstance(event, ReInvite)
        assert event.session is session
        assert event.handle.request.body == OFFER
        assert out == []  # the TU answers: no 100 is forced on it
        h.ua.respond(event.handle, 200, 10.1, body=ANSWER)
        (out200,) = h.ua.outgoing()
        ok = response_of(out200)
        assert ok.status == 200
        assert ok.cseq == (2, "INVITE")
        assert ok.to_tag == session.local_tag
        assert ok.header("Content-Type") == "application/sdp"
        assert ok.header("Contact") == "<sip:1001@198.51.100.7:5060>"
        assert ok.body == ANSWER
        sent = h.advance(12.0)
        assert [(round(at, 6), o.data) for at, o in sent] == [
            (10.6, out200.data),
            (11.6, out200.data),
        ]
        assert h.send(ack(session, cseq=2, branch="z9hG4bKack2"), at=12.0) == []
        assert h.events() == []  # the dialog was already confirmed
        assert h.advance(100.0) == []
        assert session.state is SessionState.CONFIRMED
        assert session.pending_reinvite is None

    def test_reinvite_rejected_with_488(self) -> None:
        h = Harness()
        session = h.confirmed()
        h.send(in_dialog(session, "INVITE", 2, "z9hG4bKre1"))
        (event,) = h.events()
        assert isinstance(event, ReInvite)
        h.ua.respond(event.handle, 488, 1.0)
        (out,) = h.ua.outgoing()
        assert status(out) == 488
        assert session.pending_reinvite is None
        assert session.state is SessionState.CONFIRMED

    def test_second_reinvite_while_one_is_pending_is_500_with_retry_after(self) -> None:
        # §14.2: 500 with a Retry-After between 0 and 10 seconds.
        h = Harness()
        session = h.confirmed()
        h.send(in_dialog(session, "INVITE", 2, "z9hG4bKre1"))
        assert isinstance(h.events()[0], ReInvite)
        out = h.send(in_dialog(session, "INVITE", 3, "z9hG4bKre2"))
        assert [status(o) for o in out] == [500]
        retry = response_of(out[0]).header("Retry-After")
        assert retry is not None and 0 <= int(retry) <= 10
        assert h.events() == []

    def test_reinvite_before_the_first_ack_is_500(self) -> None:
        h = Harness()
        session = h.answered()
        out = h.send(in_dialog(session, "INVITE", 2, "z9hG4bKre1"))
        assert [status(o) for o in out] == [500]
        assert response_of(out[0]).header("Retry-After") is not None

    def test_lower_cseq_in_dialog_is_500(self) -> None:
        # §12.2.2: a lower CSeq than the remote sequence number is out of order.
        h = Harness()
        session = h.confirmed()
        h.send(in_dialog(session, "INFO", 5, "z9hG4bKinfo5"))
        (event,) = h.events()
        assert isinstance(event, InDialogRequest)
        h.ua.respond(event.handle, 200, 0.0)
        assert [status(o) for o in h.ua.outgoing()] == [200]
        out = h.send(in_dialog(session, "INVITE", 4, "z9hG4bKre4"))
        assert [status(o) for o in out] == [500]
        assert h.events() == []
        out = h.send(in_dialog(session, "BYE", 3, "z9hG4bKbye3", contact=None))
        assert [status(o) for o in out] == [500]
        assert session.state is SessionState.CONFIRMED

    def test_in_dialog_options_and_unknown(self) -> None:
        h = Harness()
        session = h.confirmed()
        out = h.send(in_dialog(session, "OPTIONS", 2, "z9hG4bKo2", contact=None))
        assert [status(o) for o in out] == [200]
        assert response_of(out[0]).header("Allow") is not None
        out = h.send(in_dialog(session, "FOO", 3, "z9hG4bKf3", contact=None))
        assert [status(o) for o in out] == [501]
        out = h.send(in_dialog(session, "SUBSCRIBE", 4, "z9hG4bKs4", contact=None))
        assert [status(o) for o in out] == [405]


class TestOutOfDialog:
    def test_options_is_200_with_allow(self) -> None:
        h = Harness()
        out = h.send(sip("OPTIONS", branch="z9hG4bKopt", contact=None))
        assert [status(o) for o in out] == [200]
        ok = response_of(out[0])
        assert ok.headers.get_all("Allow") == [
            "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "NOTIFY", "REFER", "UPDATE",
            "SUBSCRIBE",
        ]  # fmt: skip
        assert ok.header("Accept") == "application/sdp"
        assert ok.to_tag  # §8.2.6.2: a final response out of a dialog carries a To tag
        assert h.events() == []
        assert h.ua.active_sessions == 0

    def test_register_is_405_with_allow(self) -> None:
        # §8.2.1: a method we know but do not support here: 405 with Allow.
        h = Harness()
        out = h.send(sip("REGISTER", uri="sip:198.51.100.7", branch="z9hG4bKreg", contact=None))
        assert [status(o) for o in out] == [405]
        assert response_of(out[0]).header("Allow") is not None

    def test_unknown_method_is_501(self) -> None:
        # §8.2.1: an unrecognized method gets 501.
        h = Harness()
        out = h.send(sip("FOO", branch="z9hG4bKfoo", contact=None))
        assert [status(o) for o in out] == [501]
        assert response_of(out[0]).header("Allow") is not None

    def test_retransmitted_non_invite_gets_the_same_answer(self) -> None:
        h = Harness()
        first = h.send(sip("OPTIONS", branch="z9hG4bKopt", contact=None))
        assert h.send(sip("OPTIONS", branch="z9hG4bKopt", contact=None), at=1.0) == first


class TestResponseRouting:
    def test_rport_answers_the_source_port_and_stamps_via(self) -> None:
        # RFC 3581 §4: received= and rport= in the top Via; answer the source address/port.
        h = Harness()
        out = h.send(sip("OPTIONS", branch="z9hG4bKopt", contact=None))
        assert out[0].destination == PHONE
        via = response_of(out[0]).top_via
        assert (via.host, via.port) == ("10.0.0.2", 5062)
        assert via.params["received"] == "203.0.113.5"
        assert via.params["rport"] == "40000"
        assert via.branch == "z9hG4bKopt"

    def test_without_rport_the_via_port_is_used(self) -> None:
        # §18.2.2: the received address, and the port from sent-by.
        h = Harness()
        data = sip("OPTIONS", via="SIP/2.0/UDP 10.0.0.2:5070;branch={branch}", contact=None)
        out = h.send(data)
        assert out[0].destination == Address("UDP", "203.0.113.5", 5070)
        via = response_of(out[0]).top_via
        assert via.params["received"] == "203.0.113.5"
        assert "rport" not in via.params

    def test_without_rport_or_port_5060_is_used(self) -> None:
        h = Harness()
        data = sip("OPTIONS", via="SIP/2.0/UDP 203.0.113.5;branch={branch}", contact=None)
        out = h.send(data)
        assert out[0].destination == Address("UDP", "203.0.113.5", 5060)
        # The sent-by host is the source address: no received= is added (§18.2.1).
        assert "received" not in response_of(out[0]).top_via.params

    def test_all_vias_are_copied_in_order(self) -> None:
        h = Harness()
        data = sip(
            "OPTIONS",
            via="SIP/2.0/UDP proxy.example.net;branch={branch}, "
            "SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bKphone;rport",
            contact=None,
        )
        out = h.send(data, source=Address("UDP", "192.0.2.50", 5060))
        vias = response_of(out[0]).vias
        assert [(v.host, v.branch) for v in vias] == [
            ("proxy.example.net", "z9hG4bKinv1"),
            ("10.0.0.2", "z9hG4bKphone"),
        ]
        assert vias[0].params["received"] == "192.0.2.50"
        assert vias[1].params["rport"] is None  # only the top Via is ours to stamp
        assert out[0].destination == Address("UDP", "192.0.2.50", 5060)

    def test_over_tcp_responses_go_back_on_the_connection(self) -> None:
        # §18.2.2: reliable transports answer over the connection the request came on.
        h = Harness()
        tcp = Address("TCP", "203.0.113.5", 51234)
        data = sip("INVITE", via="SIP/2.0/TCP 10.0.0.2:5062;branch={branch}")
        session = h.call(data, tcp)
        h.ua.answer(session, ANSWER, 0.0)
        (ok,) = h.ua.outgoing()
        assert ok.destination == tcp
        # 2xx retransmission still runs over TCP (§13.3.1.4 applies to every transport).
        assert [o.destination for _, o in h.advance(0.6)] == [tcp]
        assert h.send(ack(session), tcp) == []
        h.ua.bye(session, 1.0)
        (bye,) = h.ua.outgoing()
        assert bye.destination == tcp
        assert request_of(bye).top_via.transport == "TCP"
        assert h.advance(100.0) == []  # no Timer E over TCP

    def test_maddr_is_honoured(self) -> None:
        h = Harness()
        data = sip("OPTIONS", via="SIP/2.0/UDP 10.0.0.2;maddr=192.0.2.77;branch={branch}")
        out = h.send(data)
        assert out[0].destination == Address("UDP", "192.0.2.77", 5060)


class TestBadInput:
    def test_garbage_datagram_sends_nothing(self) -> None:
        h = Harness()
        for data in (b"", b"\x00\xff" * 40, b"hello world\r\n\r\n", b"\r\n\r\n"):
            assert h.send(data) == []
        assert h.events() == []

    def test_bad_content_length_with_routable_headers_gets_400(self) -> None:
        # §21.4.1 / RFC 4475 §3.1.2.x: answer 400 when a response can still be routed.
        h = Harness()
        data = sip("INVITE").replace(b"Content-Length: ", b"Content-Length: 9")
        out = h.send(data)
        assert len(out) == 1
        bad = response_of(out[0])
        assert bad.status == 400
        assert bad.call_id == "call-1@10.0.0.2"
        assert bad.cseq == (1, "INVITE")
        assert bad.top_via.branch == "z9hG4bKinv1"
        assert out[0].destination == PHONE  # rport in the Via
        assert h.events() == []
        assert h.ua.active_sessions == 0

    def test_negative_content_length_gets_400(self) -> None:
        h = Harness()
        data = sip("OPTIONS", contact=None).replace(b"Content-Length: 0", b"Content-Length: -5")
        assert [status(o) for o in h.send(data)] == [400]

    def test_unparseable_without_routable_headers_sends_nothing(self) -> None:
        h = Harness()
        data = sip("OPTIONS", contact=None).replace(b"Call-ID:", b"X-Call-ID:")
        data = data.replace(b"Content-Length: 0", b"Content-Length: x")
        assert h.send(data) == []

    def test_other_sip_version_gets_505(self) -> None:
        h = Harness()
        data = sip("OPTIONS", contact=None).replace(b" SIP/2.0\r\n", b" SIP/3.0\r\n", 1)
        assert [status(o) for o in h.send(data)] == [505]

    @pytest.mark.parametrize(
        ("old", "new", "code"),
        [
            (b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE", 400),
            (b"Call-ID: call-1@10.0.0.2\r\n", b"", 400),
            (b"CSeq: 1 OPTIONS", "CSeq: \u00b2 OPTIONS".encode(), 400),
            (b"Max-Forwards: 70", "Max-Forwards: \u00b9".encode(), 400),
            (b"OPTIONS sip:1001@", b"OPTIONS mailto:1001@", 416),
            (b"Max-Forwards: 70", b"Max-Forwards: 70\r\nCall-ID: second", 400),
        ],
    )
    def test_invalid_request_gets_an_error_response(
        self, old: bytes, new: bytes, code: int
    ) -> None:
        h = Harness()
        data = sip("OPTIONS", contact=None).replace(old, new)
        assert [status(o) for o in h.send(data)] == [code]

    def test_non_ascii_digit_in_via_port_is_not_a_crash(self) -> None:
        h = Harness()
        data = sip("OPTIONS", via="SIP/2.0/UDP 10.0.0.2:\u00b2;branch={branch}", contact=None)
        assert h.send(data) == []  # a response could not be routed by that Via

    def test_invite_with_contact_star_is_400(self) -> None:
        # §10.2.2: "*" is a REGISTER-only Contact; an INVITE's Contact must be a target.
        h = Harness()
        assert [status(o) for o in h.send(sip("INVITE", contact="*"))] == [400]
        assert h.events() == []

    def test_invite_with_unreadable_record_route_is_400(self) -> None:
        h = Harness()
        data = sip("INVITE", headers=["Record-Route: <sip:p1.example.net;lr"])
        assert [status(o) for o in h.send(data)] == [400]
        assert h.events() == []

    def test_a_response_never_produces_a_reply(self) -> None:
        h = Harness()
        session = h.confirmed()
        stray = (
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnothing\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        assert h.send(stray) == []
        assert h.send(stray.replace(b"Content-Length: 0", b"Content-Length: 99")) == []
        assert h.send(stray.replace(b"CSeq: 1 BYE", b"CSeq: x")) == []
        assert h.send(stray.replace(b"SIP/2.0 200", b"SIP/3.0 200")) == []
        assert h.events() == []
        assert session.state is SessionState.CONFIRMED

    def test_an_ack_never_produces_a_reply(self) -> None:
        h = Harness()
        assert h.send(sip("ACK", branch="z9hG4bKa", to_tag="unknown", contact=None)) == []
        assert h.send(sip("ACK", branch="z9hG4bKb", contact=None)) == []
        bad = sip("ACK", branch="z9hG4bKc", to_tag="x", contact=None)
        assert h.send(bad.replace(b"Content-Length: 0", b"Content-Length: 10")) == []
        assert h.send(bad.replace(b"CSeq: 1 ACK", b"CSeq: 1 BYE")) == []
        assert h.send(bad.replace(b" SIP/2.0\r\n", b" SIP/3.0\r\n", 1)) == []
        assert h.events() == []

    def test_ack_for_an_unknown_transaction_creates_nothing(self) -> None:
        h = Harness()
        h.send(sip("ACK", branch="z9hG4bKa", contact=None))
        assert h.ua.active_sessions == 0
        assert h.ua.next_deadline() is None


class TestRfc2543:
    """RFC 3261 §17.2.3: requests without the magic cookie are matched on their identity."""

    def test_retransmissions_are_matched_without_the_cookie(self) -> None:
        h = Harness()
        data = sip("INVITE", branch="1234abcd")
        session = h.call(data)
        assert [status(o) for o in h.send(data, at=0.5)] == [100]
        assert h.events() == []
        h.ua.answer(session, ANSWER, 1.0)
        h.ua.outgoing()
        assert h.send(data, at=1.2) == []  # absorbed in Accepted
        assert h.events() == []
        assert h.ua.active_sessions == 1

    def test_without_any_branch(self) -> None:
        h = Harness()
        data = sip("INVITE", via="SIP/2.0/UDP 10.0.0.2:5062;rport")
        h.call(data)
        assert [status(o) for o in h.send(data, at=0.5)] == [100]
        assert h.events() == []
        out = h.send(sip("CANCEL", via="SIP/2.0/UDP 10.0.0.2:5062;rport", contact=None))
        assert [status(o) for o in out] == [200, 487]

    def test_cancel_matches_the_invite(self) -> None:
        h = Harness()
        session = h.call(sip("INVITE", branch="1234abcd"))
        out = h.send(sip("CANCEL", branch="1234abcd", contact=None))
        assert [status(o) for o in out] == [200, 487]
        assert h.events() == [CallCancelled(session)]


def test_nothing_is_scheduled_when_idle() -> None:
    h = Harness()
    assert h.ua.next_deadline() is None
    h.ua.handle_timer(10.0)
    assert h.ua.outgoing() == []


def test_via_received_for_ipv6_source() -> None:
    h = Harness()
    source = Address("UDP", "2001:db8::99", 5062)
    out = h.send(sip("OPTIONS", via="SIP/2.0/UDP [2001:db8::1]:5062;branch={branch}"), source)
    via = response_of(out[0]).top_via
    assert via.params["received"] == "2001:db8::99"
    assert Via.parse(str(via)).host == "2001:db8::1"
    assert out[0].destination == Address("UDP", "2001:db8::99", 5062)


# ---- one invariant: whatever arrives, receive() returns; it never raises ------------------

_PIECES = st.sampled_from(
    [b"\r\n", b" ", b";", b",", b":", b"<", b">", b'"', b"=", b"0", b"9", b"\xc2\xb2", b"\xff",
     b"z9hG4bK", b"tag=", b"SIP/2.0", b"Content-Length: ", b"rport", b"[", b"]", b"ACK", b"@"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(sip("INVITE"))),
    cut=st.integers(min_value=0, max_value=30),
    insert=st.lists(_PIECES, max_size=6).map(b"".join),
    follow_up=st.sampled_from(["ACK", "BYE", "CANCEL", "INVITE"]),
)
def test_receive_never_raises(position: int, cut: int, insert: bytes, follow_up: str) -> None:
    h = Harness()
    base = sip("INVITE")
    h.send(base[:position] + insert + base[position + cut :])
    for event in h.events():
        if isinstance(event, IncomingCall):
            h.ua.answer(event.session, ANSWER, 0.1)
            request = sip(follow_up, to_tag=event.session.local_tag, cseq=2, branch="z9hG4bKf")
            h.send(request[:position] + insert + request[position + cut :], at=0.2)
    h.advance(100.0)
    for out in h.ua.outgoing():
        start = out.data.split(b"\r\n", 1)[0]
        assert re.fullmatch(rb"SIP/2\.0 [1-6]\d\d .*|[A-Z]+ \S+ SIP/2\.0", start), start


def test_name_addr_of_contact_used_as_target() -> None:
    h = Harness()
    session = h.call(sip("INVITE", contact='"Alice" <sip:alice@10.0.0.2:5062;ob>;expires=60'))
    assert session.remote_target == "sip:alice@10.0.0.2:5062;ob"
    assert NameAddr.parse(f"<{session.remote_target}>").sip_uri().params == {"ob": None}


def test_bye_before_ack_waits_for_the_ack() -> None:
    """RFC 3261 §15: no BYE on our side until the 2xx was ACKed (or timed out)."""
    h = Harness()
    session = h.answered()
    h.ua.bye(session, h.now)
    assert h.ua.outgoing() == []
    out = h.send(ack(session), at=0.3)
    assert [request_of(o).method for o in out] == ["BYE"]
    assert h.events() == []
    assert h.ua.active_sessions == 0


def test_default_tags_are_random_64_bit_hex_and_unique() -> None:
    """Without ``new_token`` tags come from a pool of ``os.urandom`` bytes: still unique
    when the pool is read again (512 tags per 4 KiB)."""
    ua = UserAgent(advertised_host=OURS, port=5060)
    tags = []
    for n in range(1200):
        ua.receive(sip("INVITE", call_id=f"c{n}", branch=f"z9hG4bK{n}"), PHONE, 0.0)
        (event,) = ua.events()
        assert isinstance(event, IncomingCall)
        tags.append(event.session.local_tag)
    assert all(re.fullmatch(r"[0-9a-f]{16}", tag) for tag in tags)
    assert len(set(tags)) == len(tags)
