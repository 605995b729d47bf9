"""SMS notifications: the text (sized to GSM 03.38 segments) and the providers that send it.

Carriers bill and deliver SMS by segment. A text whose every character is in the GSM 03.38
default alphabet (or its extension table) goes as 7-bit septets; one character outside it
switches the whole message to UCS-2, which holds less than half as much. ``compose_sms``
therefore keeps to GSM-7 where the language allows and trims the transcript, never the
header, to the segment budget.
"""

from __future__ import annotations

import json
import re
from typing import Literal, Protocol

import httpx
import phonenumbers

from afterbeep.notify.content import DeliveryError, EventKind, Notice
from afterbeep.notify.format import caller_text, format_duration, format_when, label
from afterbeep.notify.webhooks import post

# -- GSM 03.38 -------------------------------------------------------------------------------

# 3GPP TS 23.038 §6.2.1, the default alphabet in code order (0x1B, the escape, left out).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
) - {"\x1b"}
# §6.2.1.1, the extension table: each is sent as escape + code, two septets.
GSM_EXTENDED = frozenset("\f^{}\\[~]|€")

GSM_SINGLE, GSM_PART = 160, 153  # septets; a part loses 7 to the concatenation header
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units

MIN_TRANSCRIPT = 12  # characters of transcript (ellipsis included) worth sending

# Characters with a plain GSM-7 equivalent. Speech-to-text writes curly quotes, and CLDR
# (through Babel) puts a narrow no-break space before "PM": left in, one of them would switch
# the whole SMS to UCS-2 and halve the room for the transcript.
_PLAIN = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "−": "-",
        "…": "...",
        "\u00a0": " ",  # no-break space
        "\u2007": " ",  # figure space
        "\u2009": " ",  # thin space
        "\u202f": " ",  # narrow no-break space
    }
)


def sms_encoding(text: str) -> Literal["GSM-7", "UCS-2"]:
    """The encoding a carrier uses for ``text``: GSM-7 if every character allows it."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text):
        return "GSM-7"
    return "UCS-2"


def sms_segments(text: str) -> int:
    """How many SMS segments ``text`` takes; an empty text is one (an empty SMS)."""
    # Each character's size in its encoding's units. A character is never split between
    # parts (neither an escape pair nor a UTF-16 surrogate pair), so parts are packed whole.
    if sms_encoding(text) == "GSM-7":
        units = [2 if ch in GSM_EXTENDED else 1 for ch in text]
        single, part = GSM_SINGLE, GSM_PART
    else:
        units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, part = UCS2_SINGLE, UCS2_PART
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for size in units:
        if used + size > part:
            parts, used = parts + 1, 0
        used += size
    return parts


def _ellipsized(prefix: str) -> str:
    prefix = prefix.rstrip()
    # "…" is not in GSM 03.38: on an otherwise GSM-7 text it would switch the SMS to UCS-2.
    return prefix + ("..." if sms_encoding(prefix) == "GSM-7" else "…")


def fit_sms(text: str, max_segments: int) -> str:
    """``text`` if it fits in ``max_segments``, else its longest start that does, plus an
    ellipsis; cut at a word boundary when one is near."""
    if max_segments < 1:
        raise ValueError(f"max_segments must be at least 1, not {max_segments}")
    if sms_segments(text) <= max_segments:
        return text

    def fits(n: int) -> bool:
        return sms_segments(_ellipsized(text[:n])) <= max_segments

    # Binary search for the longest prefix that fits: segments grow with the prefix.
    low, high = 0, len(text) - 1  # fits(0) ("..." alone) holds; the whole text does not
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    space = text.rfind(" ", 0, low + 1)
    if space > low - 20 and space > 0 and fits(space):  # within a long word's reach
        low = space
    return _ellipsized(text[:low])


# -- the text --------------------------------------------------------------------------------


def compose_sms(notice: Notice, *, region: str = "US", max_segments: int = 2) -> str:
    """The SMS for a new message or a missed call, in the mailbox's language and zone.

    A new message gives caller, time and length, then as much of the transcript as the
    segment budget leaves room for.
    """
    language = notice.mailbox.language
    caller = caller_text(notice, region=region, language=language)
    zone = notice.mailbox.timezone
    if notice.event is EventKind.CALL_MISSED:
        time = format_when(notice.at, zone, language, style="time")
        text = label("missed_call", language, caller=caller, time=time).translate(_PLAIN)
        return fit_sms(text, max_segments)
    if notice.event is not EventKind.MESSAGE_CREATED:
        raise ValueError(f"no SMS is sent for {notice.event.value}")
    text = label(
        "sms_message",
        language,
        caller=caller,
        time=format_when(notice.at, zone, language, style="short"),
        duration=format_duration(notice.duration_seconds or 0.0, language),
    ).translate(_PLAIN)
    transcript = " ".join((notice.transcript or "").translate(_PLAIN).split())
    if not transcript:
        return fit_sms(text, max_segments)
    full = fit_sms(f"{text}\n{transcript}", max_segments)
    # A transcript cut to its first word or two says nothing; leave it out then.
    if len(full) < len(text) + 1 + MIN_TRANSCRIPT:
        return fit_sms(text, max_segments)
    return full


# -- numbers ---------------------------------------------------------------------------------

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# Digits and the usual separators only: phonenumbers would read letters as a vanity number
# ("anonymous" -> 266669687).
_DIALLABLE = re.compile(r"\+?[0-9(][0-9 ()./-]*")


def to_e164(number: str, region: str) -> str:
    """``number`` (national to ``region``, or international) as E.164: '+12025550123'.

    Raises ValueError for what no provider could text: a name, an extension, a short code,
    a number too short or too long to exist.
    """
    text = number.strip()
    if not _DIALLABLE.fullmatch(text):
        raise ValueError(f"not a phone number: {number!r}")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {number!r} ({exc})") from None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise ValueError(f"not a complete phone number in {region}: {number!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _check_to(to: str) -> None:
    # A malformed destination can never succeed: fail permanently rather than retry.
    if not _E164.fullmatch(to):
        raise DeliveryError(f"SMS destination is not in E.164 form: {to!r}", permanent=True)


# -- providers -------------------------------------------------------------------------------


class SmsProvider(Protocol):
    async def send(self, to: str, text: str, *, key: str) -> str:
        """Send ``text`` to ``to`` (E.164); the provider's message id.

        ``key`` is stable across retries of one job, so a provider that saw the first try
        can drop the repeat. Raises ``DeliveryError``.
        """
        ...


def _json_field(body: bytes, name: str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return str(value) if isinstance(value, str | int) and str(value) else None


class WebhookSmsProvider:
    """Posts ``{"to", "from", "text", "id"}`` as JSON to a gateway of the operator's own."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        token: str | None = None,
        sender: str | None = None,
    ) -> None:
        self._client = client
        self._url = url
        self._token = token
        self._sender = sender

    async def send(self, to: str, text: str, *, key: str) -> str:
        _check_to(to)
        body = {"to": to, "from": self._sender, "text": text, "id": key}
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        content = json.dumps(body, ensure_ascii=False).encode()
        reply = await post(self._client, self._url, headers=headers, content=content)
        # A gateway need not answer with an id; the job's key then names the message.
        return _json_field(reply.body, "id") or key


class TwilioSmsProvider:
    """Twilio's Programmable Messaging API (``POST /2010-04-01/Accounts/{sid}/Messages``)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        account_sid: str,
        auth_token: str,
        sender: str,
        base_url: str = "https://api.twilio.com",
    ) -> None:
        self._client = client
        self._auth = (account_sid, auth_token)
        self._sender = sender
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"

    async def send(self, to: str, text: str, *, key: str) -> str:
        _check_to(to)
        form = {"To": to, "Body": text}
        # A Messaging Service SID (MG…) picks the sender from a pool instead of one number.
        if self._sender.startswith("MG"):
            form["MessagingServiceSid"] = self._sender
        else:
            form["From"] = self._sender
        headers = {"I-Twilio-Idempotency-Token": key}
        reply = await post(self._client, self._url, headers=headers, form=form, auth=self._auth)
        sid = _json_field(reply.body, "sid")
        if sid is None:
            # Not Twilio (a wrong base_url?): trying again would not make it Twilio.
            raise DeliveryError(f"Twilio answered {reply.status} without a sid", permanent=True)
        return sid
