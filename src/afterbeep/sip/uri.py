"""SIP URIs and name-addr values (RFC 3261 §19.1, §20.10, §25.1).

Parsing is deliberately tolerant of what real peers send and strict where the RFC's
torture tests (RFC 4475) expect a rejection.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from afterbeep.sip.errors import SipSyntaxError

# scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+\-.]*):")
# The characters allowed in a token (RFC 3261 §25.1).
TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
# The same sets as regular expressions: a search is one C call where a generator over the
# characters was a Python step each (this runs for every header of every message).
TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_NOT_TOKEN_OR_LWS = re.compile(r"[^A-Za-z0-9\-.!%*_+`'~ \t]")
_BAD_HOST_CHAR = re.compile(r"[ \t<>\"']")
_SPACE = re.compile(r"\s")
_SPACE_OR_QUOTE = re.compile(r'[\s"]')


def is_digits(text: str) -> bool:
    """1*DIGIT with DIGIT = %x30-39 (RFC 5234 B.1). ``str.isdigit`` also accepts "²" and
    other Unicode digits, some of which ``int()`` then rejects with a ValueError."""
    return text.isascii() and text.isdigit()


def split_params(text: str, sep: str = ";") -> list[str]:
    """Split on ``sep`` outside quoted strings and angle brackets."""
    if sep not in text:
        return [text]
    if '"' not in text and "<" not in text:
        return text.split(sep)  # the common case, without the character loop
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def parse_params(items: list[str]) -> dict[str, str | None]:
    """';a=b;c' items (already split) → {'a': 'b', 'c': None}; names are lower-cased."""
    params: dict[str, str | None] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        params[name.strip().lower()] = value.strip() if eq else None
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@dataclass(frozen=True, slots=True)
class SipUri:
    """sip:user:password@host:port;params?headers (also sips: and tel:)."""

    scheme: str
    user: str | None
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str = ""
    password: str | None = None

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """The URI in ``text`` (memoised: a caller's URIs recur in every request of a call,
        and a trunk's in every call; parsed values are never changed)."""
        return _parse_uri(text)

    @classmethod
    def _parse(cls, text: str) -> SipUri:
        text = text.strip()
        match = _SCHEME.match(text)
        if not match:
            raise SipSyntaxError(f"not a URI: {text[:60]!r}")
        scheme = match.group(1).lower()
        rest = text[match.end() :]
        if scheme == "tel":
            number, *params = split_params(rest)
            return cls(scheme, unquote(number), "", None, parse_params(params))
        if scheme not in ("sip", "sips"):
            # RFC 3261 §8.2.2.1: an unsupported scheme is answered with 416.
            raise SipSyntaxError(f"unsupported URI scheme {scheme!r}", 416)
        user: str | None = None
        password: str | None = None
        # The user part may itself contain ';' and '?' (user-unreserved, §25.1; RFC 4475
        # semiuri, intmeth) while neither uri-parameters nor headers may hold an unescaped
        # '@': so split at the last '@' first, and look for '?' only in what follows it.
        if "@" in rest:
            userinfo, _, rest = rest.rpartition("@")
            user, colon, pw = userinfo.partition(":")
            password = pw if colon else None
            user = unquote(user)
            if not user:
                raise SipSyntaxError("empty user part in URI")
        rest, _, headers = rest.partition("?")
        hostport, *params = rest.split(";")
        host, port = _split_hostport(hostport)
        return cls(scheme, user, host, port, parse_params(params), headers, password)

    def __str__(self) -> str:
        if self.scheme == "tel":
            return f"tel:{self.user}{format_params(self.params)}"
        userinfo = ""
        if self.user is not None:
            userinfo = _escape_user(self.user)
            if self.password is not None:
                userinfo += f":{self.password}"
            userinfo += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        headers = f"?{self.headers}" if self.headers else ""
        return f"{self.scheme}:{userinfo}{host}{port}{format_params(self.params)}{headers}"


def _escape_user(user: str) -> str:
    # Escape what may not appear unescaped in a user part (RFC 3261 §25.1 "user").
    # "%" only starts an escape there, so a literal one is written as %25; the parentheses
    # matter: ``-`` binds tighter than ``|``.
    allowed = (TOKEN_CHARS | frozenset("&=+$,;?/()")) - {"%"}
    return "".join(c if c in allowed else f"%{ord(c):02X}" for c in user)


def _split_hostport(hostport: str) -> tuple[str, int | None]:
    hostport = hostport.strip()
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SipSyntaxError("unterminated IPv6 reference")
        host, rest = hostport[1:end], hostport[end + 1 :]
    else:
        host, _, port_text = hostport.partition(":")
        rest = f":{port_text}" if port_text else ""
    if not host or _BAD_HOST_CHAR.search(host):
        raise SipSyntaxError(f"invalid host {hostport!r}")
    if not rest:
        return host.lower(), None
    if not rest.startswith(":") or not is_digits(rest[1:]) or not 0 < int(rest[1:]) < 65536:
        raise SipSyntaxError(f"invalid port in {hostport!r}")
    return host.lower(), int(rest[1:])


@dataclass(frozen=True, slots=True)
class NameAddr:
    """name-addr / addr-spec with header parameters (From, To, Contact, Route, …)."""

    display: str
    uri: str
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        """The name-addr in ``text`` (memoised like ``SipUri.parse``)."""
        return _parse_name_addr(text)

    @classmethod
    def _parse(cls, text: str) -> NameAddr:
        text = text.strip()
        lt = _find_unquoted(text, "<")
        if lt >= 0:
            gt = text.find(">", lt)
            if gt < 0:
                raise SipSyntaxError(f"unterminated '<' in {text[:60]!r}")
            display = _unquote_display(text[:lt].strip())
            uri = text[lt + 1 : gt]
            # name-addr = [ display-name ] LAQUOT addr-spec RAQUOT: no LWS inside the
            # brackets (RFC 4475 §3.1.2.14 badaspec, which we reject).
            if _SPACE.search(uri):
                raise SipSyntaxError(f"whitespace inside <> in {text[:60]!r}")
            params = parse_params(split_params(text[gt + 1 :])[1:]) if ";" in text[gt:] else {}
            rest = text[gt + 1 :].strip()
            if rest and not rest.startswith(";"):
                raise SipSyntaxError(f"junk after URI in {text[:60]!r}")
        else:
            # addr-spec: parameters after the URI belong to the header (RFC 3261 §20.10),
            # and such a URI may not contain ',', ';' or '?' itself. LWS may come before
            # SEMI and around EQUAL (RFC 4475 §3.1.1.1 wsinv: "sip:a@b ;   tag    = 1").
            uri, *rest_params = text.split(";")
            uri = uri.rstrip()
            if _SPACE_OR_QUOTE.search(uri):
                raise SipSyntaxError(f"invalid addr-spec {text[:60]!r}")
            display = ""
            params = parse_params(rest_params)
        if not _SCHEME.match(uri):
            raise SipSyntaxError(f"invalid URI in {text[:60]!r}")
        return cls(display, uri, params)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def sip_uri(self) -> SipUri:
        return SipUri.parse(self.uri)

    def __str__(self) -> str:
        display = f'"{_escape_quoted(self.display)}" ' if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


# Bounded: a scanner sending random URIs only churns the caches.
_parse_uri = functools.lru_cache(maxsize=4096)(SipUri._parse)
_parse_name_addr = functools.lru_cache(maxsize=4096)(NameAddr._parse)


def _find_unquoted(text: str, char: str) -> int:
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == char:
            return i
        i += 1
    return -1


def _unquote_display(text: str) -> str:
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"'):
            raise SipSyntaxError(f"unterminated display name {text[:60]!r}")
        inner = text[1:-1]
        return re.sub(r"\\(.)", r"\1", inner) if "\\" in inner else inner
    # An unquoted display name is a sequence of tokens (RFC 3261 §25.1).
    if _NOT_TOKEN_OR_LWS.search(text):
        raise SipSyntaxError(f"invalid display name {text[:60]!r}")
    return " ".join(text.split())


def _escape_quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
