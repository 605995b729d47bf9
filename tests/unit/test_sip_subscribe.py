"""Message-waiting subscriptions in the UAS core: bytes and a fake clock in, datagrams out.

RFC 6665 (SIP events) with the message-summary package of RFC 3842. The subscriber is a phone
behind NAT, as in test_sip_useragent.py: it writes 10.0.0.2:5062 in Via and Contact and its
packets arrive from 203.0.113.5:40000. Timers are RFC 3261's defaults (T1 = 0.5 s).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from afterbeep.sip.errors import LocalProtocolError, SipSyntaxError
from afterbeep.sip.message import Request, Response, parse_message
from afterbeep.sip.mwi import MessageSummary, lamp_counts, message_summary
from afterbeep.sip.useragent import (
    Address,
    Event,
    IncomingSubscribe,
    Outgoing,
    Subscription,
    SubscriptionEnded,
    SubscriptionPolicy,
    SubscriptionRefreshed,
    SubscriptionState,
    UnsolicitedNotifyCompleted,
    UserAgent,
)

PHONE = Address("UDP", "203.0.113.5", 40000)
OURS = "198.51.100.7"
BODY0 = message_summary("sip:*98@198.51.100.7", 0, 0)
BODY1 = message_summary("sip:*98@198.51.100.7", 1, 0)
BODY2 = message_summary("sip:*98@198.51.100.7", 2, 1)


def subscribe(
    *,
    uri: str = "sip:1001@198.51.100.7",
    branch: str = "z9hG4bKsub1",
    call_id: str = "sub-1@10.0.0.2",
    from_tag: str = "pt1",
    to_tag: str | None = None,
    cseq: int = 1,
    method: str = "SUBSCRIBE",
    event: str | None = "message-summary",
    expires: int | None = 600,
    contact: str | None = "<sip:phone@10.0.0.2:5062>",
    headers: Sequence[str] = (),
) -> bytes:
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 10.0.0.2:5062;branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:phone@example.com>;tag={from_tag}",
        "To: <sip:1001@vm.example.com>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
    ]
    if event is not None:
        lines.append(f"Event: {event}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if contact:
        lines.append(f"Contact: {contact}")
    lines += headers
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def request_of(out: Outgoing) -> Request:
    parsed = parse_message(out.data)
    assert isinstance(parsed, Request), out.data[:60]
    return parsed


def response_of(out: Outgoing) -> Response:
    parsed = parse_message(out.data)
    assert isinstance(parsed, Response), out.data[:60]
    return parsed


def reply_to(request: Request, code: int, *extra: str) -> bytes:
    """The phone's answer to a NOTIFY we sent."""
    head = [f"SIP/2.0 {code} X"]
    head += [f"Via: {v}" for v in request.headers.get_all("Via")]
    for name in ("From", "To", "Call-ID", "CSeq"):
        head.append(f"{name}: {request.header(name)}")
    return ("\r\n".join([*head, *extra, "Content-Length: 0"]) + "\r\n\r\n").encode()


class Harness:
    def __init__(self, policy: SubscriptionPolicy | None = None) -> None:
        counter = itertools.count(1)
        self.ua = UserAgent(
            advertised_host=OURS,
            port=5060,
            new_token=lambda: f"tok{next(counter)}",
            subscriptions=policy,
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

    def incoming(self, data: bytes | None = None) -> Subscription:
        assert self.send(data or subscribe()) == []  # a non-INVITE server transaction: no 100
        (event,) = self.events()
        assert isinstance(event, IncomingSubscribe)
        assert event.subscription.state is SubscriptionState.PENDING
        return event.subscription

    def active(self, data: bytes | None = None) -> tuple[Subscription, Request]:
        """Accept a SUBSCRIBE with BODY0; return the subscription and the first NOTIFY."""
        subscription = self.incoming(data)
        self.ua.accept_subscription(subscription, self.now, BODY0)
        ok, notify = self.ua.outgoing()
        assert response_of(ok).status == 200
        return subscription, request_of(notify)

    def answer(self, notify: Request, code: int = 200, *extra: str) -> list[Outgoing]:
        return self.send(reply_to(notify, code, *extra))


def in_dialog(subscription: Subscription, cseq: int, branch: str, **kwargs: object) -> bytes:
    return subscribe(to_tag=subscription.local_tag, cseq=cseq, branch=branch, **kwargs)  # type: ignore[arg-type]


# ---- the body (RFC 3842) -------------------------------------------------------------------


class TestMessageSummary:
    def test_body_lines_are_crlf_terminated(self) -> None:
        # RFC 3842's grammar and its example body.
        body = message_summary("sip:alice@vmail.example.com", 2, 8, 0, 2)
        assert body == (
            b"Messages-Waiting: yes\r\n"
            b"Message-Account: sip:alice@vmail.example.com\r\n"
            b"Voice-Message: 2/8 (0/2)\r\n"
        )

    def test_no_new_messages_is_no(self) -> None:
        assert message_summary("sip:*98@vm", 0, 3).startswith(b"Messages-Waiting: no\r\n")
        assert b"Voice-Message: 0/3 (0/0)\r\n" in message_summary("sip:*98@vm", 0, 3)

    def test_round_trip(self) -> None:
        summary = MessageSummary("sip:*98@vm.example.com", 4, 7, 1, 2)
        assert MessageSummary.parse(bytes(summary)) == summary

    def test_parse_rfc_example_with_other_classes(self) -> None:
        # RFC 3842's example, with another class (read past).
        body = (
            b"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\n"
            b"Voice-Message: 2/8 (0/2)\r\nFax-Message: 1/0\r\n"
        )
        assert MessageSummary.parse(body) == MessageSummary(
            "sip:alice@vmail.example.com", 2, 8, 0, 2
        )

    @pytest.mark.parametrize(
        "body",
        [b"", b"Messages-Waiting: maybe\r\n", b"Messages-Waiting: yes\r\nVoice-Message: x/1\r\n"],
    )
    def test_parse_rejects_garbage(self, body: bytes) -> None:
        with pytest.raises(SipSyntaxError):
            MessageSummary.parse(body)

    @pytest.mark.parametrize(
        ("account", "counts"),
        [("sip:a@b", (-1, 0, 0, 0)), ("sip:a@b", (1, 0, 2, 0)), ("x\r\nEvil: 1", (0, 0, 0, 0))],
    )
    def test_invalid_values(self, account: str, counts: tuple[int, int, int, int]) -> None:
        with pytest.raises(ValueError):
            message_summary(account, *counts)

    def test_lamp_counts_old_is_every_kept_heard_message(self) -> None:
        folders = {"new": 2, "old": 1, "saved": 3, "work": 1, "family": 1, "friends": 1}
        assert lamp_counts({**folders, "deleted": 5, "projects": 2}) == (2, 9)
        assert lamp_counts({}) == (0, 0)
        assert lamp_counts({"deleted": 4}) == (0, 0)


# ---- a new subscription (RFC 6665 §4.2.1) --------------------------------------------------


class TestSubscribe:
    def test_incoming_subscribe_carries_the_dialog(self) -> None:
        h = Harness()
        record_route = "Record-Route: <sip:proxy.example.net;lr>"
        subscription = h.incoming(subscribe(headers=[record_route]))
        assert subscription.resource == "1001"
        assert subscription.event == "message-summary"
        assert subscription.expires == 600
        assert subscription.remote_target == "sip:phone@10.0.0.2:5062"
        assert subscription.route_set == ["<sip:proxy.example.net;lr>"]
        assert subscription.remote_tag == "pt1"
        assert subscription.source == PHONE
        assert h.ua.notifier.find(*subscription.dialog_id) is None  # not until accepted

    def test_accept_answers_200_and_notifies_at_once(self) -> None:
        h = Harness()
        subscription = h.incoming()
        h.ua.accept_subscription(subscription, 0.0, BODY0)
        ok_out, notify_out = h.ua.outgoing()
        ok = response_of(ok_out)
        assert ok_out.destination == PHONE
        assert (ok.status, ok.reason) == (200, "OK")
        assert ok.to_tag == subscription.local_tag
        assert ok.header("Expires") == "600"
        assert ok.header("Contact") == "<sip:1001@198.51.100.7:5060>"
        assert ok.header("Allow-Events") == "message-summary"
        notify = request_of(notify_out)
        assert notify_out.destination == PHONE  # symmetric, like BYE: not the private Contact
        assert notify.method == "NOTIFY"
        assert notify.uri == "sip:phone@10.0.0.2:5062"  # §12.2.1.1: the remote target
        assert notify.call_id == "sub-1@10.0.0.2"
        assert notify.from_tag == subscription.local_tag
        assert notify.to_tag == "pt1"
        assert notify.header("From") == f"<sip:1001@vm.example.com>;tag={subscription.local_tag}"
        assert notify.header("To") == "<sip:phone@example.com>;tag=pt1"
        assert notify.header("Event") == "message-summary"
        assert notify.header("Subscription-State") == "active;expires=600"
        assert notify.header("Content-Type") == "application/simple-message-summary"
        assert notify.header("Contact") == "<sip:1001@198.51.100.7:5060>"
        assert notify.body == BODY0
        assert notify.cseq[1] == "NOTIFY"
        assert subscription.state is SubscriptionState.ACTIVE
        assert h.ua.notifier.find(*subscription.dialog_id) is subscription
        assert h.events() == []

    def test_notify_follows_the_route_set(self) -> None:
        h = Harness()
        rr = "Record-Route: <sip:proxy.example.net:5070;lr>"
        subscription = h.incoming(subscribe(headers=[rr]))
        h.ua.accept_subscription(subscription, 0.0, BODY0)
        _, notify_out = h.ua.outgoing()
        assert notify_out.destination == Address("UDP", "proxy.example.net", 5070)
        notify = request_of(notify_out)
        assert notify.headers.get_all("Route") == ["<sip:proxy.example.net:5070;lr>"]
        assert notify.uri == "sip:phone@10.0.0.2:5062"

    def test_expires_above_the_maximum_is_lowered(self) -> None:
        h = Harness()
        subscription = h.incoming(subscribe(expires=86400))
        assert subscription.expires == 3600
        h.ua.accept_subscription(subscription, 0.0)
        (ok,) = h.ua.outgoing()
        assert response_of(ok).header("Expires") == "3600"

    def test_no_expires_gets_the_default(self) -> None:
        h = Harness(SubscriptionPolicy(min_expires=30, default_expires=900, max_expires=1800))
        assert h.incoming(subscribe(expires=None)).expires == 900

    def test_expires_below_the_minimum_is_423(self) -> None:
        h = Harness()
        (out,) = h.send(subscribe(expires=30))
        too_brief = response_of(out)
        assert (too_brief.status, too_brief.reason) == (423, "Interval Too Brief")
        assert too_brief.header("Min-Expires") == "60"
        assert too_brief.to_tag  # a final response out of a dialog carries a To tag
        assert h.events() == []

    def test_other_event_packages_get_489_with_allow_events(self) -> None:
        h = Harness()
        (out,) = h.send(subscribe(event="presence"))
        bad = response_of(out)
        assert (bad.status, bad.reason) == (489, "Bad Event")
        assert bad.header("Allow-Events") == "message-summary"
        assert h.events() == []

    def test_missing_event_is_400(self) -> None:
        h = Harness()
        (out,) = h.send(subscribe(event=None))
        assert response_of(out).status == 400

    def test_event_with_id_and_compact_form(self) -> None:
        # RFC 6665 §7.2: "o" is Event's compact form; the id is echoed in NOTIFYs.
        h = Harness()
        data = subscribe(event=None, headers=["o: Message-Summary;id=7"])
        _, notify = h.active(data)
        assert notify.header("Event") == "Message-Summary;id=7"

    def test_unacceptable_accept_is_406(self) -> None:
        h = Harness()
        (out,) = h.send(subscribe(headers=["Accept: application/pidf+xml"]))
        not_acceptable = response_of(out)
        assert not_acceptable.status == 406
        assert not_acceptable.header("Accept") == "application/simple-message-summary"
        h2 = Harness()
        h2.incoming(subscribe(headers=["Accept: application/simple-message-summary"]))

    def test_reject_forbidden_and_not_found(self) -> None:
        h = Harness()
        subscription = h.incoming()
        h.ua.reject_subscription(subscription, 403, 0.0)
        (out,) = h.ua.outgoing()
        forbidden = response_of(out)
        assert (forbidden.status, forbidden.reason) == (403, "Forbidden")
        assert forbidden.to_tag == subscription.local_tag
        assert subscription.state is SubscriptionState.TERMINATED
        with pytest.raises(LocalProtocolError):
            h.ua.accept_subscription(subscription, 0.0)
        with pytest.raises(LocalProtocolError):
            h.ua.reject_subscription(h.incoming(subscribe(branch="z9hG4bKb")), 200, 0.0)

    def test_retransmitted_subscribe_is_absorbed_then_answered_again(self) -> None:
        h = Harness()
        subscription = h.incoming()
        assert h.send(subscribe(), at=0.5) == []  # Trying: absorbed while the TU looks up
        assert h.events() == []
        h.ua.accept_subscription(subscription, 0.6, BODY0)
        ok, _ = h.ua.outgoing()
        again = h.send(subscribe(), at=1.0)
        assert [o.data for o in again] == [ok.data]

    def test_notify_before_accept_is_a_local_error(self) -> None:
        h = Harness()
        subscription = h.incoming()
        with pytest.raises(LocalProtocolError):
            h.ua.notify(subscription, BODY0, 0.0)

    def test_fetch_with_expires_zero_is_one_terminated_notify(self) -> None:
        # RFC 6665 §4.4.3: a SUBSCRIBE with Expires: 0 fetches the state once.
        h = Harness()
        subscription = h.incoming(subscribe(expires=0))
        h.ua.accept_subscription(subscription, 0.0, BODY1)
        ok, notify_out = h.ua.outgoing()
        assert response_of(ok).header("Expires") == "0"
        notify = request_of(notify_out)
        assert notify.header("Subscription-State") == "terminated;reason=timeout"
        assert notify.body == BODY1
        (ended,) = h.events()
        assert isinstance(ended, SubscriptionEnded) and ended.reason == "timeout"
        assert len(h.ua.notifier) == 0

    def test_a_new_subscribe_with_the_same_call_id_and_tag_replaces_the_old(self) -> None:
        h = Harness()
        old, _ = h.active()
        new, _ = h.active(subscribe(branch="z9hG4bKsub2", cseq=2))
        assert old.state is SubscriptionState.TERMINATED
        (ended,) = h.events()
        assert isinstance(ended, SubscriptionEnded) and ended.subscription is old
        assert ended.reason == "replaced"
        assert list(h.ua.notifier) == [new]

    def test_too_many_subscriptions_is_503(self) -> None:
        h = Harness(SubscriptionPolicy(max_subscriptions=1))
        h.active()
        (out,) = h.send(subscribe(call_id="other", branch="z9hG4bKother"))
        assert response_of(out).status == 503
        assert response_of(out).header("Retry-After") == "60"

    def test_options_advertise_subscribe_and_the_package(self) -> None:
        h = Harness()
        data = subscribe(method="OPTIONS", event=None, expires=None, branch="z9hG4bKo")
        (out,) = h.send(data)
        ok = response_of(out)
        assert "SUBSCRIBE" in ok.headers.get_all("Allow")
        assert ok.header("Allow-Events") == "message-summary"


# ---- notifications (RFC 6665 §4.2.2) -------------------------------------------------------


class TestNotify:
    def test_notify_carries_the_remaining_time_and_increasing_cseq(self) -> None:
        h = Harness()
        subscription, first = h.active()
        assert h.answer(first) == []
        h.now = 100.2
        h.ua.notify(subscription, BODY1, h.now)
        (out,) = h.ua.outgoing()
        second = request_of(out)
        assert second.header("Subscription-State") == "active;expires=500"
        assert second.cseq[0] == first.cseq[0] + 1
        assert second.body == BODY1
        assert second.header("Via") != first.header("Via")  # a new branch per transaction

    def test_one_notify_in_flight_the_latest_state_follows(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.ua.notify(subscription, BODY1, 0.1)
        h.ua.notify(subscription, BODY2, 0.2)
        assert h.ua.outgoing() == []  # waits for the first NOTIFY's answer
        (out,) = h.answer(first)
        following = request_of(out)
        assert following.body == BODY2
        assert following.cseq[0] == first.cseq[0] + 1
        assert h.answer(following) == []

    def test_notify_is_retransmitted_on_udp(self) -> None:
        # §17.1.2.2: Timer E at T1, 2·T1, 4·T1…
        h = Harness()
        _, first = h.active()
        resent = h.advance(1.6)
        assert [at for at, _ in resent] == [0.5, 1.5]
        assert all(request_of(o).cseq == first.cseq for _, o in resent)

    def test_481_ends_the_subscription(self) -> None:
        h = Harness()
        subscription, first = h.active()
        assert h.answer(first, 481) == []
        (ended,) = h.events()
        assert isinstance(ended, SubscriptionEnded)
        assert (ended.subscription, ended.reason) == (subscription, "rejected")
        assert subscription.state is SubscriptionState.TERMINATED
        h.ua.notify(subscription, BODY1, 1.0)  # a late change: ignored
        assert h.ua.outgoing() == []
        # The phone's refresh of the forgotten dialog: 481, so it subscribes anew.
        (out,) = h.send(in_dialog(subscription, 2, "z9hG4bKr2"))
        assert response_of(out).status == 481

    def test_a_failure_with_retry_after_keeps_the_subscription(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.answer(first, 503, "Retry-After: 5")
        assert h.events() == []
        assert subscription.state is SubscriptionState.ACTIVE

    def test_no_answer_ends_the_subscription(self) -> None:
        h = Harness()
        h.active()
        h.advance(64 * 0.5)  # Timer F
        (ended,) = h.events()
        assert isinstance(ended, SubscriptionEnded) and ended.reason == "no-response"
        assert len(h.ua.notifier) == 0

    def test_terminate_from_our_side(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.answer(first)
        h.ua.terminate_subscription(subscription, 10.0)
        (out,) = h.ua.outgoing()
        last = request_of(out)
        assert last.header("Subscription-State") == "terminated;reason=noresource"
        (ended,) = h.events()
        assert isinstance(ended, SubscriptionEnded) and ended.reason == "local"


# ---- refresh, unsubscribe, expiry (RFC 6665 §4.1.2, §4.2.1) --------------------------------


class TestRefresh:
    def test_refresh_sets_a_new_expiry_and_notifies(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.answer(first)
        out = h.send(in_dialog(subscription, 2, "z9hG4bKr2", expires=1200), at=500.0)
        ok, notify_out = out
        assert response_of(ok).status == 200
        assert response_of(ok).header("Expires") == "1200"
        assert response_of(ok).to_tag == subscription.local_tag
        notify = request_of(notify_out)
        assert notify.header("Subscription-State") == "active;expires=1200"
        assert notify.body == BODY0  # the state, at once (RFC 6665 §4.2.1)
        (event,) = h.events()
        assert isinstance(event, SubscriptionRefreshed)
        assert subscription.expires_at == 1700.0
        h.answer(notify)
        # The old expiry (600) passes without a word.
        assert [o for _, o in h.advance(1000.0)] == []
        assert subscription.state is SubscriptionState.ACTIVE

    def test_refresh_updates_the_remote_target(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.answer(first)
        moved = "<sip:phone@10.0.0.9:5064>"
        _, notify_out = h.send(in_dialog(subscription, 2, "z9hG4bKr2", contact=moved))
        assert request_of(notify_out).uri == "sip:phone@10.0.0.9:5064"

    def test_refresh_too_brief_is_423_and_keeps_the_old_expiry(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.answer(first)
        (out,) = h.send(in_dialog(subscription, 2, "z9hG4bKr2", expires=10))
        assert response_of(out).status == 423
        assert subscription.expires_at == 600.0

    def test_refresh_for_another_package_is_489(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.answer(first)
        (out,) = h.send(in_dialog(subscription, 2, "z9hG4bKr2", event="presence"))
        assert response_of(out).status == 489

    def test_out_of_order_cseq_is_500(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.answer(first)
        h.send(in_dialog(subscription, 5, "z9hG4bKr5"))
        (out,) = h.send(in_dialog(subscription, 4, "z9hG4bKr4"))
        assert response_of(out).status == 500

    def test_unsubscribe_answers_200_then_a_terminated_notify(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.answer(first)
        ok, notify_out = h.send(in_dialog(subscription, 2, "z9hG4bKu2", expires=0), at=30.0)
        assert response_of(ok).status == 200
        assert response_of(ok).header("Expires") == "0"
        notify = request_of(notify_out)
        assert notify.header("Subscription-State") == "terminated;reason=timeout"
        assert notify.body == BODY0
        (ended,) = h.events()
        assert isinstance(ended, SubscriptionEnded) and ended.reason == "unsubscribed"
        assert len(h.ua.notifier) == 0
        assert h.answer(notify) == []
        assert h.advance(700.0) == []  # no expiry timer left behind

    def test_expiry_without_refresh_sends_the_terminated_notify(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.answer(first)
        assert h.events() == []
        sent = h.advance(600.0)
        (at, out) = sent[0]
        assert at == 600.0
        notify = request_of(out)
        assert notify.header("Subscription-State") == "terminated;reason=timeout"
        (ended,) = h.events()
        assert isinstance(ended, SubscriptionEnded) and ended.reason == "timeout"
        assert subscription.state is SubscriptionState.TERMINATED

    def test_other_requests_in_the_dialog(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.answer(first)
        data = in_dialog(subscription, 2, "z9hG4bKx", method="OPTIONS", event=None, expires=None)
        (out,) = h.send(data)
        assert response_of(out).status == 200
        data = in_dialog(subscription, 3, "z9hG4bKy", method="INFO", event=None, expires=None)
        (out,) = h.send(data)
        assert response_of(out).status == 405

    def test_restore_after_a_restart(self) -> None:
        h = Harness()
        subscription, first = h.active()
        h.answer(first)
        h.ua.notify(subscription, BODY1, 50.0)
        (out,) = h.ua.outgoing()
        h.answer(request_of(out))
        kept = subscription.snapshot(100.0)
        # A new user agent (the restarted server, its loop clock elsewhere) takes it back.
        fresh = Harness()
        restored = Subscription.from_snapshot(kept, 7.0)
        assert restored.dialog_id == subscription.dialog_id
        assert restored.expires_at == 507.0
        assert restored.last_body == BODY1
        assert fresh.ua.notifier.restore(restored, 7.0)
        fresh.ua.notify(restored, BODY2, 7.0)
        (out,) = fresh.ua.outgoing()
        notify = request_of(out)
        assert notify.cseq[0] > first.cseq[0] + 1  # past whatever went out after the snapshot
        assert notify.header("Subscription-State") == "active;expires=500"
        assert notify.header("To") == "<sip:phone@example.com>;tag=pt1"
        assert out.destination == PHONE
        (out,) = fresh.send(in_dialog(restored, 2, "z9hG4bKr2"))  # its refresh is known
        assert response_of(out).status == 200
        late = Subscription.from_snapshot({**kept, "expires_in": -1.0}, 7.0)
        assert not Harness().ua.notifier.restore(late, 7.0)
        with pytest.raises(ValueError):
            Subscription.from_snapshot({"call_id": "x"}, 0.0)


# ---- unsolicited NOTIFY --------------------------------------------------------------------


class TestUnsolicited:
    def test_out_of_dialog_notify_to_a_configured_phone(self) -> None:
        h = Harness()
        h.ua.unsolicited_notify("sip:phone@192.0.2.10:5062", BODY1, 0.0, from_user="*98")
        (out,) = h.ua.outgoing()
        assert out.destination == Address("UDP", "192.0.2.10", 5062)
        notify = request_of(out)
        assert notify.method == "NOTIFY"
        assert notify.uri == "sip:phone@192.0.2.10:5062"
        assert notify.to_tag is None  # out of any dialog
        assert notify.header("To") == "<sip:phone@192.0.2.10:5062>"
        assert notify.from_tag
        assert (notify.header("From") or "").startswith("<sip:*98@198.51.100.7>;tag=")
        assert notify.header("Event") == "message-summary"
        assert notify.header("Subscription-State") == "active"
        assert notify.header("Content-Type") == "application/simple-message-summary"
        assert notify.header("Contact") == "<sip:*98@198.51.100.7:5060>"
        assert notify.cseq == (1, "NOTIFY")
        assert notify.top_via.host == OURS
        assert notify.body == BODY1
        assert h.answer(notify) == []
        (done,) = h.events()
        assert isinstance(done, UnsolicitedNotifyCompleted)
        assert done.target == "sip:phone@192.0.2.10:5062"
        assert done.response is not None and done.response.status == 200

    def test_each_notify_is_a_new_call_id(self) -> None:
        h = Harness()
        h.ua.unsolicited_notify("sip:phone@192.0.2.10", BODY0, 0.0)
        h.ua.unsolicited_notify("sip:phone@192.0.2.10;transport=tcp", BODY1, 0.0)
        first, second = h.ua.outgoing()
        assert first.destination == Address("UDP", "192.0.2.10", 5060)
        assert second.destination == Address("TCP", "192.0.2.10", 5060)
        assert request_of(first).call_id != request_of(second).call_id
        assert (request_of(second).header("Via") or "").startswith("SIP/2.0/TCP ")

    def test_no_answer_is_reported(self) -> None:
        h = Harness()
        h.ua.unsolicited_notify("sip:phone@192.0.2.10", BODY0, 0.0)
        h.ua.outgoing()
        h.advance(32.0)
        (done,) = h.events()
        assert isinstance(done, UnsolicitedNotifyCompleted) and done.response is None

    def test_needs_an_address_to_send_from(self) -> None:
        ua = UserAgent(advertised_host=None)
        with pytest.raises(LocalProtocolError):
            ua.unsolicited_notify("sip:phone@192.0.2.10", BODY0, 0.0)
        ua.unsolicited_notify("sip:phone@192.0.2.10", BODY0, 0.0, local_host="192.0.2.1")
        (out,) = ua.outgoing()
        assert request_of(out).top_via.host == "192.0.2.1"
