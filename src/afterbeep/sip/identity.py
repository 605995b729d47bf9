"""Who called, whom, and why the call was diverted — read from SIP headers.

Caller: P-Asserted-Identity (RFC 3325, set by a trusted network) over From.
Diversion: the Diversion header (RFC 5806) or History-Info (RFC 7044 with cause parameters
from RFC 4458); the first one is the original called party.
"""

from __future__ import annotations

from urllib.parse import unquote

from afterbeep.domain import DiversionReason
from afterbeep.sip.errors import SipSyntaxError
from afterbeep.sip.message import Request, header_params
from afterbeep.sip.uri import NameAddr, SipUri

# RFC 5806 §4 reason values.
_DIVERSION_REASONS = {
    "user-busy": DiversionReason.BUSY,
    "no-answer": DiversionReason.NO_ANSWER,
    "unavailable": DiversionReason.UNAVAILABLE,
    "unconditional": DiversionReason.UNCONDITIONAL,
    "time-of-day": DiversionReason.UNCONDITIONAL,
    "do-not-disturb": DiversionReason.BUSY,
    "deflection": DiversionReason.UNCONDITIONAL,
    "follow-me": DiversionReason.UNCONDITIONAL,
    "out-of-service": DiversionReason.UNAVAILABLE,
    "away": DiversionReason.UNAVAILABLE,
}
# RFC 4458 cause codes carried in History-Info URIs (as SIP response codes).
_CAUSES = {
    "486": DiversionReason.BUSY,
    "408": DiversionReason.NO_ANSWER,
    "480": DiversionReason.NO_ANSWER,
    "487": DiversionReason.NO_ANSWER,
    "503": DiversionReason.UNAVAILABLE,
    "404": DiversionReason.UNAVAILABLE,
    "302": DiversionReason.UNCONDITIONAL,
}


def _user(uri: str) -> str:
    try:
        parsed = SipUri.parse(uri)
    except SipSyntaxError:
        return ""
    return _number(parsed)


def _number(uri: SipUri) -> str:
    return (uri.user or "").split(";", 1)[0]  # drop user parameters such as ;phone-context


def caller(request: Request) -> tuple[str, str]:
    """(number, display name) of the caller; empty strings when withheld."""
    for name in ("P-Asserted-Identity", "From"):
        for value in request.headers.get_all(name):
            try:
                addr = NameAddr.parse(value)
            except SipSyntaxError:
                continue
            number = _user(addr.uri)
            if number.lower() in ("anonymous", "unknown"):
                number = ""
            display = addr.display
            if display.lower() in ("anonymous", "unknown"):
                display = ""
            if number or display:
                return number, display
    return "", ""


def called(request: Request) -> str:
    """The number dialled: the Request-URI's user part, else the To URI's (§8.1.1.2)."""
    try:
        number = _number(request.sip_uri)
    except SipSyntaxError:
        number = ""
    if number:
        return number
    # To holds a name-addr ("Bob" <sip:…>;tag=…), not a bare URI: parse it as one first.
    try:
        return _user(request.name_addr("To").uri)
    except SipSyntaxError:
        return ""


def diversion(request: Request) -> tuple[str, DiversionReason] | None:
    """The originally called number and the reason, from Diversion or History-Info."""
    diversions = request.headers.get_all("Diversion")
    if diversions:
        # RFC 5806: the last entry is the oldest, i.e. the original called party.
        value = diversions[-1]
        try:
            addr = NameAddr.parse(value)
        except SipSyntaxError:
            return None
        reason_text = (addr.params.get("reason") or "").strip('"').lower()
        return _user(addr.uri), _DIVERSION_REASONS.get(reason_text, DiversionReason.UNKNOWN)
    entries = request.headers.get_all("History-Info")
    if len(entries) >= 2:
        # RFC 7044: entries in order; the cause of a retarget is on the *next* entry's URI.
        try:
            first = NameAddr.parse(entries[0])
            nxt = NameAddr.parse(entries[1])
        except SipSyntaxError:
            return None
        reason = DiversionReason.UNKNOWN
        uri_headers = nxt.uri.partition("?")[2]
        cause = header_params(";" + nxt.uri.partition(";")[2].partition("?")[0]).get("cause")
        if cause is None and "Reason=" in uri_headers:
            text = unquote(uri_headers)
            cause = text.partition("cause=")[2][:3] or None
        if cause:
            reason = _CAUSES.get(cause.strip(), DiversionReason.UNKNOWN)
        return _user(first.uri.partition("?")[0]), reason
    return None


_DTMF_KEYS = frozenset("0123456789*#ABCD")


def info_digit(request: Request) -> str | None:
    """The key in a SIP INFO DTMF body: ``application/dtmf-relay`` ("Signal=5") or
    ``application/dtmf`` (just the key), as Cisco and Asterisk send them."""
    content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    text = request.body.decode("ascii", "replace")
    if content_type == "application/dtmf-relay":
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                key = value.strip().upper()
                return key if key in _DTMF_KEYS else None
    elif content_type == "application/dtmf":
        key = text.strip().upper()
        return {"10": "*", "11": "#"}.get(key, key) if key in _DTMF_KEYS | {"10", "11"} else None
    return None
