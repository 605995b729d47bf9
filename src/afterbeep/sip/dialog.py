"""The values the UAS core hands to its user: addresses, sessions, events, responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from afterbeep.sip.message import Headers, Request, Response
from afterbeep.sip.transaction import ServerTransaction

REASONS = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 202: "Accepted",
    400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 408: "Request Timeout", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 420: "Bad Extension", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 489: "Bad Event",
    481: "Call/Transaction Does Not Exist", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 491: "Request Pending", 500: "Server Internal Error",
    501: "Not Implemented", 503: "Service Unavailable", 505: "Version Not Supported",
    513: "Message Too Large",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Address:
    """Where a message came from or goes to. ``host`` may be a name for outgoing requests."""

    transport: str  # "UDP" or "TCP"
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        return self.transport != "UDP"


@dataclass(frozen=True, slots=True)
class Outgoing:
    data: bytes
    destination: Address


class SessionState(Enum):
    INCOMING = "incoming"  # INVITE received, no final response yet
    ANSWERED = "answered"  # 2xx sent, waiting for the ACK
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(eq=False, slots=True)
class ServerRequest:
    """A request the TU must answer through ``UserAgent.respond``."""

    request: Request
    transaction: ServerTransaction
    session: Session | None


@dataclass(eq=False, slots=True)
class Session:
    """One INVITE dialog in which we are the UAS (RFC 3261 §12.1.1)."""

    invite: Request = field(repr=False)
    source: Address
    call_id: str
    remote_tag: str
    local_tag: str
    local_host: str  # the address we advertise in Contact and SDP
    invite_request: ServerRequest | None = field(default=None, repr=False)
    state: SessionState = SessionState.INCOMING
    remote_target: str = ""
    route_set: list[str] = field(default_factory=list)
    remote_seq: int = 0
    local_seq: int = 0
    pending_reinvite: ServerRequest | None = None
    # The 2xx being retransmitted until its ACK arrives (§13.3.1.4): CSeq and cancel handle.
    _unacked: tuple[int, Any] | None = None
    bye_pending: bool = False  # we hung up before the ACK: BYE goes out when it arrives
    ack_body: bytes = b""  # the SDP answer when the INVITE had no offer (RFC 3264 §4)
    app: Any = None  # for the TU: whatever it needs to find its call object

    @property
    def dialog_id(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)


# Events the TU consumes.
@dataclass(frozen=True, slots=True)
class IncomingCall:
    session: Session


@dataclass(frozen=True, slots=True)
class CallCancelled:
    session: Session


@dataclass(frozen=True, slots=True)
class CallConfirmed:
    session: Session


@dataclass(frozen=True, slots=True)
class CallEnded:
    session: Session
    reason: str  # "bye" (the peer hung up), "ack-timeout", "local"


@dataclass(frozen=True, slots=True)
class ReInvite:
    session: Session
    handle: ServerRequest


@dataclass(frozen=True, slots=True)
class InDialogRequest:
    session: Session
    handle: ServerRequest


@dataclass(frozen=True, slots=True)
class RequestCompleted:
    session: Session
    method: str
    response: Response | None  # None: no answer (timer F)


Event = (
    IncomingCall
    | CallCancelled
    | CallConfirmed
    | CallEnded
    | ReInvite
    | InDialogRequest
    | RequestCompleted
)


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> Response:
    """§8.2.6.2: copy Via, From, To (adding our tag), Call-ID and CSeq from the request."""
    copied = request.headers
    fields = [("Via", value) for value in copied.get_all("Via")]
    fields += [("From", value) for value in copied.get_all("From")]
    to = copied.get("To") or ""
    if to_tag and ";tag=" not in to.replace(" ", "").lower():
        to = f"{to};tag={to_tag}"
    fields += [
        ("To", to),
        ("Call-ID", copied.get("Call-ID") or ""),
        ("CSeq", copied.get("CSeq") or ""),
    ]
    if headers:
        fields += headers
    if content_type is not None:
        fields.append(("Content-Type", content_type))
    return Response(Headers(fields), body, status, reason or REASONS.get(status, "Unknown"))
