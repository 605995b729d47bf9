"""SIP messages: parse and serialize (RFC 3261 §7, §20, §25).

``parse_message`` accepts one whole message (a datagram, or one framed by ``StreamFramer``)
and either returns a ``Request``/``Response`` or raises ``SipSyntaxError`` carrying the status
to answer with — any input, never another exception (see the fuzz tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import cast

from afterbeep.sip.errors import SipSyntaxError
from afterbeep.sip.uri import (
    TOKEN,
    NameAddr,
    SipUri,
    is_digits,
    parse_params,
    split_params,
)

# RFC 3261 §7.3.3 compact forms (plus the ones later RFCs registered).
COMPACT = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
    "c": "Content-Type", "f": "From", "s": "Subject", "k": "Supported", "t": "To",
    "v": "Via", "o": "Event", "r": "Refer-To", "b": "Referred-By", "u": "Allow-Events",
    "x": "Session-Expires", "a": "Accept-Contact", "j": "Reject-Contact",
    "d": "Request-Disposition", "y": "Identity", "n": "Identity-Info",
}  # fmt: skip
_CANONICAL = {
    name.lower(): name
    for name in (
        *COMPACT.values(), "Accept", "Allow", "Authorization", "CSeq", "Date", "Diversion",
        "Expires", "History-Info", "Max-Forwards", "Min-Expires", "P-Asserted-Identity",
        "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "Record-Route", "Require",
        "Retry-After", "Route", "Server", "Timestamp", "Unsupported", "User-Agent", "Warning",
        "WWW-Authenticate", "Privacy", "Remote-Party-ID", "Subscription-State", "Reason",
    )
}  # fmt: skip
_CANONICAL["call-id"] = "Call-ID"
_CANONICAL["cseq"] = "CSeq"
# Headers whose values may be comma-joined lists (RFC 3261 §7.3.1); others may contain commas.
_LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Via", "Route", "Record-Route", "Contact", "Allow", "Supported", "Require",
        "Proxy-Require", "Unsupported", "Accept", "Accept-Encoding", "Accept-Language",
        "Diversion", "History-Info", "P-Asserted-Identity", "Allow-Events", "Content-Encoding",
    )
)  # fmt: skip
_METHOD = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_SIP_VERSION = "SIP/2.0"
_VIA = re.compile(r"^\s*SIP\s*/\s*2\.0\s*/\s*([A-Za-z]+)\s+(\S.*?)\s*$", re.IGNORECASE)
MAX_MESSAGE = 65_535  # larger messages are refused (a UDP datagram cannot be larger)
MAX_HEADERS = 256


# Every known spelling (lower-cased long and compact forms) → the canonical name.
_NAMES = {**_CANONICAL, **COMPACT}
_SPELLED = {name: name for name in _CANONICAL.values()}
_KEYS: dict[str, str] = {}  # a look-up name as our code writes it → its index key
# A header name exactly as a peer wrote it (before the colon) → (canonical name, index key),
# once it passed the token check: a peer writes the same dozen names in every message.
_SEEN: dict[str, tuple[str, str]] = {}
_MEMO_LIMIT = 512  # names from peers must not grow the memos forever (nor long ones enter)


def canonical_name(name: str) -> str:
    canonical = _SPELLED.get(name)  # "Via", "CSeq", "Call-ID": as we and most peers write them
    if canonical is None:
        canonical = _NAMES.get(name)  # lower-case compact forms ("v", "f")
        if canonical is None:
            canonical = _NAMES.get(name.lower(), name)
    return canonical


def _key(name: str) -> str:
    """The index key of a header name (its canonical form, lower-cased), memoised: look-ups
    use a few dozen literal names, parsing SIP calls them for every message."""
    key = _KEYS.get(name)
    if key is None:
        key = canonical_name(name).lower()
        if len(_KEYS) < _MEMO_LIMIT:  # names from peers (``Headers.set``) come here too
            _KEYS[name] = key
    return key


class Headers:
    """Ordered header fields; look-ups are case-insensitive and know the compact forms.

    Look-ups go through an index (key → raw values), kept up to date by every change; parsed
    values (a Via, a name-addr) are memoised in ``memo`` under their header's key, and a
    change drops the changed header's. The index holds tuples of strings, which the garbage
    collector stops tracking (a call keeps its INVITE: lists were ten objects more per call
    for every collection to walk).
    """

    __slots__ = ("_fields", "_index", "memo")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str]] = []
        self._index: dict[str, tuple[str, ...]] = {}
        self.memo: dict[str, object] = {}
        for name, value in fields:
            self._append(canonical_name(name), value)

    @classmethod
    def _parsed(cls, fields: list[tuple[str, str]], index: dict[str, tuple[str, ...]]) -> Headers:
        """Headers from the parser, which already gave canonical names and the index."""
        headers = cls.__new__(cls)
        headers._fields, headers._index, headers.memo = fields, index, {}
        return headers

    def _append(self, name: str, value: str) -> None:
        self._fields.append((name, value))
        key = name.lower()
        self._index[key] = (*self._index.get(key, ()), value)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def by_key(self) -> dict[str, tuple[str, ...]]:
        """Lower-cased canonical name → the raw values, in order (do not change it)."""
        return self._index

    def get(self, name: str) -> str | None:
        """The first value of ``name`` (the first list element for list headers)."""
        key = _KEYS.get(name) or _key(name)
        values = self._index.get(key)
        if not values:
            return None
        if key in _LIST_HEADERS:
            first = values[0]
            return (split_params(first, ",")[0] if "," in first else first).strip()
        return values[0]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, comma-joined lists split apart (in order)."""
        key = _KEYS.get(name) or _key(name)
        values = self._index.get(key)
        if not values:
            return []
        if key not in _LIST_HEADERS:
            return list(values)
        out: list[str] = []
        for value in values:
            if "," in value:
                out.extend(v.strip() for v in split_params(value, ",") if v.strip())
            elif stripped := value.strip():
                out.append(stripped)
        return out

    def add(self, name: str, value: str) -> None:
        name = canonical_name(name)
        self._append(name, value)
        self.memo.pop(name.lower(), None)

    def set(self, name: str, value: str) -> None:
        """Replace every field called ``name`` by one, at the first one's place."""
        key = canonical_name(name).lower()
        out: list[tuple[str, str]] = []
        placed = False
        for field_name, old in self._fields:
            if field_name.lower() == key:
                if not placed:
                    out.append((field_name, value))
                    placed = True
            else:
                out.append((field_name, old))
        if not placed:
            out.append((canonical_name(name), value))
        self._fields = out
        self._index[key] = (value,)
        self.memo.pop(key, None)

    def replace_first(self, name: str, value: str) -> None:
        """Make ``value`` the first value of ``name`` (the first element, for a list header
        whose first field is comma-joined); added when absent."""
        key = canonical_name(name).lower()
        for position, (field_name, old) in enumerate(self._fields):
            if field_name.lower() == key:
                if key in _LIST_HEADERS and "," in old:
                    rest = [v.strip() for v in split_params(old, ",")[1:]]
                    value = ", ".join([value, *rest])
                self._fields[position] = (field_name, value)
                self._index[key] = (value, *self._index[key][1:])
                self.memo.pop(key, None)
                return
        self.add(name, value)

    def remove(self, name: str) -> None:
        key = canonical_name(name).lower()
        self._fields = [(n, v) for n, v in self._fields if n.lower() != key]
        self._index.pop(key, None)
        self.memo.pop(key, None)

    def copy(self) -> Headers:
        return Headers._parsed(list(self._fields), dict(self._index))


@dataclass(slots=True)
class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=…;rport`` (RFC 3261 §20.42)."""

    transport: str
    host: str
    port: int | None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        parts = split_params(text)
        # LWS is allowed around the slashes: "SIP / 2.0 / UDP" (RFC 4475 wsinv).
        match = _VIA.match(parts[0])
        if match is None:
            raise SipSyntaxError(f"invalid Via {text[:60]!r}")
        host, port = _sent_by(match.group(2))
        return cls(match.group(1).upper(), host, port, parse_params(parts[1:]))

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        return f"SIP/2.0/{self.transport} {host}{port}{params}"


def _sent_by(text: str) -> tuple[str, int | None]:
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:].strip() if rest.startswith(":") else ""
    else:
        host, _, port_text = text.partition(":")
    host, port_text = host.strip(), port_text.strip()
    # port = 1*DIGIT (§25.1); one past 65535 could not be answered (sendto would raise).
    if not host or (port_text and not (is_digits(port_text) and 0 < int(port_text) < 65536)):
        raise SipSyntaxError(f"invalid Via sent-by {text[:60]!r}")
    return host.lower(), int(port_text) if port_text else None


@dataclass(slots=True)
class Message:
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(sequence number, method) from CSeq; SipSyntaxError when missing or malformed."""
        cseq = self.headers.memo.get("cseq")
        if cseq is None:
            cseq = self.headers.memo["cseq"] = self._parse_cseq()
        return cast(tuple[int, str], cseq)

    def _parse_cseq(self) -> tuple[int, str]:
        value = self.headers.get("CSeq")
        if value is None:
            raise SipSyntaxError("missing CSeq")
        number, _, method = value.strip().partition(" ")
        method = method.strip()
        if not is_digits(number) or len(number) > 10 or int(number) >= 2**31 or not method:
            raise SipSyntaxError(f"invalid CSeq {value[:40]!r}")
        return int(number), method

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.headers.get_all("Via")]

    @property
    def top_via(self) -> Via:
        """The first Via, parsed once (do not change it: change the headers)."""
        via = self.headers.memo.get("via")
        if via is None:
            value = self.headers.get("Via")
            if value is None:
                raise SipSyntaxError("missing Via")
            via = self.headers.memo["via"] = Via.parse(value)
        return cast(Via, via)

    def name_addr(self, name: str) -> NameAddr:
        """The header's name-addr, parsed once per message."""
        memo = self.headers.memo
        key = _key(name)
        parsed = memo.get(key)
        if parsed is None:
            value = self.headers.get(name)
            if value is None:
                raise SipSyntaxError(f"missing {name}")
            parsed = memo[key] = NameAddr.parse(value)
        return cast(NameAddr, parsed)

    @property
    def from_tag(self) -> str | None:
        return self.name_addr("From").tag

    @property
    def to_tag(self) -> str | None:
        return self.name_addr("To").tag

    def _serialize(self, start_line: str) -> bytes:
        lines = [start_line]
        lines.extend(f"{name}: {value}" for name, value in self.headers if name != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8", "surrogateescape") + self.body


@dataclass(slots=True)
class Request(Message):
    method: str = ""
    uri: str = ""

    @property
    def sip_uri(self) -> SipUri:
        uri = self.headers.memo.get(" uri")  # no header's key has a space
        if uri is None:
            uri = self.headers.memo[" uri"] = SipUri.parse(self.uri)
        return cast(SipUri, uri)

    def __bytes__(self) -> bytes:
        return self._serialize(f"{self.method} {self.uri} {_SIP_VERSION}")


@dataclass(slots=True)
class Response(Message):
    status: int = 0
    reason: str = ""

    def __bytes__(self) -> bytes:
        return self._serialize(f"{_SIP_VERSION} {self.status} {self.reason}")


def parse_message(data: bytes) -> Request | Response:
    """Parse one whole SIP message. Raises SipSyntaxError, and nothing else."""
    try:
        return _parse(data)
    except SipSyntaxError:
        raise
    except (ValueError, IndexError, UnicodeError) as exc:  # defensive: never leak others
        raise SipSyntaxError(f"malformed message: {exc}") from exc


def _parse(data: bytes) -> Request | Response:
    if len(data) > MAX_MESSAGE:
        raise SipSyntaxError("message too large", 513)
    # RFC 3261 §7.5: CRLFs before the start line are ignored (stream keepalives).
    data = data.lstrip(b"\r\n")
    end = data.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end, sep = data.find(b"\n\n"), 2
        if end < 0:
            raise SipSyntaxError("no blank line after the headers")
    head = data[:end].decode("utf-8", "surrogateescape")
    body = data[end + sep :]
    lines = head.replace("\r\n", "\n").split("\n")
    start = lines[0]
    headers = _unfold(lines[1:])
    body = _cut_body(headers, body)
    if start.startswith("SIP/"):
        version, _, rest = start.partition(" ")
        code, _, reason = rest.partition(" ")
        if version != _SIP_VERSION:
            raise SipSyntaxError(f"unsupported version {version[:20]!r}", 505)
        if len(code) != 3 or not is_digits(code) or not 100 <= int(code) <= 699:
            raise SipSyntaxError(f"invalid status code {code[:20]!r}")
        response = Response(headers, body, int(code), reason)
        # A response is matched to its transaction by CSeq (§17.1.3); one whose CSeq cannot
        # be read (RFC 4475 §3.1.2.5 scalarlg: a number past 2**31) is dropped here.
        _ = response.cseq
        return response
    parts = start.split(" ")
    # Request-Line = Method SP Request-URI SP SIP-Version CRLF: exactly single spaces
    # (RFC 4475 lwsruri, lwsstart, trws are invalid).
    if len(parts) != 3 or not all(parts):
        raise SipSyntaxError("invalid request line")
    method, uri, version = parts
    if not _METHOD.match(method):
        raise SipSyntaxError(f"invalid method {method[:20]!r}")
    if not version.startswith("SIP/"):
        raise SipSyntaxError("invalid request line")
    if version != _SIP_VERSION:
        raise SipSyntaxError(f"unsupported version {version[:20]!r}", 505)
    return Request(headers, body, method, uri)


def _unfold(lines: list[str]) -> Headers:
    """Header lines → fields; continuation lines (leading SP/HT) join the previous."""
    fields: list[tuple[str, str]] = []
    keys: list[str] = []
    for line in lines:
        if not line:
            continue
        if line[0] in " \t":
            if not fields:
                raise SipSyntaxError("continuation line before any header")
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}".strip())
            continue
        raw, colon, value = line.partition(":")
        seen = _SEEN.get(raw)
        if seen is None or not colon:
            name = raw.rstrip(" \t")
            if not colon or not TOKEN.fullmatch(name):
                raise SipSyntaxError(f"invalid header line {line[:40]!r}")
            canonical = canonical_name(name)
            seen = (canonical, canonical.lower())
            if len(_SEEN) < _MEMO_LIMIT and len(raw) <= 64:
                _SEEN[raw] = seen
        fields.append((seen[0], value.strip()))
        keys.append(seen[1])
        if len(fields) > MAX_HEADERS:
            raise SipSyntaxError("too many header fields", 513)
    index: dict[str, tuple[str, ...]] = {}
    for key, (_, value) in zip(keys, fields, strict=True):
        values = index.get(key)
        index[key] = (value,) if values is None else (*values, value)
    return Headers._parsed(fields, index)


def _cut_body(headers: Headers, body: bytes) -> bytes:
    lengths = headers.get_all("Content-Length")
    if not lengths:
        return body
    if len(lengths) > 1 and len(set(lengths)) > 1:
        raise SipSyntaxError("conflicting Content-Length headers")
    text = lengths[0].strip()
    if not is_digits(text) or len(text) > 7:
        raise SipSyntaxError(f"invalid Content-Length {text[:20]!r}")
    length = int(text)
    if length > len(body):
        # RFC 3261 §18.3: a message shorter than its Content-Length is malformed.
        raise SipSyntaxError("body shorter than Content-Length")
    # Bytes past Content-Length in a datagram are discarded (§18.3).
    return body[:length]


_MANDATORY = tuple((name, name.lower()) for name in ("To", "From", "Call-ID", "CSeq", "Via"))
_SINGLE = tuple((name, name.lower()) for name in ("To", "From", "Call-ID", "CSeq", "Max-Forwards"))


def validate_request(request: Request) -> None:
    """Semantic checks a UAS makes before acting (RFC 3261 §8.2); SipSyntaxError if bad."""
    present = request.headers.by_key()
    for name, key in _MANDATORY:
        if key not in present:
            raise SipSyntaxError(f"missing {name} header")
    # §7.3.1 / §20: these may appear once; two of them leave the request ambiguous and it is
    # answered 400 (RFC 4475 §3.3.8, multi01).
    for name, key in _SINGLE:
        if len(present.get(key, ())) > 1:
            raise SipSyntaxError(f"more than one {name} header")
    _, cseq_method = request.cseq
    if cseq_method != request.method:
        raise SipSyntaxError("CSeq method does not match the request method")
    _ = request.top_via  # each Via must parse (the top one is kept for the transaction)
    for value in request.headers.get_all("Via")[1:]:
        Via.parse(value)
    to, sender = request.name_addr("To"), request.name_addr("From")
    if request.method != "ACK":
        # §8.2.2.1: an unsupported Request-URI scheme gets 416.
        _ = request.sip_uri
    for addr in (to, sender):
        scheme = addr.uri.split(":", 1)[0].lower()
        if scheme in ("sip", "sips"):
            SipUri.parse(addr.uri)
    max_forwards = request.headers.get("Max-Forwards")
    if max_forwards is not None:
        value = max_forwards.strip()
        if not is_digits(value) or int(value) > 255:
            raise SipSyntaxError("invalid Max-Forwards")
    for contact in request.headers.get_all("Contact"):
        # "*" only means "every binding" in a REGISTER (§10.2.2); anywhere else it is no
        # target, and the dialog code would fail later trying to parse it.
        if contact != "*" or request.method != "REGISTER":
            NameAddr.parse(contact)
    # §12.1.1: the route set is taken from Record-Route; a value we cannot read now would
    # leave the dialog unable to route its BYE later (raising from a timer callback).
    for route in request.headers.get_all("Record-Route"):
        try:
            NameAddr.parse(route).sip_uri()
        except SipSyntaxError as error:
            raise SipSyntaxError(f"invalid Record-Route: {error.reason}") from error
    expires = request.headers.get("Expires")
    if expires is not None and not is_digits(expires.strip()):
        raise SipSyntaxError("invalid Expires")
    content_type = request.headers.get("Content-Type")
    if request.body and content_type is None:
        raise SipSyntaxError("body without Content-Type")
    if content_type is not None and "/" not in content_type:
        raise SipSyntaxError("invalid Content-Type")
    # Content-Encoding needs no check: we never read an encoded body; the flows ignore it.


def header_params(value: str) -> dict[str, str | None]:
    """The ';' parameters of a header value such as Diversion or Event."""
    return parse_params(split_params(value)[1:])


class StreamFramer:
    """Split a byte stream (TCP) into whole messages using Content-Length (RFC 3261 §18.3)."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buffer = bytearray()
        self._max = max_message

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the complete messages. SipSyntaxError: close the stream."""
        self._buffer += data
        messages: list[bytes] = []
        while True:
            # Keepalive CRLFs between messages (RFC 5626 §3.5.1) are skipped.
            while self._buffer[:2] == b"\r\n":
                del self._buffer[:2]
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > self._max:
                    raise SipSyntaxError("header section too large", 513)
                return messages
            head = bytes(self._buffer[:end]).decode("utf-8", "surrogateescape")
            # Lines end in CRLF and "$" only stops before the LF, hence "\r?": without it
            # only a Content-Length written last in the header section was found.
            match = re.search(r"(?im)^(?:content-length|l)[ \t]*:[ \t]*([0-9]+)[ \t]*\r?$", head)
            if match is None:
                # Over a stream Content-Length is mandatory (§20.14).
                raise SipSyntaxError("missing Content-Length on a stream transport")
            total = end + 4 + int(match.group(1))
            if total > self._max:
                raise SipSyntaxError("message too large", 513)
            if len(self._buffer) < total:
                return messages
            messages.append(bytes(self._buffer[:total]))
            del self._buffer[:total]
