"""What the store hands to the CLI and the web layer: frozen snapshots, never ORM objects."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from afterbeep.domain import (
    AttachPolicy,
    AudioFormat,
    Codec,
    DiversionReason,
    GreetingKind,
    WarningMode,
)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class MailboxRecord:
    id: int
    number: str
    name: str
    emails: tuple[str, ...]
    has_pin: bool  # the hash itself never leaves the store
    language: str
    timezone: str
    max_message_seconds: int
    min_message_seconds: int
    max_silence_seconds: int
    max_messages: int
    max_storage_minutes: int | None
    caller_id_login: bool
    pin_must_change: bool
    warning_mode: WarningMode
    temporary_greeting_expires_at: dt.datetime | None
    greetings: tuple[GreetingKind, ...]
    attach_policy: AttachPolicy
    audio_format: AudioFormat
    sms_number: str | None
    notify_missed: bool
    retention_days: int | None
    deleted_retention_days: int | None
    legal_hold: bool
    new_messages: int
    total_messages: int
    created_at: dt.datetime
    organization_id: int = 0
    owner_user_id: int | None = None  # the member who sees it on the web

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "name": self.name,
            "emails": list(self.emails),
            "has_pin": self.has_pin,
            "language": self.language,
            "timezone": self.timezone,
            "max_message_seconds": self.max_message_seconds,
            "min_message_seconds": self.min_message_seconds,
            "max_silence_seconds": self.max_silence_seconds,
            "max_messages": self.max_messages,
            "max_storage_minutes": self.max_storage_minutes,
            "caller_id_login": self.caller_id_login,
            "pin_must_change": self.pin_must_change,
            "warning_mode": self.warning_mode.value,
            "temporary_greeting_expires_at": _iso(self.temporary_greeting_expires_at),
            "greetings": [kind.value for kind in self.greetings],
            "attach_policy": self.attach_policy.value,
            "audio_format": self.audio_format.value,
            "sms_number": self.sms_number,
            "notify_missed": self.notify_missed,
            "retention_days": self.retention_days,
            "deleted_retention_days": self.deleted_retention_days,
            "legal_hold": self.legal_hold,
            "new_messages": self.new_messages,
            "total_messages": self.total_messages,
            "created_at": _iso(self.created_at),
            "owner_user_id": self.owner_user_id,
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
    transcript: str | None = None

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
            "transcript": self.transcript,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], mailbox_id: int) -> MessageRecord:
        """Back from ``to_json`` (the audio key is not in it: the audio may be gone)."""
        heard = data.get("heard_at")
        return cls(
            id=uuid.UUID(data["id"]),
            mailbox_id=mailbox_id,
            mailbox=data["mailbox"],
            folder=data["folder"],
            caller_number=data["caller_number"],
            caller_name=data["caller_name"],
            called_number=data["called_number"],
            reason=DiversionReason(data["reason"]),
            received_at=dt.datetime.fromisoformat(data["received_at"]),
            duration_seconds=float(data["duration_seconds"]),
            codec=Codec(data["codec"]),
            urgent=bool(data["urgent"]),
            heard_at=None if heard is None else dt.datetime.fromisoformat(heard),
            call_id=data["call_id"],
            audio_key="",
            transcript=data.get("transcript"),
        )


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


@dataclass(frozen=True, slots=True)
class NotifyTarget:
    """A mailbox as its notifications need it."""

    id: int
    organization_id: int
    number: str
    name: str
    language: str
    timezone: str
    emails: tuple[str, ...]
    attach_policy: AttachPolicy
    audio_format: AudioFormat
    sms_number: str | None
    notify_missed: bool


@dataclass(frozen=True, slots=True)
class RetentionDefaults:
    """An organization's retention, for the mailboxes that do not set their own."""

    retention_days: int | None = None  # None: kept for ever
    deleted_retention_days: int | None = None  # the same for the deleted folder
    warning_days: int | None = 3  # owners are told this long before (None: not told)


@dataclass(frozen=True, slots=True)
class EventSubject:
    """An outbox event with what it is about, loaded for the fan-out to the channels."""

    event: str
    mailbox: NotifyTarget
    message: MessageRecord | None = None
    missed_call: MissedCallRecord | None = None
    at: dt.datetime | None = None  # when it happened, for events about neither
    count: int | None = None  # messages.expiring: how many; mailbox.locked: failed PINs
    caller_number: str = ""  # mailbox.locked: the caller ID of the last failed attempt
    lock_seconds: float | None = None  # mailbox.locked: how long the lock lasts
