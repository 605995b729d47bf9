"""What the call flows need from the rest of the system.

The flows never import the store, the notifier or the network: the composition root hands
them objects that satisfy these protocols (the store's real ones, or the in-memory fakes in
the tests).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from afterbeep.domain import CallerInfo, Codec, GreetingKind, Login, MailboxProfile, WarningMode

if TYPE_CHECKING:
    from afterbeep.store.records import MessageRecord  # a plain record, no store behaviour


class RecordingSink(Protocol):
    """A message being recorded: G.711 bytes are appended to durable storage as they arrive.

    What was written survives a crash of the process: the store recovers unfinished
    recordings on start (see ``MessageStore.recover``).
    """

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def bytes_written(self) -> int: ...

    def write(self, payload: bytes) -> None:
        """Append encoded audio (8000 bytes = one second of G.711)."""

    def flush(self) -> None:
        """Push buffered audio to the file (called about once a second)."""


class MessageStore(Protocol):
    async def find_mailbox(self, number: str) -> MailboxProfile | None: ...

    async def read_audio(self, key: str) -> bytes:
        """The WAV file stored under ``key`` (a greeting or a message). What a key names never
        changes: new audio gets a new key (callers may keep what they read)."""

    def start_recording(
        self, mailbox: MailboxProfile, caller: CallerInfo, codec: Codec, started_at: dt.datetime
    ) -> RecordingSink:
        """Open a durable recording for a new message (synchronous: it only opens files)."""

    async def commit_recording(self, sink: RecordingSink) -> uuid.UUID:
        """Finish the file and commit the message row (folder ``new``); returns its id."""

    async def discard_recording(self, sink: RecordingSink) -> None:
        """Remove a recording that will not become a message (too short, cancelled)."""

    async def record_missed_call(
        self, mailbox: MailboxProfile, caller: CallerInfo, at: dt.datetime
    ) -> None:
        """Note a call that reached the mailbox but left no message."""

    async def recording_room(self, mailbox: MailboxProfile) -> float:
        """Seconds a new message may last (at most its maximum length); 0 when the mailbox
        is full: as many messages as allowed, or its storage quota used up."""

    async def record_refused_call(
        self, mailbox: MailboxProfile, caller: CallerInfo, at: dt.datetime
    ) -> None:
        """A caller found the mailbox full: a missed call, and the owner told (once)."""


class MailboxAccess(Protocol):
    """What the dial-in menus need: login, the owner's messages, greetings and settings."""

    async def find_mailbox(self, number: str) -> MailboxProfile | None: ...

    async def read_audio(self, key: str) -> bytes: ...

    async def login(self, number: str, pin: str, source: str, now: dt.datetime) -> Login:
        """Check a PIN; failures count against the mailbox and the source (lockouts)."""

    async def folder_counts(self, number: str) -> dict[str, int]: ...

    async def messages_to_hear(self, number: str, folder: str) -> list[MessageRecord]:
        """Urgent first, then oldest first."""

    async def message_audio(self, message_id: uuid.UUID | str) -> bytes:
        """The message's WAV file."""

    async def mark_heard(self, message_id: uuid.UUID | str, now: dt.datetime) -> None: ...

    async def move_message(self, message_id: uuid.UUID | str, folder: str) -> None: ...

    async def undelete_message(self, message_id: uuid.UUID | str) -> str: ...

    async def forward_message(
        self,
        message_id: uuid.UUID | str,
        to_numbers: Sequence[str],
        comment: tuple[Codec, bytes] | None,
        now: dt.datetime,
    ) -> list[uuid.UUID]: ...

    async def set_own_pin(self, number: str, pin: str) -> None: ...

    async def set_greeting(self, number: str, kind: GreetingKind | str, wav_bytes: bytes) -> str:
        """Store a greeting (WAV); its blob key."""

    async def remove_greeting(self, number: str, kind: GreetingKind | str) -> None: ...

    async def set_warning_mode(self, number: str, mode: WarningMode) -> None: ...
