"""What a notification says, independent of the channel that carries it.

A ``Notice`` is a snapshot taken when an event's jobs are created: the delivery jobs carry it
in their payload, so a message deleted (or a mailbox renamed) later does not change what an
already-queued notification says. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from afterbeep.domain import DiversionReason


class EventKind(StrEnum):
    MESSAGE_CREATED = "message.created"
    MESSAGE_DELETED = "message.deleted"
    CALL_MISSED = "call.missed"
    MAILBOX_FULL = "mailbox.full"  # a caller found no room: the owner is told once
    MESSAGES_EXPIRING = "messages.expiring"  # retention deletes some soon: told once each
    MAILBOX_LOCKED = "mailbox.locked"  # too many wrong PINs: dial-in locked for a while


class DeliveryError(Exception):
    """A channel could not deliver. ``permanent``: retrying cannot help (a 5xx SMTP reply,
    a 4xx HTTP status other than 408/429); otherwise the job is retried with backoff."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class MailboxView:
    number: str
    name: str
    language: str = "en"  # BCP 47 tag; picks the texts and the date format
    timezone: str = "UTC"  # IANA zone; times are shown in it


@dataclass(frozen=True, slots=True)
class Notice:
    event: EventKind
    mailbox: MailboxView
    caller_number: str  # as signalled: '+15550100', '5550100', '1001', 'anonymous', ''
    caller_name: str
    called_number: str
    reason: DiversionReason
    at: dt.datetime  # UTC: when the message started or the call came in
    message_id: uuid.UUID | None = None  # None for a missed call
    duration_seconds: float | None = None  # the message's length
    urgent: bool = False
    transcript: str | None = None
    web_url: str | None = None  # the message in the web UI, when a base URL is configured
    # messages.expiring: how many (``at``: when they go); mailbox.locked: wrong PINs (``at``:
    # the lock, ``duration_seconds``: its length, ``caller_number``: the last attempt's).
    count: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event.value,
            "mailbox": {
                "number": self.mailbox.number,
                "name": self.mailbox.name,
                "language": self.mailbox.language,
                "timezone": self.mailbox.timezone,
            },
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "called_number": self.called_number,
            "reason": self.reason.value,
            "at": self.at.astimezone(dt.UTC).isoformat(),
            "message_id": None if self.message_id is None else str(self.message_id),
            "duration_seconds": self.duration_seconds,
            "urgent": self.urgent,
            "transcript": self.transcript,
            "web_url": self.web_url,
            "count": self.count,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notice:
        mailbox = data["mailbox"]
        message_id = data.get("message_id")
        return cls(
            event=EventKind(data["event"]),
            mailbox=MailboxView(
                number=mailbox["number"],
                name=mailbox["name"],
                language=mailbox.get("language", "en"),
                timezone=mailbox.get("timezone", "UTC"),
            ),
            caller_number=data["caller_number"],
            caller_name=data["caller_name"],
            called_number=data["called_number"],
            reason=DiversionReason(data["reason"]),
            at=dt.datetime.fromisoformat(data["at"]).astimezone(dt.UTC),
            message_id=None if message_id is None else uuid.UUID(message_id),
            duration_seconds=data.get("duration_seconds"),
            urgent=bool(data.get("urgent", False)),
            transcript=data.get("transcript"),
            web_url=data.get("web_url"),
            count=data.get("count"),
        )
