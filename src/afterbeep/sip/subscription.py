"""The notifier side of SIP events (RFC 6665) for the message-summary package (RFC 3842).

A phone SUBSCRIBEs to a mailbox; we answer (200 with the granted ``Expires``, or a refusal),
NOTIFY it at once and whenever the counts change, and end the subscription when it expires,
when the phone unsubscribes (``Expires: 0``) or when a NOTIFY fails. Each subscription is a
dialog of its own (RFC 6665 §4.1.2, RFC 3261 §12.1.1): Call-ID and tags, the route set from
Record-Route, the remote target from Contact, a CSeq per direction.

``Notifier`` is owned by ``UserAgent``: the user agent matches transactions and dialogs and
hands SUBSCRIBEs over; the notifier answers them, keeps the table and the expiry timers (on
the user agent's ``TimerHeap``: no clock here) and sends NOTIFYs through a callback that
wraps them in client transactions. Events go out through ``emit``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from afterbeep.sip.dialog import Address, ServerRequest, make_response
from afterbeep.sip.errors import LocalProtocolError, SipSyntaxError
from afterbeep.sip.message import Request, Response, header_params
from afterbeep.sip.mwi import CONTENT_TYPE, EVENT_PACKAGE
from afterbeep.sip.timers import Timer, TimerHeap
from afterbeep.sip.uri import NameAddr

ALLOW_EVENTS = EVENT_PACKAGE
RESTORE_CSEQ_GAP = 10_000  # far more NOTIFYs than one subscription sends between snapshots


@dataclass(frozen=True, slots=True)
class SubscriptionPolicy:
    """How long subscriptions last (seconds) and how many we keep."""

    min_expires: int = 60  # shorter asks get 423 with Min-Expires (RFC 6665 §4.2.1)
    max_expires: int = 3600  # longer asks are lowered to this
    default_expires: int = 3600  # when the SUBSCRIBE has no Expires (RFC 3842's suggested default)
    max_subscriptions: int = 10_000  # then 503: a flood cannot grow the table without end

    def __post_init__(self) -> None:
        if not 0 < self.min_expires <= self.default_expires <= self.max_expires:
            raise ValueError("need 0 < min_expires <= default_expires <= max_expires")


class SubscriptionState(Enum):
    PENDING = "pending"  # SUBSCRIBE received, the TU has not answered yet
    ACTIVE = "active"
    TERMINATED = "terminated"


@dataclass(eq=False, slots=True)
class Subscription:
    """One subscription dialog in which we are the notifier.

    Every field but the transient ones is plain data, so that a TU can keep subscriptions
    across a restart (``Notifier.restore``).
    """

    call_id: str
    local_tag: str
    remote_tag: str
    local_party: str  # the SUBSCRIBE's To, without our tag: From of what we send
    remote_party: str  # the SUBSCRIBE's From, with its tag: To of what we send
    local_host: str  # the address we put in Via and Contact
    source: Address  # where the SUBSCRIBE came from: NOTIFYs go back there (symmetric)
    resource: str  # the Request-URI's user: the mailbox number
    event: str  # the Event header value, echoed in every NOTIFY (package and id)
    remote_target: str = ""
    route_set: list[str] = field(default_factory=list)
    remote_seq: int = 0
    local_seq: int = 0
    expires: int = 0  # seconds granted by the last SUBSCRIBE
    expires_at: float = 0.0
    state: SubscriptionState = SubscriptionState.PENDING
    last_body: bytes | None = None  # what the last NOTIFY said (resent on refresh)
    app: Any = None  # for the TU
    handle: ServerRequest | None = field(default=None, repr=False)  # until answered
    _timer: Timer | None = field(default=None, repr=False)
    _in_flight: bool = False  # a NOTIFY waits for its answer
    _queued: bool = False  # and another is due after it

    @property
    def dialog_id(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    def remaining(self, now: float) -> int:
        """Whole seconds left (rounded up, so a live subscription never says 0)."""
        return max(0, math.ceil(self.expires_at - now - 1e-9))

    def snapshot(self, now: float) -> dict[str, Any]:
        """The dialog as JSON-able data, its expiry relative to ``now`` (``expires_in``)."""
        return {
            "call_id": self.call_id,
            "local_tag": self.local_tag,
            "remote_tag": self.remote_tag,
            "local_party": self.local_party,
            "remote_party": self.remote_party,
            "local_host": self.local_host,
            "source": [self.source.transport, self.source.host, self.source.port],
            "resource": self.resource,
            "event": self.event,
            "remote_target": self.remote_target,
            "route_set": list(self.route_set),
            "remote_seq": self.remote_seq,
            "local_seq": self.local_seq,
            "expires": self.expires,
            "expires_in": self.expires_at - now,
            "last_body": (self.last_body or b"").decode("utf-8", "replace"),
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any], now: float) -> Subscription:
        """The inverse of ``snapshot``; ValueError for data that does not fit."""
        try:
            transport, host, port = data["source"]
            return cls(
                call_id=str(data["call_id"]),
                local_tag=str(data["local_tag"]),
                remote_tag=str(data["remote_tag"]),
                local_party=str(data["local_party"]),
                remote_party=str(data["remote_party"]),
                local_host=str(data["local_host"]),
                source=Address(str(transport), str(host), int(port)),
                resource=str(data["resource"]),
                event=str(data["event"]),
                remote_target=str(data["remote_target"]),
                route_set=[str(route) for route in data["route_set"]],
                remote_seq=int(data["remote_seq"]),
                local_seq=int(data["local_seq"]),
                expires=int(data["expires"]),
                expires_at=now + float(data["expires_in"]),
                last_body=str(data.get("last_body") or "").encode() or None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a subscription snapshot: {exc}") from None


# Events the TU consumes.
@dataclass(frozen=True, slots=True)
class IncomingSubscribe:
    """A new subscription: answer with ``UserAgent.accept_subscription`` or
    ``reject_subscription`` (403 for a stranger, 404 for no such mailbox)."""

    handle: ServerRequest
    subscription: Subscription


@dataclass(frozen=True, slots=True)
class SubscriptionRefreshed:
    """Refreshed in its dialog (already answered, and NOTIFYed with ``last_body``)."""

    subscription: Subscription


@dataclass(frozen=True, slots=True)
class SubscriptionEnded:
    subscription: Subscription
    # "timeout" (not refreshed), "unsubscribed" (Expires: 0), "rejected" (a NOTIFY got a
    # failure response), "no-response" (a NOTIFY timed out), "replaced" (a new SUBSCRIBE with
    # the same Call-ID and From tag), "local" (``terminate``)
    reason: str


@dataclass(frozen=True, slots=True)
class UnsolicitedNotifyCompleted:
    target: str
    response: Response | None  # None: no answer (timer F)


SubscriptionEvent = (
    IncomingSubscribe | SubscriptionRefreshed | SubscriptionEnded | UnsolicitedNotifyCompleted
)


class RequestSender(Protocol):
    """Send ``method`` inside the subscription's dialog in a client transaction."""

    def __call__(
        self,
        subscription: Subscription,
        method: str,
        now: float,
        *,
        headers: list[tuple[str, str]],
        body: bytes,
        content_type: str | None,
        on_final: Callable[[Response | None, float], None],
    ) -> None: ...


class Notifier:
    """The subscriptions of one user agent, by dialog."""

    def __init__(
        self,
        policy: SubscriptionPolicy,
        timers: TimerHeap,
        emit: Callable[[SubscriptionEvent], None],
        send: RequestSender,
        contact: Callable[[Subscription], str],
        new_tag: Callable[[], str],
        allow: str,
    ) -> None:
        self.policy = policy
        self._timers = timers
        self._emit = emit
        self._send = send
        self._contact = contact
        self._new_tag = new_tag
        self._allow = allow
        self._dialogs: dict[tuple[str, str, str], Subscription] = {}
        self._by_caller: dict[tuple[str, str], Subscription] = {}  # (Call-ID, From tag)

    def __len__(self) -> int:
        return len(self._dialogs)

    def __iter__(self) -> Iterator[Subscription]:
        return iter(list(self._dialogs.values()))

    def find(self, call_id: str, local_tag: str, remote_tag: str) -> Subscription | None:
        return self._dialogs.get((call_id, local_tag, remote_tag))

    # ---- SUBSCRIBE ------------------------------------------------------------------------

    def receive(self, handle: ServerRequest, source: Address, local_host: str, now: float) -> None:
        """A SUBSCRIBE outside any dialog (RFC 6665 §4.2.1)."""
        request = handle.request
        try:
            event = _event(request)
            expires = self._granted(request)
        except _Refusal as refusal:
            self._refuse(handle, refusal, now)
            return
        if len(self._dialogs) >= self.policy.max_subscriptions:
            self._refuse(handle, _Refusal(503, headers=[("Retry-After", "60")]), now)
            return
        contact = request.headers.get("Contact")
        subscription = Subscription(
            call_id=request.call_id,
            local_tag=self._new_tag(),
            remote_tag=request.from_tag or "",
            local_party=_without_tag(request.headers.get("To") or ""),
            remote_party=request.headers.get("From") or "",
            local_host=local_host,
            source=source,
            resource=_resource(request),
            event=event,
            remote_target=NameAddr.parse(contact).uri if contact else request.uri,
            route_set=request.headers.get_all("Record-Route"),
            remote_seq=request.cseq[0],
            local_seq=0,
            expires=expires,
            handle=handle,
        )
        self._emit(IncomingSubscribe(handle, subscription))

    def receive_in_dialog(
        self, handle: ServerRequest, subscription: Subscription, now: float
    ) -> None:
        """A request in a subscription's dialog (the user agent matched it by its tags)."""
        request = handle.request
        # RFC 3261 §12.2.2: a lower CSeq than the last one is out of order.
        if request.cseq[0] < subscription.remote_seq:
            self._answer(handle, subscription, 500, now, [], "CSeq Out of Order")
            return
        subscription.remote_seq = request.cseq[0]
        if request.method == "OPTIONS":
            self._answer(handle, subscription, 200, now, [("Allow", self._allow)])
            return
        if request.method != "SUBSCRIBE":
            self._answer(handle, subscription, 405, now, [("Allow", self._allow)])
            return
        try:
            # RFC 6665 §4.1.2: a refresh names the same package (and id) as the subscription.
            if request.headers.get("Event") is not None and not _same_event(
                _event(request), subscription.event
            ):
                raise _Refusal(489, headers=[("Allow-Events", ALLOW_EVENTS)])
            expires = self._granted(request)
        except _Refusal as refusal:
            self._answer(handle, subscription, refusal.status, now, refusal.headers, refusal.reason)
            return
        # RFC 6665 §4.1.2 with RFC 3261 §12.2: SUBSCRIBE is a target refresh request.
        contact = request.headers.get("Contact")
        if contact:
            subscription.remote_target = NameAddr.parse(contact).uri
        subscription.expires = expires
        headers = [("Expires", str(expires)), ("Contact", self._contact(subscription))]
        self._answer(handle, subscription, 200, now, headers)
        if expires == 0:
            # RFC 6665 §4.1.2 (unsubscribing), §4.2.2: a last NOTIFY says it is over.
            self._end(subscription, now, "unsubscribed", notify="timeout")
            return
        self._arm(subscription, now + expires)
        # RFC 6665 §4.2.1: after a successful refresh a NOTIFY goes out at once.
        self._notify(subscription, now)
        self._emit(SubscriptionRefreshed(subscription))

    # ---- the TU's answers -----------------------------------------------------------------

    def accept(self, subscription: Subscription, now: float, body: bytes | None = None) -> None:
        """200 OK with the granted Expires; with ``body``, the first NOTIFY at once (RFC 6665
        §4.2.1 wants one as soon as possible). ``Expires: 0`` was a fetch: that NOTIFY ends it."""
        handle = self._pending(subscription)
        previous = self._by_caller.get((subscription.call_id, subscription.remote_tag))
        if previous is not None:
            self._end(previous, now, "replaced")
        headers = [
            ("Expires", str(subscription.expires)),
            ("Contact", self._contact(subscription)),
            ("Allow-Events", ALLOW_EVENTS),
        ]
        self._answer(handle, subscription, 200, now, headers)
        subscription.handle = None
        subscription.state = SubscriptionState.ACTIVE
        subscription.expires_at = now + subscription.expires
        self._dialogs[subscription.dialog_id] = subscription
        self._by_caller[(subscription.call_id, subscription.remote_tag)] = subscription
        self._arm(subscription, subscription.expires_at)
        if body is not None:
            self.notify(subscription, body, now)

    def reject(
        self, subscription: Subscription, status: int, now: float, reason: str | None = None
    ) -> None:
        if status < 300:
            raise LocalProtocolError("a subscription is rejected with 3xx-6xx")
        handle = self._pending(subscription)
        self._answer(handle, subscription, status, now, [], reason)
        subscription.handle = None
        subscription.state = SubscriptionState.TERMINATED

    def notify(self, subscription: Subscription, body: bytes, now: float) -> None:
        """Tell the subscriber the state ``body`` (a NOTIFY in its dialog).

        One NOTIFY is in flight at a time: a later one waits for its answer and then carries
        the latest body, so a phone never sees an older state after a newer one (and never
        answers an out-of-order CSeq with 500, which would end the subscription).
        A subscription that has ended meanwhile is ignored.
        """
        if subscription.state is SubscriptionState.PENDING:
            raise LocalProtocolError("accept the subscription before notifying it")
        if subscription.state is SubscriptionState.TERMINATED:
            return
        subscription.last_body = body
        self._notify(subscription, now)

    def terminate(self, subscription: Subscription, now: float, reason: str = "noresource") -> None:
        """End a subscription from our side (RFC 6665 §4.2.2): a last NOTIFY with ``reason``
        (``noresource``: the mailbox is gone; ``deactivated``: subscribe again now)."""
        if subscription.state is SubscriptionState.PENDING:
            raise LocalProtocolError("reject a pending subscription instead")
        if subscription.state is SubscriptionState.ACTIVE:
            self._end(subscription, now, "local", notify=reason)

    def restore(self, subscription: Subscription, now: float) -> bool:
        """Take back a subscription kept across a restart; False when it has expired.

        Its CSeq jumps by RESTORE_CSEQ_GAP: NOTIFYs may have gone out after the snapshot, and
        a phone answers a repeated or lower CSeq with 500 (RFC 3261 §12.2.2).
        """
        if subscription.expires_at <= now or subscription.dialog_id in self._dialogs:
            return False
        subscription.local_seq = (subscription.local_seq + RESTORE_CSEQ_GAP) % 2**31
        subscription.state = SubscriptionState.ACTIVE
        subscription.handle = None
        subscription._in_flight = subscription._queued = False
        self._dialogs[subscription.dialog_id] = subscription
        self._by_caller[(subscription.call_id, subscription.remote_tag)] = subscription
        self._arm(subscription, subscription.expires_at)
        return True

    # ---- internals ------------------------------------------------------------------------

    def _granted(self, request: Request) -> int:
        """The Expires we grant; a refusal for one too brief (RFC 6665 §4.2.1)."""
        policy = self.policy
        value = request.headers.get("Expires")
        asked = policy.default_expires if value is None else int(value.strip())
        if 0 < asked < policy.min_expires:
            raise _Refusal(423, headers=[("Min-Expires", str(policy.min_expires))])
        return min(asked, policy.max_expires)

    def _notify(self, subscription: Subscription, now: float) -> None:
        if subscription._in_flight:
            subscription._queued = True
            return
        if subscription.remaining(now) == 0:
            self._end(subscription, now, "timeout", notify="timeout")
            return
        subscription._in_flight = True

        def on_final(response: Response | None, at: float) -> None:
            subscription._in_flight = False
            if subscription.state is not SubscriptionState.ACTIVE:
                return
            failed = _failed(response)
            if failed is not None:
                # RFC 6665 §4.2.2: a NOTIFY that times out or fails (a 481 above all) removes
                # the subscription; the subscriber will SUBSCRIBE again.
                self._end(subscription, at, failed)
            elif subscription._queued:
                subscription._queued = False
                self._notify(subscription, at)

        state = f"active;expires={subscription.remaining(now)}"
        self._send_notify(subscription, now, state, on_final)

    def _end(
        self, subscription: Subscription, now: float, why: str, notify: str | None = None
    ) -> None:
        """Forget ``subscription``; with ``notify``, send ``terminated;reason=<notify>``."""
        subscription.state = SubscriptionState.TERMINATED
        if subscription._timer is not None:
            subscription._timer.cancel()
            subscription._timer = None
        self._dialogs.pop(subscription.dialog_id, None)
        key = (subscription.call_id, subscription.remote_tag)
        if self._by_caller.get(key) is subscription:
            del self._by_caller[key]
        if notify is not None:
            state = f"terminated;reason={notify}"
            self._send_notify(subscription, now, state, lambda response, at: None)
        self._emit(SubscriptionEnded(subscription, why))

    def _send_notify(
        self,
        subscription: Subscription,
        now: float,
        state: str,
        on_final: Callable[[Response | None, float], None],
    ) -> None:
        body = subscription.last_body or b""
        headers = [
            ("Event", subscription.event),
            ("Subscription-State", state),
            # RFC 6665 §4.2.2 (NOTIFY is a target refresh request): it carries a Contact.
            ("Contact", self._contact(subscription)),
        ]
        content_type = CONTENT_TYPE if body else None
        self._send(
            subscription, "NOTIFY", now,
            headers=headers, body=body, content_type=content_type, on_final=on_final,
        )  # fmt: skip

    def _arm(self, subscription: Subscription, when: float) -> None:
        if subscription._timer is not None:
            subscription._timer.cancel()
        subscription.expires_at = when

        def expire(now: float) -> None:
            subscription._timer = None
            if subscription.state is SubscriptionState.ACTIVE:
                # RFC 6665 §4.2.2: a subscription that was not refreshed ends with a last NOTIFY.
                self._end(subscription, now, "timeout", notify="timeout")

        subscription._timer = self._timers.schedule(when, expire)

    def _pending(self, subscription: Subscription) -> ServerRequest:
        handle = subscription.handle
        if handle is None or subscription.state is not SubscriptionState.PENDING:
            raise LocalProtocolError("the subscription was already answered")
        return handle

    def _answer(
        self,
        handle: ServerRequest,
        subscription: Subscription,
        status: int,
        now: float,
        headers: list[tuple[str, str]],
        reason: str | None = None,
    ) -> None:
        response = make_response(
            handle.request, status, reason, to_tag=subscription.local_tag, headers=headers
        )
        handle.transaction.respond(response, now)

    def _refuse(self, handle: ServerRequest, refusal: _Refusal, now: float) -> None:
        response = make_response(
            handle.request,
            refusal.status,
            refusal.reason,
            to_tag=self._new_tag(),  # RFC 3261 §8.2.6.2: a final response needs a To tag
            headers=refusal.headers,
        )
        handle.transaction.respond(response, now)


class _Refusal(Exception):
    def __init__(
        self, status: int, reason: str | None = None, headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(reason or str(status))
        self.status = status
        self.reason = reason
        self.headers = headers or []


def _event(request: Request) -> str:
    """The Event header of a SUBSCRIBE, if it names a package we serve (RFC 6665 §7.2)."""
    value = request.headers.get("Event")
    if value is None:
        # RFC 6665: a SUBSCRIBE carries exactly one Event header field.
        raise _Refusal(400, "Missing Event header field")
    package = value.split(";", 1)[0].strip().lower()
    if package != EVENT_PACKAGE:
        # RFC 6665 §4.2.1: 489 Bad Event, and Allow-Events lists the packages we serve.
        raise _Refusal(489, headers=[("Allow-Events", ALLOW_EVENTS)])
    accept = request.headers.get_all("Accept")
    if accept and not _accepts(accept):
        # RFC 6665 §4.2.1 with RFC 3261 §21.4.7: we have one body type to offer.
        raise _Refusal(406, headers=[("Accept", CONTENT_TYPE)])
    return value.strip()


def _accepts(values: list[str]) -> bool:
    ranges = {
        item.split(";", 1)[0].strip().lower() for value in values for item in value.split(",")
    }
    return bool(ranges & {CONTENT_TYPE, "application/*", "*/*"}) or ranges <= {""}


def _same_event(a: str, b: str) -> bool:
    """Same package and id (RFC 6665 §4.1.2: the id parameter tells subscriptions apart)."""

    def key(value: str) -> tuple[str, str | None]:
        return value.split(";", 1)[0].strip().lower(), header_params(value).get("id")

    return key(a) == key(b)


def _resource(request: Request) -> str:
    """The mailbox a SUBSCRIBE is for: the Request-URI's user, else the To user."""
    try:
        user = (
            request.sip_uri.user or NameAddr.parse(request.headers.get("To") or "").sip_uri().user
        )
    except SipSyntaxError:
        return ""
    return user or ""


def _without_tag(value: str) -> str:
    address = NameAddr.parse(value)
    params = {k: v for k, v in address.params.items() if k != "tag"}
    return str(NameAddr(address.display, address.uri, params))


def _failed(response: Response | None) -> str | None:
    """Why a NOTIFY's answer ends the subscription, or None when it does not."""
    if response is None:
        return "no-response"
    if response.status < 300:
        return None
    if response.status in (481, 408) or response.headers.get("Retry-After") is None:
        return "rejected"
    return None  # a failure that says when to try again: the next change will
