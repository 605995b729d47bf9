"""Domain values shared by the flows, the store and the CLI (pure: no I/O)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class DiversionReason(StrEnum):
    """Why the call reached voicemail (RFC 5806 Diversion / RFC 7044 History-Info)."""

    BUSY = "busy"
    NO_ANSWER = "no-answer"
    UNAVAILABLE = "unavailable"
    UNCONDITIONAL = "unconditional"
    UNKNOWN = "unknown"  # diverted, reason not given
    DIRECT = "direct"  # called the mailbox directly, no diversion


class WarningMode(StrEnum):
    """What the caller hears between the greeting and the beep."""

    DEFAULT = "default"  # "please leave your message after the tone"
    CUSTOM = "custom"  # the mailbox's own recording
    NONE = "none"  # beep only


class GreetingKind(StrEnum):
    UNAVAILABLE = "unavailable"
    BUSY = "busy"
    TEMPORARY = "temporary"
    NAME = "name"
    WARNING = "warning"  # the custom pre-record warning


class Folder(StrEnum):
    NEW = "new"
    OLD = "old"
    SAVED = "saved"
    DELETED = "deleted"
    # Comedian Mail's folders, which dial-in users know by their keys (0 new … 4 friends).
    WORK = "work"
    FAMILY = "family"
    FRIENDS = "friends"


class AttachPolicy(StrEnum):
    """What a message's e-mail carries, and whether the message stays afterwards."""

    NOTIFY = "notify"  # the e-mail says a message is waiting; no audio
    ATTACH = "attach"  # audio attached, message kept
    ATTACH_DELETE = "attach-delete"  # audio attached, message removed once the server accepted


class AudioFormat(StrEnum):
    WAV = "wav"
    MP3 = "mp3"


class Codec(StrEnum):
    """How a message's audio is stored: G.711 as received, 8 kHz mono WAV."""

    PCMU = "PCMU"
    PCMA = "PCMA"


@dataclass(frozen=True, slots=True)
class MailboxProfile:
    """What a call flow needs to know about a mailbox."""

    id: int
    number: str
    name: str
    language: str = "en"
    timezone: str = "UTC"
    max_message_seconds: int = 180
    min_message_seconds: int = 2
    max_silence_seconds: int = 10
    max_messages: int = 100
    max_storage_minutes: int | None = None  # None: no limit
    caller_id_login: bool = True  # dial-in from its own number skips "which mailbox?"
    warning_mode: WarningMode = WarningMode.DEFAULT
    # Blob keys of the recorded greetings, by kind; absent when not recorded.
    greetings: dict[GreetingKind, str] = field(default_factory=dict)
    temporary_greeting_expires_at: dt.datetime | None = None  # UTC; None = no expiry

    def active_greeting(self, reason: DiversionReason, now: dt.datetime) -> str | None:
        """The blob key of the greeting to play, or None for the system greeting.

        A temporary greeting overrides both others while it is active; the busy greeting
        answers busy diversions, the unavailable greeting everything else.
        """
        temporary = self.greetings.get(GreetingKind.TEMPORARY)
        expires = self.temporary_greeting_expires_at
        if temporary and (expires is None or now < expires):
            return temporary
        if reason is DiversionReason.BUSY and GreetingKind.BUSY in self.greetings:
            return self.greetings[GreetingKind.BUSY]
        return self.greetings.get(GreetingKind.UNAVAILABLE)


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """Who called whom, as the SIP request told us."""

    caller_number: str
    caller_name: str
    called_number: str
    reason: DiversionReason
    call_id: str


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A recorded message ready to be committed to the store."""

    id: uuid.UUID
    mailbox_id: int
    caller: CallerInfo
    received_at: dt.datetime  # UTC, when the recording started
    duration_seconds: float
    audio_key: str
    codec: Codec
    urgent: bool = False


class LoginResult(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # wrong mailbox or PIN, or the mailbox is locked: the caller cannot tell
    SOURCE_LOCKED = "source-locked"  # this source failed too often: hang up


@dataclass(frozen=True, slots=True)
class Login:
    """The outcome of a dial-in login attempt."""

    result: LoginResult
    number: str | None = None  # the mailbox, when OK
    must_change_pin: bool = False


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """When failed dial-in logins lock a mailbox or a source, and for how long."""

    max_failures: int = 5
    first_lock: float = 300.0  # seconds; doubled by each further lock
    max_lock: float = 86400.0
    forget_after: float = 3600.0  # seconds without a failure that wipe the count


class RoomLimits(Protocol):
    """A mailbox's limits (a ``MailboxProfile``, or the store's row)."""

    @property
    def max_messages(self) -> int: ...
    @property
    def max_message_seconds(self) -> int: ...
    @property
    def min_message_seconds(self) -> int: ...
    @property
    def max_storage_minutes(self) -> int | None: ...


def recording_room(limits: RoomLimits, held: int, held_seconds: float) -> float:
    """Seconds a new message may last in a mailbox holding ``held`` messages of
    ``held_seconds`` in all (the deleted folder not counted): its maximum length, less when
    its storage quota is nearly used up; 0 when it is full (as many messages as allowed, or
    less room than its shortest message)."""
    if held >= limits.max_messages:
        return 0.0
    room = float(limits.max_message_seconds)
    if limits.max_storage_minutes is not None:
        room = min(room, limits.max_storage_minutes * 60 - held_seconds)
    return room if room >= max(1, limits.min_message_seconds) else 0.0


class Role(StrEnum):
    """What a web/API user may see and change."""

    PROVIDER = "provider"  # the hosting provider: every organization
    ADMIN = "admin"  # an organization's administrator: all of its mailboxes and users
    MEMBER = "member"  # a mailbox owner: the mailboxes they own


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person behind a web session or an API token: every web query is scoped by this."""

    user_id: int
    organization_id: int
    role: Role
    email: str
    name: str
    timezone: str = "UTC"
