"""The sans-IO user agent server core: transactions, dialogs and sessions in one object.

Bytes and the time go in (``receive``, ``handle_timer``); datagrams to send and events come
out (``outgoing()``, ``events()``). The asyncio shell in ``net/`` only moves bytes and arms
one timer for ``next_deadline()``. Nothing here reads the clock or touches a socket.
"""

from __future__ import annotations

import os
import random
import re
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Protocol

from afterbeep.sip.dialog import (
    REASONS,
    Address,
    CallCancelled,
    CallConfirmed,
    CallEnded,
    IncomingCall,
    InDialogRequest,
    Outgoing,
    ReInvite,
    RequestCompleted,
    ServerRequest,
    Session,
    SessionState,
    make_response,
)
from afterbeep.sip.dialog import Event as DialogEvent
from afterbeep.sip.errors import LocalProtocolError, SipSyntaxError
from afterbeep.sip.message import (
    Headers,
    Request,
    Response,
    Via,
    parse_message,
    validate_request,
)
from afterbeep.sip.mwi import CONTENT_TYPE, EVENT_PACKAGE
from afterbeep.sip.subscription import (
    ALLOW_EVENTS,
    IncomingSubscribe,
    Notifier,
    Subscription,
    SubscriptionEnded,
    SubscriptionEvent,
    SubscriptionPolicy,
    SubscriptionRefreshed,
    SubscriptionState,
    UnsolicitedNotifyCompleted,
)
from afterbeep.sip.timers import TimerHeap
from afterbeep.sip.transaction import (
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
    State,
    TimerConfig,
)
from afterbeep.sip.uri import NameAddr, SipUri

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7
SHED_RETRY_AFTER = 5  # seconds a caller refused for overload is asked to wait
# SUBSCRIBE only for the message-summary package (Allow-Events); others get 489.
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER, UPDATE, SUBSCRIBE"
# Methods we know and refuse out of a dialog with 405 (others get 501, §8.2.1).
KNOWN_METHODS = frozenset(
    {"REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE", "REFER", "NOTIFY", "INFO", "UPDATE", "PRACK"}
)

Event = DialogEvent | SubscriptionEvent

__all__ = [
    "ALLOW",
    "MAGIC_COOKIE",
    "REASONS",
    "Address",
    "CallCancelled",
    "CallConfirmed",
    "CallEnded",
    "Event",
    "InDialogRequest",
    "IncomingCall",
    "IncomingSubscribe",
    "Outgoing",
    "ReInvite",
    "RequestCompleted",
    "ServerRequest",
    "Session",
    "SessionState",
    "Subscription",
    "SubscriptionEnded",
    "SubscriptionPolicy",
    "SubscriptionRefreshed",
    "SubscriptionState",
    "UnsolicitedNotifyCompleted",
    "UserAgent",
    "make_response",
]


class _Routed(Protocol):
    """What routing an in-dialog request needs: a Session or a Subscription."""

    source: Address
    remote_target: str
    route_set: list[str]


_SENDERS_KEPT = 4096  # peers whose sender is kept for reuse (dropped all at once beyond)


class _Sender:
    """Queues what a transaction sends to one peer (``outgoing()`` swaps the queue)."""

    __slots__ = ("_ua", "destination")

    def __init__(self, ua: UserAgent, destination: Address) -> None:
        self._ua = ua
        self.destination = destination

    def __call__(self, data: bytes) -> None:
        self._ua._out.append(Outgoing(data, self.destination))


class _Resend2xx:
    """One 2xx's retransmissions until its ACK. An object, not a closure: a closure that
    schedules itself refers to itself, and that cycle kept every answered call's session
    alive until a full garbage collection."""

    __slots__ = ("_data", "_deadline", "_interval", "_send", "_seq", "_session", "_ua")

    def __init__(self, ua: UserAgent, session: Session, cseq: int, data: bytes, deadline: float):
        self._ua = ua
        self._session = session
        self._seq = cseq
        self._data = data
        self._deadline = deadline
        self._interval = 0.0
        self._send = ua._sender(ua._response_destination(session.invite, session.source))

    def schedule(self, now: float, interval: float) -> None:
        self._interval = interval
        when = min(now + interval, self._deadline)
        self._session._unacked = (self._seq, self._ua._timers.schedule(when, self.fire))

    def fire(self, at: float) -> None:
        session = self._session
        if session.state is SessionState.TERMINATED:
            return
        if at >= self._deadline:
            self._ua._give_up_2xx(session, at)
            return
        self._send(self._data)
        self.schedule(at, min(2 * self._interval, self._ua._config.t2))


# Header lines a lenient scan looks for, to answer 400 to a request that would not parse.
_LINE = re.compile(rb"(?im)^(via|v|from|f|to|t|call-id|i|cseq)[ \t]*:[ \t]*(.*?)\r?$")


class _Entropy:
    """Tags and branches (§19.3: cryptographically random, at least 32 bits) cut from
    ``os.urandom`` read 4 KiB at a time rather than with a system call each."""

    __slots__ = ("_pool", "_position")

    def __init__(self) -> None:
        self._pool = b""
        self._position = 0

    def token(self) -> str:
        """16 hexadecimal digits (64 random bits)."""
        position = self._position
        if position + 8 > len(self._pool):
            self._pool, position = os.urandom(4096), 0
        self._position = position + 8
        return self._pool[position : position + 8].hex()


class UserAgent:
    """The SIP core of a voicemail server: answers calls, never places them."""

    def __init__(
        self,
        *,
        advertised_host: str | None = None,
        port: int = 5060,
        server_name: str = "afterbeep",
        timers: TimerConfig | None = None,
        new_token: Callable[[], str] | None = None,
        subscriptions: SubscriptionPolicy | None = None,
        trying_after: float = 0.0,
    ) -> None:
        """``trying_after``: seconds to wait for the TU's own response to an INVITE before
        sending 100 Trying (up to 0.2, §17.2.1); a server that answers at once saves a
        message per call."""
        self.advertised_host = advertised_host
        self._trying_after = trying_after
        self.port = port
        self.server_name = server_name
        self._config = timers or TimerConfig()
        self._token = new_token or _Entropy().token
        self._timers = TimerHeap()
        self._out: list[Outgoing] = []
        self._events: deque[Event] = deque()
        # Only the transactions: they outlive their requests by up to 32 s (Timers J and L)
        # to absorb retransmissions, and must not keep requests, sessions and calls alive.
        self._server_tx: dict[tuple[str, ...], ServerTransaction] = {}
        self._client_tx: dict[tuple[str, str], NonInviteClientTransaction] = {}
        self._dialogs: dict[tuple[str, str, str], Session] = {}
        self._early: dict[tuple[str, str], Session] = {}  # (Call-ID, From tag) before a 2xx
        self._now = 0.0  # the time of the call being handled: client transactions' answers
        self._senders: dict[Address, _Sender] = {}
        self.calls_shed = 0  # new calls refused with 503 because the shell was behind
        self.notifier = Notifier(
            subscriptions or SubscriptionPolicy(), self._timers, self._events.append,
            self._subscription_request, self._subscription_contact, self._token, ALLOW,
        )  # fmt: skip

    # ---- the shell's side -------------------------------------------------------------------

    def receive(self, data: bytes, source: Address, now: float, *, shed: bool = False) -> None:
        """One datagram (or one framed stream message) from ``source``. ``shed``: the shell
        is overloaded (the message waited too long to be read): a new call (and an OPTIONS
        probe) is refused with 503 and Retry-After (§21.5.4), so the caller or its proxy
        tries elsewhere or later, while calls already up go on."""
        self._now = now
        try:
            message = parse_message(data)
        except SipSyntaxError as error:
            self._reply_to_garbage(data, source, error)
            return
        if isinstance(message, Response):
            self._on_response(message, now)
            return
        try:
            validate_request(message)
            self._stamp_via(message, source)
        except SipSyntaxError as error:
            if message.method != "ACK":
                self._send_stateless(make_response(message, error.status, error.reason), source)
            return
        self._on_request(message, source, now, shed)

    def handle_timer(self, now: float) -> None:
        self._now = now
        self._timers.run_due(now)

    def next_deadline(self) -> float | None:
        return self._timers.next_deadline()

    def outgoing(self) -> list[Outgoing]:
        out, self._out = self._out, []
        return out

    def events(self) -> list[Event]:
        events = list(self._events)
        self._events.clear()
        return events

    @property
    def active_sessions(self) -> int:
        return len(self._dialogs) + len(self._early)

    # ---- the TU's side ----------------------------------------------------------------------

    def ring(self, session: Session, now: float) -> None:
        self._respond_invite(session, 180, now)

    def answer(self, session: Session, sdp: bytes, now: float) -> None:
        """Send 200 OK with our SDP answer; the dialog starts (§13.3.1.4)."""
        if session.state is not SessionState.INCOMING:
            raise LocalProtocolError(f"cannot answer a session in state {session.state.value}")
        self._respond_invite(session, 200, now, body=sdp)

    def reject(self, session: Session, status: int, now: float, reason: str | None = None) -> None:
        if session.state is not SessionState.INCOMING or status < 300:
            raise LocalProtocolError("only an unanswered call can be rejected with 3xx-6xx")
        self._respond_invite(session, status, now, reason=reason)

    def respond(
        self,
        handle: ServerRequest,
        status: int,
        now: float,
        *,
        reason: str | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        """Answer a re-INVITE or another in-dialog request handed to the TU."""
        session = handle.session
        extra = list(headers or ())
        if handle.request.method == "INVITE" and session is not None and 200 <= status < 300:
            extra += self._dialog_headers(session, handle.request)
            if body and content_type is None:
                content_type = "application/sdp"
        response = make_response(
            handle.request,
            status,
            reason,
            to_tag=session.local_tag if session else None,
            headers=extra,
            body=body,
            content_type=content_type,
        )
        handle.transaction.respond(response, now)
        if (
            handle.request.method in ("INVITE", "UPDATE")
            and session is not None
            and 200 <= status < 300
        ):
            # §12.2.2: a target refresh request's Contact replaces the remote target (as
            # RFC 6141 §4 refines it, once the request succeeds).
            contact = handle.request.headers.get("Contact")
            if contact and contact != "*":
                session.remote_target = NameAddr.parse(contact).uri
        if handle.request.method == "INVITE" and session is not None and status >= 200:
            session.pending_reinvite = None
            if status < 300:
                self._retransmit_2xx(session, handle.request.cseq[0], bytes(response), now)

    def bye(self, session: Session, now: float) -> None:
        """Hang up: BYE in a confirmed dialog, or just forget an unanswered session."""
        if session.state is SessionState.TERMINATED:
            return
        if session.state is SessionState.INCOMING:
            self.reject(session, 480, now)
            return
        if session.state is SessionState.ANSWERED and session._unacked is not None:
            # §15: the callee MUST NOT send a BYE on a confirmed dialog until it has
            # received an ACK for its 2xx or the server transaction timed out.
            session.bye_pending = True
            return
        self.request(session, "BYE", now)
        self._end(session)

    def request(
        self,
        session: Session,
        method: str,
        now: float,
        *,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> None:
        """Send a request inside the dialog (§12.2.1.1); its answer comes as RequestCompleted."""
        session.local_seq += 1
        local = session.invite.headers.get("To") or ""

        def on_final(response: Response | None, at: float) -> None:
            if method != "BYE":
                self._events.append(RequestCompleted(session, method, response))

        uri, routes = self._request_target(session)
        self._send_request(
            method, uri, self._dialog_destination(session), now,
            local_host=session.local_host, from_=f"{local};tag={session.local_tag}",
            to=session.invite.headers.get("From") or "", call_id=session.call_id,
            cseq=session.local_seq, routes=routes, headers=headers or [], body=body,
            content_type=content_type, on_final=on_final,
        )  # fmt: skip

    # ---- subscriptions (RFC 6665; the notifier is in subscription.py) -----------------------

    def accept_subscription(
        self, subscription: Subscription, now: float, body: bytes | None = None
    ) -> None:
        """200 OK to an IncomingSubscribe; with ``body``, its first NOTIFY at once."""
        self.notifier.accept(subscription, now, body)

    def reject_subscription(
        self, subscription: Subscription, status: int, now: float, reason: str | None = None
    ) -> None:
        self.notifier.reject(subscription, status, now, reason)

    def notify(self, subscription: Subscription, body: bytes, now: float) -> None:
        """A NOTIFY in the subscription's dialog; a 481 or a timeout ends it
        (SubscriptionEnded)."""
        self.notifier.notify(subscription, body, now)

    def terminate_subscription(
        self, subscription: Subscription, now: float, reason: str = "noresource"
    ) -> None:
        self.notifier.terminate(subscription, now, reason)

    def unsolicited_notify(
        self,
        target: str,
        body: bytes,
        now: float,
        *,
        local_host: str | None = None,
        from_user: str = "voicemail",
    ) -> None:
        """An out-of-dialog message-summary NOTIFY to a phone that did not subscribe.

        There is no RFC for it; this is what Asterisk (res_pjsip_mwi) and FreeSWITCH send and
        what phones accept: a new Call-ID, a From tag, no To tag (a tagged To would be an
        unknown dialog: 481), ``Event: message-summary``, ``Subscription-State: active``.
        The answer comes as UnsolicitedNotifyCompleted.
        """
        uri = SipUri.parse(target)
        host = local_host or self.advertised_host
        if host is None:
            raise LocalProtocolError("an unsolicited NOTIFY needs our address (local_host)")
        transport = (uri.params.get("transport") or "udp").upper()
        destination = Address(
            "TCP" if transport == "TCP" else "UDP",
            uri.host,
            uri.port or 5060,
        )
        bracketed = f"[{host}]" if ":" in host else host
        reliable = ";transport=tcp" if destination.reliable else ""
        headers = [
            ("Contact", f"<sip:{from_user}@{bracketed}:{self.port}{reliable}>"),
            ("Event", EVENT_PACKAGE),
            ("Subscription-State", "active"),
            ("Allow-Events", ALLOW_EVENTS),
        ]

        def on_final(response: Response | None, at: float) -> None:
            self._events.append(UnsolicitedNotifyCompleted(target, response))

        self._send_request(
            "NOTIFY", target, destination, now,
            local_host=host, from_=f"<sip:{from_user}@{bracketed}>;tag={self._token()}",
            to=f"<{target}>", call_id=f"{self._token()}{self._token()}@{bracketed}", cseq=1,
            routes=[], headers=headers, body=body, content_type=CONTENT_TYPE, on_final=on_final,
        )  # fmt: skip

    def _subscription_request(
        self,
        subscription: Subscription,
        method: str,
        now: float,
        *,
        headers: list[tuple[str, str]],
        body: bytes,
        content_type: str | None,
        on_final: Callable[[Response | None, float], None],
    ) -> None:
        subscription.local_seq += 1
        uri, routes = self._request_target(subscription)
        self._send_request(
            method, uri, self._dialog_destination(subscription), now,
            local_host=subscription.local_host,
            from_=f"{subscription.local_party};tag={subscription.local_tag}",
            to=subscription.remote_party, call_id=subscription.call_id,
            cseq=subscription.local_seq, routes=routes, headers=headers, body=body,
            content_type=content_type, on_final=on_final,
        )  # fmt: skip

    def _subscription_contact(self, subscription: Subscription) -> str:
        return self._contact(subscription.local_host, subscription.resource, subscription.source)

    def _send_request(
        self,
        method: str,
        uri: str,
        destination: Address,
        now: float,
        *,
        local_host: str,
        from_: str,
        to: str,
        call_id: str,
        cseq: int,
        routes: list[str],
        headers: list[tuple[str, str]],
        body: bytes,
        content_type: str | None,
        on_final: Callable[[Response | None, float], None],
    ) -> None:
        """Build a request and send it in a non-INVITE client transaction (§17.1.2)."""
        branch = MAGIC_COOKIE + self._token()
        out = Headers()
        # sent-by = host [ COLON port ] where an IPv6 host is a bracketed reference (§25.1).
        host = f"[{local_host}]" if ":" in local_host else local_host
        out.add("Via", f"SIP/2.0/{destination.transport} {host}:{self.port};branch={branch};rport")
        out.add("Max-Forwards", "70")
        out.add("From", from_)
        out.add("To", to)
        out.add("Call-ID", call_id)
        out.add("CSeq", f"{cseq} {method}")
        for route in routes:
            out.add("Route", route)
        out.add("User-Agent", self.server_name)
        for name, value in headers:
            out.add(name, value)
        if content_type is not None:
            out.add("Content-Type", content_type)
        data = bytes(Request(out, body, method, uri))

        def final(response: Response | None) -> None:
            self._client_tx.pop((branch, method), None)
            on_final(response, self._now)

        tx = NonInviteClientTransaction(
            data, self._sender(destination), self._timers, destination.reliable,
            self._config, final,
        )  # fmt: skip
        self._client_tx[(branch, method)] = tx
        tx.on_terminated = lambda: self._client_tx.pop((branch, method), None)
        tx.start(now)

    # ---- requests ---------------------------------------------------------------------------

    def _on_request(
        self, request: Request, source: Address, now: float, shed: bool = False
    ) -> None:
        method = request.method
        key = self._server_key(request, "INVITE" if method == "ACK" else method)
        existing = self._server_tx.get(key)
        if existing is not None:
            existing.receive_request(method, now)
            if method != "ACK" or existing.state is not State.ACCEPTED:
                return
        if method == "ACK":
            self._on_ack(request, now)
            return
        if method == "CANCEL":
            self._on_cancel(request, source, now)
            return
        to_tag = request.to_tag
        if to_tag is not None:
            self._on_in_dialog(request, source, to_tag, now)
            return
        if method in ("INVITE", "OPTIONS") and shed:
            # Through a transaction: the INVITE's retransmissions get the same 503. OPTIONS
            # gets what an INVITE would (§11.2): a dispatcher's probe sees the overload.
            handle = self._new_server_tx(request, source, key, None)
            self._answer(handle, 503, now, headers=[("Retry-After", str(SHED_RETRY_AFTER))])
            self.calls_shed += method == "INVITE"
        elif method == "INVITE":
            self._on_invite(request, source, key, now)
        elif method == "SUBSCRIBE":
            handle = self._new_server_tx(request, source, key, None)
            local_host = self.advertised_host or request.sip_uri.host
            self.notifier.receive(handle, source, local_host, now)
        elif method == "OPTIONS":
            handle = self._new_server_tx(request, source, key, None)
            headers = [("Allow", ALLOW), ("Accept", "application/sdp"), ("Supported", "")]
            headers.append(("Allow-Events", ALLOW_EVENTS))
            self._answer(handle, 200, now, headers=headers)
        elif method in KNOWN_METHODS or method == "BYE":
            handle = self._new_server_tx(request, source, key, None)
            status = 481 if method in ("BYE", "INFO", "NOTIFY", "UPDATE", "PRACK") else 405
            self._answer(handle, status, now, headers=[("Allow", ALLOW)])
        else:
            handle = self._new_server_tx(request, source, key, None)
            self._answer(handle, 501, now, headers=[("Allow", ALLOW)])

    def _on_invite(
        self, request: Request, source: Address, key: tuple[str, ...], now: float
    ) -> None:
        from_tag = request.from_tag or ""
        early_key = (request.call_id, from_tag)
        if early_key in self._early:
            # A second INVITE with a new branch for a call still being set up (a forked or
            # resent request): §8.2.2.2 loop detection answers 482; we keep it simple.
            self._send_stateless(make_response(request, 482, "Loop Detected"), source)
            return
        local_host = self.advertised_host or request.sip_uri.host
        contact = request.headers.get("Contact")
        remote_target = NameAddr.parse(contact).uri if contact else request.uri
        session = Session(
            invite=request,
            source=source,
            call_id=request.call_id,
            remote_tag=from_tag,
            local_tag=self._token(),
            local_host=local_host,
            remote_target=remote_target,
            route_set=request.headers.get_all("Record-Route"),
            remote_seq=request.cseq[0],
            local_seq=random.getrandbits(16),  # §8.1.1.5: any value below 2**31
        )
        handle = self._new_server_tx(request, source, key, session)
        session.invite_request = handle
        transaction = handle.transaction
        assert isinstance(transaction, InviteServerTransaction)
        transaction.on_ack_timeout = lambda: self._forget_early(session)
        self._early[early_key] = session
        # §17.2.1: 100 Trying so the caller stops retransmitting, unless we answer first.
        transaction.trying(lambda: make_response(request, 100), self._trying_after, now)
        self._events.append(IncomingCall(session))

    def _on_cancel(self, request: Request, source: Address, now: float) -> None:
        # §9.2: the CANCEL matches the INVITE transaction with the same branch.
        invite = self._server_tx.get(self._server_key(request, "INVITE"))
        key = self._server_key(request, "CANCEL")
        # The session of an INVITE not yet answered (a CANCEL of a re-INVITE finds none).
        session = self._early.get((request.call_id, request.from_tag or ""))
        if session is not None and (
            session.invite_request is None or session.invite_request.transaction is not invite
        ):
            session = None
        # §9.2: the To tag of the 200 to the CANCEL SHOULD be that of the INVITE's response,
        # so the CANCEL's handle carries the INVITE's session (whose tag _answer uses).
        handle = self._new_server_tx(request, source, key, session)
        if invite is None:
            self._answer(handle, 481, now)
            return
        self._answer(handle, 200, now)
        if session is not None and session.state is SessionState.INCOMING:
            self._respond_invite(session, 487, now)
            self._events.append(CallCancelled(session))

    def _on_ack(self, request: Request, now: float) -> None:
        session = self._dialogs.get((request.call_id, request.to_tag or "", request.from_tag or ""))
        if session is None or session._unacked is None:
            return  # an ACK for nothing we know (or a retransmission): ACKs are never answered
        cseq, timer = session._unacked
        if request.cseq[0] != cseq:
            return
        timer.cancel()
        session._unacked = None
        session.ack_body = request.body
        if session.state is SessionState.ANSWERED:
            session.state = SessionState.CONFIRMED
            if session.bye_pending:
                self.bye(session, now)
                return
            self._events.append(CallConfirmed(session))

    def _on_in_dialog(self, request: Request, source: Address, to_tag: str, now: float) -> None:
        method = request.method
        key = self._server_key(request, method)
        subscription = self.notifier.find(request.call_id, to_tag, request.from_tag or "")
        if subscription is not None:
            handle = self._new_server_tx(request, source, key, None)
            self.notifier.receive_in_dialog(handle, subscription, now)
            return
        session = self._dialogs.get((request.call_id, to_tag, request.from_tag or ""))
        handle = self._new_server_tx(request, source, key, session)
        if session is None or session.state is SessionState.TERMINATED:
            self._answer(handle, 481, now)
            return
        cseq = request.cseq[0]
        # §12.2.2: a lower CSeq than the last one is out of order.
        if cseq < session.remote_seq:
            self._answer(handle, 500, now, reason="CSeq Out of Order")
            return
        session.remote_seq = cseq
        if method == "BYE":
            self._answer(handle, 200, now)
            pending = session.pending_reinvite
            if pending is not None:
                self.respond(pending, 487, now)
            self._end(session)
            self._events.append(CallEnded(session, "bye"))
        elif method == "INVITE":
            if session.pending_reinvite is not None or session._unacked is not None:
                # §14.2: a re-INVITE while another is pending gets 500 with Retry-After
                # (or 491 when ours were pending; we never send re-INVITEs).
                retry = [("Retry-After", "1")]
                self._answer(handle, 500, now, headers=retry)
                return
            session.pending_reinvite = handle
            self._events.append(ReInvite(session, handle))
        elif method == "OPTIONS":
            self._answer(handle, 200, now, headers=[("Allow", ALLOW)])
        elif method in ("INFO", "NOTIFY", "UPDATE", "REFER", "MESSAGE"):
            self._events.append(InDialogRequest(session, handle))
        else:
            self._answer(handle, 501 if method not in KNOWN_METHODS else 405, now)

    # ---- responses --------------------------------------------------------------------------

    def _on_response(self, response: Response, now: float) -> None:
        try:
            branch = response.top_via.branch or ""
            _, method = response.cseq
        except SipSyntaxError:
            return
        tx = self._client_tx.get((branch, method))
        if tx is not None:
            tx.receive_response(response, now)

    # ---- helpers ----------------------------------------------------------------------------

    def _server_key(self, request: Request, method: str) -> tuple[str, ...]:
        via = request.top_via
        branch = via.branch or ""
        if branch.startswith(MAGIC_COOKIE):
            return (branch, via.host, str(via.port or ""), method)
        # RFC 2543 peers: match on the request's identity instead (§17.2.3).
        number = str(request.cseq[0])
        return ("2543", request.call_id, request.from_tag or "", number, str(via), method)

    def _new_server_tx(
        self, request: Request, source: Address, key: tuple[str, ...], session: Session | None
    ) -> ServerRequest:
        send = self._sender(self._response_destination(request, source))
        tx: ServerTransaction
        if request.method == "INVITE":
            tx = InviteServerTransaction(send, self._timers, source.reliable, self._config)
        else:
            tx = NonInviteServerTransaction(send, self._timers, source.reliable, self._config)
        handle = ServerRequest(request, tx, session)
        self._server_tx[key] = tx
        tx.on_terminated = partial(self._server_tx.pop, key, None)
        return handle

    def _answer(
        self,
        handle: ServerRequest,
        status: int,
        now: float,
        *,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        to_tag = handle.session.local_tag if handle.session else None
        if to_tag is None and status > 100 and handle.request.to_tag is None:
            to_tag = self._token()  # §8.2.6.2: a final response out of dialog needs a To tag
        response = make_response(handle.request, status, reason, to_tag=to_tag, headers=headers)
        handle.transaction.respond(response, now)

    def _respond_invite(
        self,
        session: Session,
        status: int,
        now: float,
        *,
        body: bytes = b"",
        reason: str | None = None,
    ) -> None:
        handle = session.invite_request
        if handle is None or session.state is not SessionState.INCOMING:
            return
        request = session.invite
        headers: list[tuple[str, str]] = []
        if status < 300 and status > 100:
            headers = self._dialog_headers(session, request)
        response = make_response(
            request,
            status,
            reason,
            to_tag=session.local_tag,
            headers=headers,
            body=body,
            content_type="application/sdp" if body else None,
        )
        handle.transaction.respond(response, now)
        if status < 200:
            return
        self._early.pop((session.call_id, session.remote_tag), None)
        if status < 300:
            session.state = SessionState.ANSWERED
            self._dialogs[session.dialog_id] = session
            self._retransmit_2xx(session, request.cseq[0], bytes(response), now)
        else:
            session.state = SessionState.TERMINATED

    def _contact(self, local_host: str, user: str, source: Address) -> str:
        transport = ";transport=tcp" if source.transport == "TCP" else ""
        host = f"[{local_host}]" if ":" in local_host else local_host
        user_part = f"{user}@" if user and re.fullmatch(r"[\w.+*#-]+", user) else ""
        return f"<sip:{user_part}{host}:{self.port}{transport}>"

    def _dialog_headers(self, session: Session, request: Request) -> list[tuple[str, str]]:
        user = request.sip_uri.user or ""
        headers = [("Contact", self._contact(session.local_host, user, session.source))]
        # §12.1.1: the UAS copies Record-Route into the 2xx that creates the dialog.
        headers += [("Record-Route", value) for value in request.headers.get_all("Record-Route")]
        headers += [("Allow", ALLOW), ("Supported", ""), ("Server", self.server_name)]
        return [(n, v) for n, v in headers if v]

    def _retransmit_2xx(self, session: Session, cseq: int, data: bytes, now: float) -> None:
        """§13.3.1.4: resend the 2xx at T1, 2·T1, … capped at T2 until the ACK; after
        64·T1 without one the session is ended with a BYE."""
        # §13.3.1.4: "retransmits the 2xx response for 64*T1 seconds": the give-up point is
        # a deadline of its own (like Timer H), not the first retransmission past 64·T1,
        # which came up to T2 late.
        resend = _Resend2xx(self, session, cseq, data, now + 64 * self._config.t1)
        resend.schedule(now, self._config.t1)

    def _give_up_2xx(self, session: Session, at: float) -> None:
        """No ACK for 64·T1: the dialog is confirmed for the BYE that ends it (§13.3.1.4)."""
        session._unacked = None
        if session.state is SessionState.ANSWERED:
            session.state = SessionState.CONFIRMED
        self.request(session, "BYE", at)
        self._end(session)
        self._events.append(CallEnded(session, "ack-timeout"))

    def _end(self, session: Session) -> None:
        session.state = SessionState.TERMINATED
        # Requests and session point at each other: let go, so the call is freed at once.
        session.invite_request = session.pending_reinvite = None
        if session._unacked is not None:
            session._unacked[1].cancel()
            session._unacked = None
        self._dialogs.pop(session.dialog_id, None)
        self._early.pop((session.call_id, session.remote_tag), None)

    def _forget_early(self, session: Session) -> None:
        self._early.pop((session.call_id, session.remote_tag), None)

    def _stamp_via(self, request: Request, source: Address) -> None:
        """§18.2.1 and RFC 3581: note where the request really came from in its top Via."""
        top = request.top_via
        received = top.host != source.host
        rport = "rport" in top.params and top.params["rport"] is None
        if not (received or rport):
            return
        via = Via(top.transport, top.host, top.port, dict(top.params))
        via.params["received"] = source.host
        if rport:
            via.params["rport"] = str(source.port)
        request.headers.replace_first("Via", str(via))
        request.headers.memo["via"] = via

    def _response_destination(self, request: Request, source: Address) -> Address:
        """§18.2.2 with RFC 3581: reliable transports answer on the connection; UDP answers
        go to the source address, and to its port when the client asked with rport."""
        if source.reliable:
            return source
        via = request.top_via
        if via.params.get("maddr"):
            return Address("UDP", via.params["maddr"] or source.host, via.port or 5060)
        if via.params.get("rport"):
            return source
        return Address("UDP", source.host, via.port or 5060)

    def _dialog_destination(self, session: _Routed) -> Address:
        """Where in-dialog requests go: the first route, else the peer itself.

        Without a route set we send back to the address the INVITE came from (symmetric
        signalling, as NAT'd phones need): a private Contact behind NAT is unreachable.
        """
        if session.route_set:
            uri = NameAddr.parse(session.route_set[0]).sip_uri()
            return Address(session.source.transport, uri.host, uri.port or 5060)
        return session.source

    def _request_target(self, session: _Routed) -> tuple[str, list[str]]:
        """§12.2.1.1: the Request-URI and Route headers for an in-dialog request."""
        if not session.route_set:
            return session.remote_target, []
        # The UAS uses the Record-Route values in order (§12.1.1).
        first = NameAddr.parse(session.route_set[0])
        if "lr" in first.sip_uri().params:
            return session.remote_target, list(session.route_set)
        # Strict routing (RFC 2543 proxies).
        return first.uri, [*session.route_set[1:], f"<{session.remote_target}>"]

    def _sender(self, destination: Address) -> _Sender:
        # Shared per peer: a trunk's thousands of transactions need one, not one each.
        sender = self._senders.get(destination)
        if sender is None:
            if len(self._senders) >= _SENDERS_KEPT:
                self._senders.clear()
            sender = self._senders[destination] = _Sender(self, destination)
        return sender

    def _send_stateless(self, response: Response, source: Address) -> None:
        try:
            destination = self._response_destination_lenient(response, source)
        except SipSyntaxError:
            return
        self._out.append(Outgoing(bytes(response), destination))

    def _response_destination_lenient(self, response: Response, source: Address) -> Address:
        if source.reliable:
            return source
        via = Via.parse(response.headers.get("Via") or "")
        if "rport" in via.params:
            return source
        return Address("UDP", source.host, via.port or 5060)

    def _reply_to_garbage(self, data: bytes, source: Address, error: SipSyntaxError) -> None:
        """Answer 400 to a request that would not parse, if it carries enough to route a
        response (§21.4.1); anything else — responses, ACKs, noise — is dropped."""
        first = data.lstrip(b"\r\n").split(b"\n", 1)[0]
        if not re.match(rb"^[A-Za-z]+ \S+ SIP/", first) or first.upper().startswith(b"ACK "):
            return
        found: dict[str, str] = {}
        for match in _LINE.finditer(data[:8192]):
            name = match.group(1).decode("ascii").lower()
            name = {"v": "via", "f": "from", "t": "to", "i": "call-id"}.get(name, name)
            found.setdefault(name, match.group(2).decode("utf-8", "replace").strip())
        if len(found) < 5:
            return
        headers = Headers(
            [("Via", found["via"]), ("From", found["from"]), ("To", found["to"]),
             ("Call-ID", found["call-id"]), ("CSeq", found["cseq"])]
        )  # fmt: skip
        reason = re.sub(r"[\r\n]", " ", error.reason)[:100]
        response = Response(headers, b"", error.status, reason)
        self._send_stateless(response, source)
