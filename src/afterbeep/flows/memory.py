"""An in-memory ``MessageStore`` for testing flows without a database or files."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from afterbeep.domain import CallerInfo, Codec, MailboxProfile, recording_room
from afterbeep.flows.ports import RecordingSink


@dataclass
class MemoryRecording:
    mailbox: MailboxProfile
    caller: CallerInfo
    codec: Codec
    started_at: dt.datetime
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    audio: bytearray = field(default_factory=bytearray)
    flushed: int = 0

    @property
    def bytes_written(self) -> int:
        return len(self.audio)

    def write(self, payload: bytes) -> None:
        self.audio += payload

    def flush(self) -> None:
        self.flushed = len(self.audio)


@dataclass
class MemoryStore:
    mailboxes: dict[str, MailboxProfile] = field(default_factory=dict)
    audio: dict[str, bytes] = field(default_factory=dict)
    messages: list[MemoryRecording] = field(default_factory=list)
    discarded: list[MemoryRecording] = field(default_factory=list)
    missed: list[tuple[MailboxProfile, CallerInfo, dt.datetime]] = field(default_factory=list)
    refused: list[tuple[MailboxProfile, CallerInfo, dt.datetime]] = field(default_factory=list)

    async def find_mailbox(self, number: str) -> MailboxProfile | None:
        return self.mailboxes.get(number)

    async def read_audio(self, key: str) -> bytes:
        try:
            return self.audio[key]
        except KeyError:
            raise FileNotFoundError(key) from None

    def start_recording(
        self, mailbox: MailboxProfile, caller: CallerInfo, codec: Codec, started_at: dt.datetime
    ) -> MemoryRecording:
        return MemoryRecording(mailbox, caller, codec, started_at)

    async def commit_recording(self, sink: RecordingSink) -> uuid.UUID:
        assert isinstance(sink, MemoryRecording)
        self.messages.append(sink)
        return sink.id

    async def discard_recording(self, sink: RecordingSink) -> None:
        assert isinstance(sink, MemoryRecording)
        self.discarded.append(sink)

    async def record_missed_call(
        self, mailbox: MailboxProfile, caller: CallerInfo, at: dt.datetime
    ) -> None:
        self.missed.append((mailbox, caller, at))

    async def recording_room(self, mailbox: MailboxProfile) -> float:
        held = [message for message in self.messages if message.mailbox.id == mailbox.id]
        seconds = sum(message.bytes_written for message in held) / 8000
        return recording_room(mailbox, len(held), seconds)

    async def record_refused_call(
        self, mailbox: MailboxProfile, caller: CallerInfo, at: dt.datetime
    ) -> None:
        self.missed.append((mailbox, caller, at))
        self.refused.append((mailbox, caller, at))
