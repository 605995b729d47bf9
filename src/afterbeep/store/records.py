"""What the store hands to the CLI and the web layer: frozen snapshots, never ORM objects."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from afterbeep.domain import Codec, DiversionReason, GreetingKind, WarningMode


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class MailboxRecord:
    id: int
    number: str
    name: str
    email: str | None
    has_pin: bool  # the hash itself never leaves the store
    language: str
    timezone: str
    max_message_seconds: int
    min_message_seconds: int
    max_silence_seconds: int
    max_messages: int
    warning_mode: WarningMode
    temporary_greeting_expires_at: dt.datetime | None
    greetings: tuple[GreetingKind, ...]
    new_messages: int
    total_messages: int
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "name": self.name,
            "email": self.email,
            "has_pin": self.has_pin,
            "language": self.language,
            "timezone": self.timezone,
            "max_message_seconds": self.max_message_seconds,
            "min_message_seconds": self.min_message_seconds,
            "max_silence_seconds": self.max_silence_seconds,
            "max_messages": self.max_messages,
            "warning_mode": self.warning_mode.value,
            "temporary_greeting_expires_at": _iso(self.temporary_greeting_expires_at),
            "greetings": [kind.value for kind in self.greetings],
            "new_messages": self.new_messages,
            "total_messages": self.total_messages,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: uuid.UUID
    mailbox_id: int
    mailbox: str  # the mailbox number
    folder: str
    caller_number: str
    caller_name: str
    called_number: str
    reason: DiversionReason
    received_at: dt.datetime
    duration_seconds: float
    codec: Codec
    urgent: bool
    heard_at: dt.datetime | None
    call_id: str
    audio_key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "mailbox": self.mailbox,
            "folder": self.folder,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "called_number": self.called_number,
            "reason": self.reason.value,
            "received_at": _iso(self.received_at),
            "duration_seconds": round(self.duration_seconds, 3),
            "codec": self.codec.value,
            "urgent": self.urgent,
            "heard_at": _iso(self.heard_at),
            "call_id": self.call_id,
        }


@dataclass(frozen=True, slots=True)
class MissedCallRecord:
    id: int
    mailbox_id: int
    mailbox: str
    caller_number: str
    caller_name: str
    called_number: str
    reason: DiversionReason
    at: dt.datetime
    call_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mailbox": self.mailbox,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "called_number": self.called_number,
            "reason": self.reason.value,
            "at": _iso(self.at),
            "call_id": self.call_id,
        }
