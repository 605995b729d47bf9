"""Signed HTTP webhooks, and the one guarded POST that every HTTP channel goes through.

A webhook body is compact JSON describing one event. It is signed the way Stripe and GitHub
sign theirs: ``X-Afterbeep-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`` over
``"<t>." + body``, so a receiver can check both origin and freshness (replays older than the
tolerance are refused). ``post`` is shared with the SMS providers: it never follows redirects,
reads at most a few KiB of the answer, and turns every httpx failure into ``DeliveryError``
(permanent for 3xx and 4xx other than 408/429, transient otherwise).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from afterbeep.notify.content import DeliveryError, Notice

USER_AGENT = "afterbeep"
READ_LIMIT = 4096  # bytes of an answer we read at most: enough for an id or an error message
EXCERPT_CHARS = 200  # how much of an error body an error message shows
RETRYABLE_4XX = frozenset({408, 429})  # request timeout, too many requests


# -- body and signature ----------------------------------------------------------------------


def _utc(at: dt.datetime) -> str:
    # Notice times are UTC by contract; a naive one is taken as UTC, not as local time.
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def webhook_body(notice: Notice, *, delivery_id: str, created_at: dt.datetime) -> bytes:
    """The JSON body of one delivery: the exact bytes that are signed and sent."""
    data: dict[str, Any] = {
        "mailbox": {"number": notice.mailbox.number, "name": notice.mailbox.name},
        "message_id": None if notice.message_id is None else str(notice.message_id),
        "caller_number": notice.caller_number,
        "caller_name": notice.caller_name,
        "called_number": notice.called_number,
        "reason": notice.reason.value,
        "at": _utc(notice.at),
        "duration_seconds": notice.duration_seconds,
        "urgent": notice.urgent,
        "transcript": notice.transcript,
        "web_url": notice.web_url,
    }
    envelope = {
        "id": delivery_id,
        "type": notice.event.value,
        "created_at": _utc(created_at),
        "data": data,
    }
    # Compact and UTF-8: receivers verify the bytes, so we sign exactly what we send.
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Afterbeep-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of now.

    Several ``v1`` values are accepted (a sender rotating its secret sends one per secret);
    a malformed header is simply not valid.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            return False
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body)
    # compare_digest on every candidate: the time taken must not reveal which one was close.
    matches = [hmac.compare_digest(expected, c) for c in candidates]
    return any(matches)


# -- the guarded POST ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body: bytes  # the first READ_LIMIT bytes at most


def excerpt(body: bytes) -> str:
    """A short, one-line account of an error body, for logs and the job's last error.

    JSON errors in the common ``{"code", "message"}`` shape (Twilio's, among others) are shown
    as ``code: message``; anything else as its first characters.
    """
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = data.get("message") or data.get("error")
        if isinstance(message, str):
            code = data.get("code")
            text = message if code is None else f"{code}: {message}"
    text = " ".join(text.split())
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1] + "…"
    return text


def _failure(host: str, status: int, body: bytes) -> DeliveryError:
    detail = excerpt(body)
    message = f"{host} answered {status}" + (f": {detail}" if detail else "")
    if 300 <= status < 400:
        # Following would send the signed body (and credentials) wherever the target points.
        return DeliveryError(message + " (redirects are not followed)", permanent=True)
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    return DeliveryError(message, permanent=permanent)


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str],
    content: bytes | None = None,
    form: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> HttpReply:
    """POST and return a 2xx answer; raise ``DeliveryError`` for anything else.

    Errors name only the host: a webhook URL's path or query often carries a secret token.
    """
    host = urlsplit(url).hostname or url
    try:
        async with client.stream(
            "POST",
            url,
            headers={"User-Agent": USER_AGENT, **headers},
            content=content,
            data=form,
            auth=auth,
            follow_redirects=False,
        ) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= READ_LIMIT:
                    break  # a huge answer is not ours to store; closing drops the rest
            status = response.status_code
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise DeliveryError(f"cannot post to {url!r}: {exc}", permanent=True) from exc
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"{host} timed out ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{host} unreachable: {type(exc).__name__}: {exc}") from exc
    if not 200 <= status < 300:
        raise _failure(host, status, bytes(body))
    return HttpReply(status, bytes(body[:READ_LIMIT]))


# -- delivery --------------------------------------------------------------------------------


async def deliver_webhook(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    body: bytes,
    *,
    event: str,
    delivery_id: str,
    now: int,
) -> int:
    """Send one signed delivery; the 2xx status on success, else ``DeliveryError``.

    ``now`` (unix seconds) is the signature's timestamp: a retry signs afresh with its own
    time, so a receiver's freshness check measures this attempt, not the first one.
    """
    headers = {
        "Content-Type": "application/json",
        "X-Afterbeep-Event": event,
        "X-Afterbeep-Delivery": delivery_id,
        "X-Afterbeep-Signature": sign(secret, now, body),
    }
    reply = await post(client, url, headers=headers, content=body)
    return reply.status
