"""Checks on the values an administrator gives a mailbox; ``InvalidValue`` says what is wrong."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

from afterbeep.domain import AttachPolicy, AudioFormat, WarningMode
from afterbeep.store.errors import InvalidValue

# Dialled digits, or a name for sip:sales@host; nothing that needs escaping in a SIP URI.
_NUMBER = re.compile(r"[A-Za-z0-9+._-]{1,64}")
_PIN = re.compile(r"[0-9]{4,16}")  # ASCII digits only: str.isdigit() accepts '²' and '٣'
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SMS_NUMBER = re.compile(r"\+?[0-9]{3,20}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


def mailbox_number(value: str) -> str:
    if not isinstance(value, str) or not _NUMBER.fullmatch(value):
        raise InvalidValue(
            f"invalid mailbox number {value!r}: use 1-64 digits, letters, '+', '.', '_' or '-'"
        )
    return value


def pin(value: object) -> str:
    if not isinstance(value, str) or not _PIN.fullmatch(value):
        raise InvalidValue("a PIN must be 4 to 16 digits")
    return value


def name(value: object) -> str:
    """A name shown to people (a mailbox's, a user's, a list's, a token's)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidValue("a name must be 1 to 200 characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidValue("a name cannot hold control characters")
    return value.strip()


def email(value: object) -> str:
    if not isinstance(value, str) or len(value) > 320 or not _EMAIL.fullmatch(value):
        raise InvalidValue(f"invalid e-mail address {value!r}")
    return value


def split_emails(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def emails(value: object) -> str:
    """A list of addresses, or one string of them separated by commas → the stored text."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = split_emails(value)
    if not isinstance(value, list | tuple):
        raise InvalidValue(f"invalid e-mail addresses {value!r}")
    checked = list(
        dict.fromkeys(email(item.strip() if isinstance(item, str) else item) for item in value)
    )
    if len(checked) > 10:
        raise InvalidValue("at most 10 e-mail addresses per mailbox")
    return ", ".join(checked)


def sms_number(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _SMS_NUMBER.fullmatch(value.replace(" ", "")):
        raise InvalidValue(f"invalid SMS number {value!r}: use international form, e.g. +15550100")
    return value.replace(" ", "")


def choice(enum: type[AttachPolicy] | type[AudioFormat], what: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        try:
            return enum(str(value))
        except ValueError:
            choices = ", ".join(member.value for member in enum)
            raise InvalidValue(f"invalid {what} {value!r}: use one of {choices}") from None

    return check


def optional_days(field: str) -> Callable[[object], int | None]:
    return optional_integer(field, 1, 36500)


def optional_integer(field: str, low: int, high: int) -> Callable[[object], int | None]:
    check_value = integer(field, low, high)

    def check(value: object) -> int | None:
        return None if value is None else check_value(value)

    return check


def boolean(field: str) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        if not isinstance(value, bool):
            raise InvalidValue(f"{field} must be true or false")
        return value

    return check


_FOLDER = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def folder(value: object) -> str:
    """new, old, saved, deleted, or a custom folder name (lower case letters, digits, - _)."""
    if not isinstance(value, str) or not _FOLDER.fullmatch(value):
        raise InvalidValue(f"invalid folder {value!r}")
    return value


def language(value: object) -> str:
    if not isinstance(value, str) or len(value) > 16 or not _LANGUAGE.fullmatch(value):
        raise InvalidValue(f"invalid language {value!r}: use a tag such as 'en' or 'pt-BR'")
    return value


def timezone(value: object) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidValue(f"invalid time zone {value!r}")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(
            f"unknown time zone {value!r}: use a name such as 'Europe/Paris'"
        ) from None
    return value


def integer(field: str, low: int, high: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        # bool is an int in Python, and never what was meant here.
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise InvalidValue(f"{field} must be a whole number from {low} to {high}")
        return value

    return check


def warning_mode(value: object) -> WarningMode:
    try:
        return WarningMode(str(value))
    except ValueError:
        choices = ", ".join(mode.value for mode in WarningMode)
        raise InvalidValue(f"invalid warning mode {value!r}: use one of {choices}") from None


def aware_datetime(value: object) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise InvalidValue("a time must carry its UTC offset")
    return value.astimezone(dt.UTC)


# The mailbox columns an administrator may set, each with its check ("pin" is hashed apart).
MAILBOX_FIELDS: dict[str, Callable[[Any], object]] = {
    "name": name,
    "emails": emails,
    "attach_policy": choice(AttachPolicy, "attach policy"),
    "audio_format": choice(AudioFormat, "audio format"),
    "sms_number": sms_number,
    "notify_missed": boolean("notify_missed"),
    "retention_days": optional_days("retention_days"),
    "deleted_retention_days": optional_days("deleted_retention_days"),
    "legal_hold": boolean("legal_hold"),
    "language": language,
    "timezone": timezone,
    "max_message_seconds": integer("max_message_seconds", 1, 3600),
    "min_message_seconds": integer("min_message_seconds", 0, 3600),
    "max_silence_seconds": integer("max_silence_seconds", 1, 3600),
    "max_messages": integer("max_messages", 1, 100_000),
    "max_storage_minutes": optional_integer("max_storage_minutes", 1, 1_000_000),
    "caller_id_login": boolean("caller_id_login"),
    "pin_must_change": boolean("pin_must_change"),
    "warning_mode": warning_mode,
    "temporary_greeting_expires_at": aware_datetime,
}
