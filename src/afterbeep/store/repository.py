"""The store: mailboxes, messages and their audio, behind one object.

It satisfies ``flows.ports.MessageStore`` for the call flows and offers the admin operations the
CLI and the web layer call. SQLAlchemy and file-system errors are translated into
``StoreError`` here, where they enter.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypedDict, TypeVar, Unpack

import asyncpg  # type: ignore[import-untyped]
import numpy as np
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, case, delete, event, func, insert, select, update
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from afterbeep.domain import (
    AttachPolicy,
    AudioFormat,
    CallerInfo,
    Codec,
    DiversionReason,
    Folder,
    GreetingKind,
    Login,
    MailboxProfile,
    WarningMode,
    recording_room,
)
from afterbeep.media.g711 import encode, transcode
from afterbeep.media.wav import WavError, encode_wav, read_g711_wav, read_wav
from afterbeep.store import validation
from afterbeep.store.accounts import Accounts, message_search
from afterbeep.store.batching import GroupCommit
from afterbeep.store.blobs import (
    PENDING_SUFFIX,
    FileBlobStore,
    PendingRecording,
    RecordingFile,
    finish_orphaned_recording,
    read_pending,
)
from afterbeep.store.cache import TtlCache
from afterbeep.store.db import make_engine
from afterbeep.store.errors import (
    AlreadyExists,
    InvalidValue,
    NotFound,
    StoreError,
    Unavailable,
    describe,
)
from afterbeep.store.logins import Logins
from afterbeep.store.models import Greeting, Mailbox, Message, MissedCall, Organization, utcnow
from afterbeep.store.outbox import JobQueue, NewJob, add_jobs
from afterbeep.store.records import (
    EventSubject,
    MailboxRecord,
    MessageRecord,
    MissedCallRecord,
    NotifyTarget,
    RetentionDefaults,
)
from afterbeep.store.webhooks import Webhooks, WebhookTarget, targets_for

if TYPE_CHECKING:
    from afterbeep.flows.ports import MailboxAccess, MessageStore, RecordingSink

log = logging.getLogger(__name__)

P = ParamSpec("P")

# Turns an event into its delivery jobs (the notifications' planner, given by the composition
# root): called inside the transaction that commits the event.
FanOut = Callable[[EventSubject, Sequence[WebhookTarget], str], list[NewJob]]
T = TypeVar("T")

DEFAULT_ORGANIZATION = "default"
COUNTS_CHANNEL = "afterbeep_counts"  # PostgreSQL NOTIFY channel: a mailbox's counts changed
_ANNOUNCED = "afterbeep.announced"  # session.info key: mailboxes changed in its transaction
BYTES_PER_SECOND = 8000  # G.711: 8000 one-byte samples a second


class MailboxOptions(TypedDict, total=False):
    language: str
    timezone: str
    max_message_seconds: int
    min_message_seconds: int
    max_silence_seconds: int
    max_messages: int
    max_storage_minutes: int | None  # None: no limit
    caller_id_login: bool
    pin_must_change: bool  # the owner must choose their own PIN at the next login
    warning_mode: WarningMode | str
    temporary_greeting_expires_at: dt.datetime | None
    emails: Sequence[str] | str  # a list, or addresses separated by commas
    attach_policy: AttachPolicy | str
    audio_format: AudioFormat | str
    sms_number: str | None
    notify_missed: bool
    retention_days: int | None  # None: the organization's
    deleted_retention_days: int | None
    legal_hold: bool


class MailboxChanges(MailboxOptions, total=False):
    name: str
    pin: str | None  # None removes the PIN


PROFILE_TTL = 2.0  # seconds a looked-up mailbox profile is reused
PROFILE_CACHE_SIZE = 10_000
# Missed calls are written in batches this often at most (a notification is not that urgent):
# a batch costs ~2 ms of the loop's CPU whatever its size (a dozen hand-offs to the SQLite
# thread) plus ~40 µs a row; at 1,500 calls a second, batches every 20 ms took 12 % of a core.
MISSED_CALL_LINGER = 0.1


class Store:
    def __init__(self, engine: AsyncEngine, blobs: FileBlobStore) -> None:
        self.engine = engine
        self.blobs = blobs
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._hasher = PasswordHasher()
        self._default_organization_id: int | None = None
        # number → profile: every call looks its mailbox up, and the ORM query was most of
        # the cost of a call setup. Changes made through this Store clear it; changes made by
        # another process (the CLI, another node) show within PROFILE_TTL.
        self._profiles: TtlCache[str, MailboxProfile | None] = TtlCache(
            PROFILE_TTL, PROFILE_CACHE_SIZE
        )
        # mailbox id → (messages, seconds) for ``recording_room``: dropped when the mailbox's
        # messages change (here, or on PostgreSQL anywhere), else kept PROFILE_TTL.
        self._usage: TtlCache[int, tuple[int, float]] = TtlCache(PROFILE_TTL, PROFILE_CACHE_SIZE)
        self._missed_calls = GroupCommit(self._write_missed_calls, linger=MISSED_CALL_LINGER)
        # Messages do not linger: one that ends alone is committed at once, and those that
        # end while a commit runs share the next (a thousand callers hang up within seconds).
        self._messages = GroupCommit(self._write_messages)
        self._serial: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        self.jobs = JobQueue(self._session, self._jobs_added)
        self.webhooks = Webhooks(self._session, self._default_organization)
        self.logins = Logins(self)
        self.accounts = Accounts(self)
        self._job_listeners: list[Callable[[], None]] = []
        self._count_listeners: list[Callable[[int], None]] = []
        # With a planner set, an event's deliveries are queued in the transaction that commits
        # it: no separate fan-out job, which cost four more transactions per message. Without
        # one (the CLI), the event itself is queued and a server's worker fans it out.
        self.fan_out: FanOut | None = None

    @classmethod
    async def open(cls, url: str, data_dir: Path) -> Store:
        """The store for a database URL, with audio under ``data_dir/audio``.

        The schema must be current: run ``migrate.upgrade_database`` first.
        """
        engine = make_engine(url)
        try:
            await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            await engine.dispose()
            raise Unavailable(f"cannot create the data folder {data_dir}: {exc}") from None
        return cls(engine, FileBlobStore(data_dir / "audio"))

    async def close(self) -> None:
        await self._messages.flush()
        await self._missed_calls.flush()
        await self.engine.dispose()

    def on_new_jobs(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after this store committed outbox jobs (wakes a worker at once)."""
        self._job_listeners.append(listener)

    def _jobs_added(self) -> None:
        for listener in self._job_listeners:
            listener()

    def on_counts_changed(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(mailbox_id)`` after a mailbox's messages changed through this store
        (a message left, heard, filed, deleted, purged; a transaction that ``_announce``d it
        committed): message-waiting lamps follow."""
        self._count_listeners.append(listener)

    def _counts_changed(self, mailbox_id: int) -> None:
        self._usage.discard(mailbox_id)
        for listener in self._count_listeners:
            listener(mailbox_id)

    async def _announce(self, session: AsyncSession, mailbox_id: int) -> None:
        """The session's transaction changes a mailbox's messages: when (and only if) it
        commits, this store's counts listeners hear of it, and on PostgreSQL every other
        process too (other nodes; the CLI's changes reach the servers), through
        ``listen_for_changes``."""
        changed: set[int] | None = session.info.get(_ANNOUNCED)
        if changed is None:
            changed = session.info[_ANNOUNCED] = set()

            def committed(sync_session: object) -> None:
                for announced in sorted(changed):
                    self._counts_changed(announced)
                changed.clear()

            event.listen(session.sync_session, "after_commit", committed)
        changed.add(mailbox_id)
        if self.engine.dialect.name == "postgresql":
            await session.execute(select(func.pg_notify(COUNTS_CHANNEL, str(mailbox_id))))

    async def listen_for_changes(self) -> None:
        """Call the counts listeners for changes made by other processes (PostgreSQL
        LISTEN); runs until cancelled, reconnecting after a lost connection. With SQLite
        there is one serving process: it returns at once."""
        if self.engine.dialect.name != "postgresql":
            return
        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

        def heard(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            if isinstance(payload, str) and payload.isdigit():
                self._counts_changed(int(payload))

        while True:
            try:
                conn = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cannot listen for mailbox changes: %s; retrying", exc)
                await asyncio.sleep(5)
                continue
            lost = asyncio.Event()
            try:
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(COUNTS_CHANNEL, heard)
                await lost.wait()
                log.warning("lost the connection that listens for mailbox changes")
            finally:
                await conn.close()

    # -- the call flows' port (flows.ports.MessageStore) --------------------------------------

    async def find_mailbox(self, number: str) -> MailboxProfile | None:
        async def load() -> MailboxProfile | None:
            async with self._session() as session:
                mailbox = await session.scalar(
                    select(Mailbox)
                    .where(Mailbox.number == number)
                    .options(selectinload(Mailbox.greetings))
                )
                return None if mailbox is None else _profile(mailbox)

        return await self._profiles.get(number, load)

    async def read_audio(self, key: str) -> bytes:
        return await _blob_io(self.blobs.read, key)

    def start_recording(
        self, mailbox: MailboxProfile, caller: CallerInfo, codec: Codec, started_at: dt.datetime
    ) -> RecordingFile:
        if started_at.utcoffset() is None:
            raise InvalidValue("started_at must carry its UTC offset")
        message_id = uuid.uuid4()
        key = f"messages/{mailbox.id}/{message_id}.wav"
        pending = PendingRecording(
            id=message_id,
            mailbox_id=mailbox.id,
            mailbox_number=mailbox.number,
            caller=caller,
            codec=Codec(codec),
            started_at=started_at.astimezone(dt.UTC),
            key=key,
        )
        try:
            return RecordingFile(self.blobs.path(key), pending)
        except OSError as exc:  # a full disk, a data folder we may not write
            raise Unavailable(f"cannot start a recording: {describe(exc)}") from exc

    async def commit_recording(self, sink: RecordingSink) -> uuid.UUID:
        """Finish the file and commit the message; on failure the sidecar stays for ``recover``."""
        recording = self._own(sink)
        if recording.committed:
            return recording.id
        await _blob_io(recording.close)
        pending = recording.pending
        try:
            await self._messages.submit(recording)
        except StoreError:
            # The foreign key fails when the mailbox was removed while the caller spoke.
            if await self._mailbox_is_gone(pending):
                await _blob_io(recording.abort)
                raise NotFound(
                    f"mailbox {pending.mailbox_number} was removed during the call"
                ) from None
            raise
        return pending.id

    async def _write_messages(self, recordings: list[RecordingFile]) -> None:
        """Finished recordings' messages and their notifications, in one transaction."""
        async with self._session() as session:
            for recording in recordings:
                pending = recording.pending
                session.add(_message(pending, recording.bytes_written))
                await self._queue_event(session, _message_created(pending.id))
                await self._announce(session, pending.mailbox_id)
            await session.commit()
        for recording in recordings:  # here, not in the callers: one may have been cancelled
            recording.mark_committed()
        self._jobs_added()

    async def discard_recording(self, sink: RecordingSink) -> None:
        recording = self._own(sink)
        if not recording.committed:
            await _blob_io(recording.abort)

    async def record_missed_call(
        self, mailbox: MailboxProfile, caller: CallerInfo, at: dt.datetime
    ) -> None:
        """Calls that end together share one transaction (``GroupCommit``): at hundreds of
        call setups a second, a transaction each was most of the store's CPU."""
        if at.utcoffset() is None:  # a bad value fails this caller, not a batch
            raise InvalidValue("a missed call's time must carry its UTC offset")
        await self._missed_calls.submit((mailbox.id, caller, at))

    async def recording_room(self, mailbox: MailboxProfile) -> float:
        async def load() -> tuple[int, float]:
            async with self._session() as session:
                return await _usage(session, mailbox.id)

        count, seconds = await self._usage.get(mailbox.id, load)
        return recording_room(mailbox, count, seconds)

    async def record_refused_call(
        self, mailbox: MailboxProfile, caller: CallerInfo, at: dt.datetime
    ) -> None:
        """A caller who found the mailbox full: a missed call, and the owner is told that
        the mailbox is full, once until there is room again."""
        async with self._session() as session:
            await self._add_missed_call(session, mailbox.id, caller, at)
            row = await session.get(Mailbox, mailbox.id)
            if row is not None and row.full_notified_at is None:
                row.full_notified_at = at.astimezone(dt.UTC)
                stamp = row.full_notified_at.isoformat()
                event = NewJob(
                    "event",
                    f"mailbox.full:{mailbox.id}:{stamp}",
                    {"event": "mailbox.full", "mailbox_id": mailbox.id, "at": stamp},
                )
                await self._queue_event(session, event)
            await session.commit()
        self._jobs_added()

    async def recover(self) -> list[uuid.UUID]:
        """Finish the recordings a crash left behind; the ids of the messages committed.

        Run at start-up, before calls are taken: every sidecar found is an orphan then.
        Running it again does nothing.
        """
        sidecars = await asyncio.to_thread(
            lambda: sorted(self.blobs.root.glob(f"messages/*/*{PENDING_SUFFIX}"))
        )
        recovered: list[uuid.UUID] = []
        for sidecar in sidecars:
            try:
                pending = read_pending(sidecar)
                self.blobs.path(pending.key)  # a key from the file is checked like any other
            except InvalidValue as exc:
                log.warning("leaving %s alone: %s", sidecar, exc)
                continue
            message_id = await self._recover_one(sidecar, pending)
            if message_id is not None:
                recovered.append(message_id)
        return recovered

    # -- mailboxes ----------------------------------------------------------------------------

    async def add_mailbox(
        self,
        number: str,
        name: str,
        pin: str | None = None,
        organization: str = DEFAULT_ORGANIZATION,
        **options: Unpack[MailboxOptions],
    ) -> MailboxRecord:
        self._profiles.clear()
        number = validation.mailbox_number(number)
        values = _checked({"name": name, **options})
        pin_hash = None if pin is None else await self._hash_pin(pin)
        mailbox = Mailbox(number=number, pin_hash=pin_hash, **values)
        _check_lengths(mailbox)
        organization_id = (
            None
            if organization == DEFAULT_ORGANIZATION
            else await self.accounts.organization_id(organization)
        )
        async with self._session() as session:
            mailbox.organization_id = organization_id or await self._default_organization(session)
            if await session.scalar(select(Mailbox.id).where(Mailbox.number == number)):
                raise AlreadyExists(f"mailbox {number} already exists")
            session.add(mailbox)
            try:
                await session.commit()
            except IntegrityError:  # added by someone else since the check
                raise AlreadyExists(f"mailbox {number} already exists") from None
        return await self.get_mailbox(number)

    async def organization_retention(self) -> RetentionDefaults:
        """The retention of mailboxes that do not set their own, and when owners are warned."""
        async with self._session() as session:
            org = await session.get(Organization, await self._default_organization(session))
            assert org is not None
            return RetentionDefaults(
                org.retention_days, org.deleted_retention_days, org.retention_warning_days
            )

    async def set_organization_retention(self, defaults: RetentionDefaults) -> None:
        days = validation.optional_days("retention_days")(defaults.retention_days)
        deleted = validation.optional_days("deleted_retention_days")(
            defaults.deleted_retention_days
        )
        warning = validation.optional_integer("warning_days", 1, 365)(defaults.warning_days)
        async with self._session() as session:
            org_id = await self._default_organization(session)
            org = await session.get(Organization, org_id)
            assert org is not None
            if (days, deleted) != (org.retention_days, org.deleted_retention_days):
                # New expiry dates: the owners are warned again before those.
                await session.execute(
                    update(Message)
                    .where(
                        Message.mailbox_id.in_(
                            select(Mailbox.id).where(Mailbox.organization_id == org_id)
                        )
                    )
                    .values(expiry_warned_at=None)
                )
            org.retention_days, org.deleted_retention_days = days, deleted
            org.retention_warning_days = warning
            await session.commit()

    async def list_mailboxes(self) -> list[MailboxRecord]:
        async with self._session() as session:
            return await _mailbox_records(session)

    async def get_mailbox(self, number: str) -> MailboxRecord:
        async with self._session() as session:
            records = await _mailbox_records(session, Mailbox.number == number)
        if not records:
            raise NotFound(f"no mailbox {number}")
        return records[0]

    async def update_mailbox(self, number: str, **changes: Unpack[MailboxChanges]) -> MailboxRecord:
        self._profiles.clear()
        fields = dict(changes)
        has_pin = "pin" in fields
        pin = fields.pop("pin", None)
        values = _checked(fields)
        pin_hash = None if pin is None else await self._hash_pin(str(pin))
        async with self._session() as session:
            mailbox = await _get_mailbox(session, number)
            if any(
                field in values and values[field] != getattr(mailbox, field)
                for field in ("retention_days", "deleted_retention_days")
            ):
                # New expiry dates: the owner is warned again before those.
                await session.execute(
                    update(Message)
                    .where(Message.mailbox_id == mailbox.id)
                    .values(expiry_warned_at=None)
                )
            for field, value in values.items():
                setattr(mailbox, field, value)
            if has_pin:
                mailbox.pin_hash = pin_hash
            _check_lengths(mailbox)
            await session.commit()
        return await self.get_mailbox(number)

    async def remove_mailbox(self, number: str) -> None:
        """Delete the mailbox, its messages, greetings and missed calls, then their audio."""
        self._profiles.clear()
        async with self._session() as session:
            mailbox = await _get_mailbox(session, number)
            keys = list(
                await session.scalars(
                    select(Message.audio_key).where(Message.mailbox_id == mailbox.id)
                )
            )
            keys += await session.scalars(
                select(Greeting.audio_key).where(Greeting.mailbox_id == mailbox.id)
            )
            await session.execute(delete(Mailbox).where(Mailbox.id == mailbox.id))
            await session.commit()
        # After the commit: a failed delete leaves orphan files, never rows without audio.
        await self._delete_blobs(keys)

    async def verify_pin(self, number: str, pin: str) -> bool:
        async with self._session() as session:
            mailbox = await _get_mailbox(session, number)
            pin_hash = mailbox.pin_hash
        if pin_hash is None:
            return False
        try:
            return await asyncio.to_thread(self._hasher.verify, pin_hash, pin)
        except (VerificationError, InvalidHashError):
            return False

    # -- greetings ----------------------------------------------------------------------------

    async def set_greeting(self, number: str, kind: GreetingKind | str, wav_bytes: bytes) -> str:
        """Store a greeting (a WAV file, kept as given); returns its blob key."""
        self._profiles.clear()
        kind = _greeting_kind(kind)
        try:
            read_wav(wav_bytes)  # stored as given, but it must be a WAV the player can read
        except WavError as exc:
            raise InvalidValue(f"a greeting must be a WAV file: {exc}") from None
        async with self._session() as session:
            mailbox = await _get_mailbox(session, number)
            key = f"greetings/{mailbox.id}/{kind.value}-{uuid.uuid4()}.wav"
            await _blob_io(self.blobs.write, key, wav_bytes)
            try:
                greeting = await session.scalar(
                    select(Greeting).where(Greeting.mailbox_id == mailbox.id, Greeting.kind == kind)
                )
                old_key = None if greeting is None else greeting.audio_key
                if greeting is None:
                    session.add(Greeting(mailbox_id=mailbox.id, kind=kind, audio_key=key))
                else:
                    greeting.audio_key = key
                    greeting.created_at = utcnow()
                await session.commit()
            except BaseException:
                await self._delete_blobs([key])
                raise
        if old_key is not None:
            await self._delete_blobs([old_key])
        return key

    async def greeting_key(self, number: str, kind: GreetingKind | str) -> str:
        """The blob key of mailbox ``number``'s greeting of ``kind``."""
        kind = _greeting_kind(kind)
        async with self._session() as session:
            mailbox = await _get_mailbox(session, number)
            key = await session.scalar(
                select(Greeting.audio_key).where(
                    Greeting.mailbox_id == mailbox.id, Greeting.kind == kind
                )
            )
        if key is None:
            raise NotFound(f"mailbox {number} has no {kind.value} greeting")
        return key

    async def remove_greeting(self, number: str, kind: GreetingKind | str) -> None:
        self._profiles.clear()
        kind = _greeting_kind(kind)
        async with self._session() as session:
            mailbox = await _get_mailbox(session, number)
            greeting = await session.scalar(
                select(Greeting).where(Greeting.mailbox_id == mailbox.id, Greeting.kind == kind)
            )
            if greeting is None:
                raise NotFound(f"mailbox {number} has no {kind.value} greeting")
            key = greeting.audio_key
            await session.delete(greeting)
            await session.commit()
        await self._delete_blobs([key])

    # -- messages and missed calls ------------------------------------------------------------

    async def list_messages(
        self,
        mailbox_number: str | None = None,
        folder: str | None = None,
        search: str | None = None,
    ) -> list[MessageRecord]:
        """Newest first; ``search`` finds words in the transcript, caller name or number."""
        query = select(Message, Mailbox.number).join(Mailbox, Message.mailbox_id == Mailbox.id)
        if folder is not None:
            query = query.where(Message.folder == folder)
        if search:
            query = query.where(*message_search(search, self.engine.dialect.name))
        async with self._session() as session:
            if mailbox_number is not None:
                mailbox = await _get_mailbox(session, mailbox_number)
                query = query.where(Message.mailbox_id == mailbox.id)
            rows = await session.execute(
                query.order_by(Message.received_at.desc(), Message.id.desc())
            )
            return [_message_record(message, number) for message, number in rows]

    async def get_message(self, message_id: uuid.UUID | str) -> MessageRecord:
        message_id = _message_id(message_id)
        async with self._session() as session:
            row = (
                await session.execute(
                    select(Message, Mailbox.number)
                    .join(Mailbox, Message.mailbox_id == Mailbox.id)
                    .where(Message.id == message_id)
                )
            ).first()
        if row is None:
            raise NotFound(f"no message {message_id}")
        return _message_record(*row)

    async def message_audio(self, message_id: uuid.UUID | str) -> bytes:
        """The message as a WAV file (G.711, as received)."""
        message = await self.get_message(message_id)
        return await self.read_audio(message.audio_key)

    async def list_missed_calls(self, mailbox_number: str | None = None) -> list[MissedCallRecord]:
        """Newest first."""
        query = select(MissedCall, Mailbox.number).join(
            Mailbox, MissedCall.mailbox_id == Mailbox.id
        )
        async with self._session() as session:
            if mailbox_number is not None:
                mailbox = await _get_mailbox(session, mailbox_number)
                query = query.where(MissedCall.mailbox_id == mailbox.id)
            rows = await session.execute(query.order_by(MissedCall.at.desc(), MissedCall.id.desc()))
            return [_missed_call_record(call, number) for call, number in rows]

    async def delete_message(self, message_id: uuid.UUID | str) -> None:
        """Remove the message and its audio; webhooks hear of it (``message.deleted``)."""
        message = await self.get_message(message_id)
        async with self._session() as session:
            deleted = await session.execute(delete(Message).where(Message.id == message.id))
            if not getattr(deleted, "rowcount", 0):
                raise NotFound(f"no message {message.id}")
            await self._queue_event(session, _message_deleted(message))
            mailbox = await session.get(Mailbox, message.mailbox_id)
            if (
                mailbox is not None
                and mailbox.full_notified_at is not None
                and await _room(session, mailbox)
            ):
                mailbox.full_notified_at = None  # room again: the next time it fills is news
            await self._announce(session, message.mailbox_id)
            await session.commit()
        self._jobs_added()
        await self._delete_blobs([message.audio_key])

    async def set_transcript(self, message_id: uuid.UUID | str, text: str) -> bool:
        """Store a message's transcript; False when the message is gone."""
        message_id = _message_id(message_id)
        async with self._session() as session:
            message = await session.get(Message, message_id)
            if message is None:
                return False
            message.transcript = text
            await session.commit()
        return True

    async def message_transcript(self, message_id: uuid.UUID | str) -> str | None:
        async with self._session() as session:
            return await session.scalar(
                select(Message.transcript).where(Message.id == _message_id(message_id))
            )

    async def import_message(self, mailbox_number: str, record: MessageRecord, wav: bytes) -> bool:
        """Add a message exported elsewhere (same id, times and folder); False if it exists.

        No notification is sent: this is a restore, not a new call.
        """
        try:
            codec = read_g711_wav(wav)
        except WavError as exc:
            raise InvalidValue(f"message {record.id}: not a G.711 WAV file: {exc}") from None
        if codec is None or codec[0] is not record.codec:
            raise InvalidValue(f"message {record.id}: its audio is not {record.codec.value}")
        async with self._session() as session:
            mailbox = await _get_mailbox(session, mailbox_number)
            if await session.get(Message, record.id) is not None:
                return False
            key = f"messages/{mailbox.id}/{record.id}.wav"
            await _blob_io(self.blobs.write, key, wav)
            try:
                session.add(
                    Message(
                        id=record.id,
                        mailbox_id=mailbox.id,
                        folder=validation.folder(record.folder),
                        caller_number=record.caller_number,
                        caller_name=record.caller_name,
                        called_number=record.called_number,
                        reason=record.reason,
                        received_at=record.received_at,
                        duration_seconds=len(codec[1]) / BYTES_PER_SECOND,
                        audio_key=key,
                        codec=record.codec,
                        urgent=record.urgent,
                        heard_at=record.heard_at,
                        call_id=record.call_id,
                        transcript=record.transcript,
                    )
                )
                await session.commit()
            except BaseException:
                await self._delete_blobs([key])
                raise
        return True

    # -- dial-in ------------------------------------------------------------------------------

    async def folder_counts(self, number: str) -> dict[str, int]:
        """Messages per folder (only folders that have some)."""
        async with self._session() as session:
            mailbox = await _get_mailbox(session, number)
            rows = await session.execute(
                select(Message.folder, func.count())
                .where(Message.mailbox_id == mailbox.id)
                .group_by(Message.folder)
            )
            return {folder: int(count) for folder, count in rows}

    async def messages_to_hear(self, number: str, folder: str) -> list[MessageRecord]:
        """A folder in the order a caller hears it: urgent first, then oldest first."""
        async with self._session() as session:
            mailbox = await _get_mailbox(session, number)
            rows = await session.scalars(
                select(Message)
                .where(Message.mailbox_id == mailbox.id, Message.folder == folder)
                .order_by(Message.urgent.desc(), Message.received_at, Message.id)
            )
            return [_message_record(message, number) for message in rows]

    async def mark_heard(self, message_id: uuid.UUID | str, now: dt.datetime) -> None:
        """The owner heard it: a new message becomes old."""
        async with self._session() as session:
            message = await session.get(Message, _message_id(message_id))
            if message is None:
                raise NotFound(f"no message {message_id}")
            if message.heard_at is None:
                message.heard_at = now.astimezone(dt.UTC)
            if message.folder == Folder.NEW.value:
                message.folder = Folder.OLD.value
            await self._announce(session, message.mailbox_id)
            await session.commit()

    async def move_message(self, message_id: uuid.UUID | str, folder: str) -> None:
        """File a message in ``folder``; into ``deleted`` it remembers where it was, so that
        ``undelete`` can put it back (retention removes it for good)."""
        folder = validation.folder(folder)
        async with self._session() as session:
            message = await session.get(Message, _message_id(message_id))
            if message is None:
                raise NotFound(f"no message {message_id}")
            if folder == Folder.DELETED.value and message.folder != folder:
                message.deleted_from = message.folder
            message.folder = folder
            await self._announce(session, message.mailbox_id)
            await session.commit()

    async def undelete_message(self, message_id: uuid.UUID | str) -> str:
        """Back from ``deleted`` to the folder it was in; the folder's name."""
        async with self._session() as session:
            message = await session.get(Message, _message_id(message_id))
            if message is None:
                raise NotFound(f"no message {message_id}")
            if message.folder == Folder.DELETED.value:
                message.folder = message.deleted_from or Folder.OLD.value
                message.deleted_from = None
            await self._announce(session, message.mailbox_id)
            await session.commit()
        return message.folder

    async def forward_message(
        self,
        message_id: uuid.UUID | str,
        to_numbers: Sequence[str],
        comment: tuple[Codec, bytes] | None,
        now: dt.datetime,
    ) -> list[uuid.UUID]:
        """Copy a message into other mailboxes as new messages, a spoken comment (G.711 in
        its codec) before it; each recipient is notified as for any new message."""
        original = await self.get_message(message_id)
        stored = read_g711_wav(await self.message_audio(original.id))
        if stored is None:
            raise InvalidValue(f"message {original.id}: its audio is not G.711")
        codec, audio = stored
        if comment is not None:
            gap = encode(codec, np.zeros(BYTES_PER_SECOND // 2, dtype=np.int16))
            audio = transcode(comment[0], codec, comment[1]) + gap + audio
        wav = encode_wav(codec, audio)
        created: list[uuid.UUID] = []
        for number in dict.fromkeys(to_numbers):
            async with self._session() as session:
                mailbox = await _get_mailbox(session, number)
                source = await session.get(Mailbox, original.mailbox_id)
                if source is None or source.organization_id != mailbox.organization_id:
                    raise NotFound(f"no mailbox {number}")  # another tenant's: not there
                new_id = uuid.uuid4()
                key = f"messages/{mailbox.id}/{new_id}.wav"
                await _blob_io(self.blobs.write, key, wav)
                try:
                    session.add(
                        Message(
                            id=new_id,
                            mailbox_id=mailbox.id,
                            folder=Folder.NEW.value,
                            caller_number=original.caller_number,
                            caller_name=original.caller_name,
                            called_number=original.mailbox,  # forwarded from this mailbox
                            reason=DiversionReason.UNKNOWN,
                            received_at=now.astimezone(dt.UTC),
                            duration_seconds=len(audio) / BYTES_PER_SECOND,
                            audio_key=key,
                            codec=codec,
                            urgent=original.urgent,
                            call_id=original.call_id,
                        )
                    )
                    await self._queue_event(session, _message_created(new_id))
                    await self._announce(session, mailbox.id)
                    await session.commit()
                except BaseException:
                    await self._delete_blobs([key])
                    raise
            created.append(new_id)
        self._jobs_added()
        return created

    async def login(self, number: str, pin: str, source: str, now: dt.datetime) -> Login:
        return await self.logins.attempt(number, pin, source, now)

    async def set_warning_mode(self, number: str, mode: WarningMode) -> None:
        await self.update_mailbox(number, warning_mode=mode)

    async def set_own_pin(self, number: str, pin: str) -> None:
        """The owner chose a PIN (dial-in or web): no longer one they must change."""
        pin_hash = await self._hash_pin(validation.pin(pin))
        async with self._session() as session:
            mailbox = await _get_mailbox(session, number)
            mailbox.pin_hash = pin_hash
            mailbox.pin_must_change = False
            await session.commit()

    # -- notifications ------------------------------------------------------------------------

    async def event_subject(self, payload: dict[str, Any]) -> EventSubject | None:
        """What an outbox event is about; None when its mailbox or message is gone."""
        async with self._session() as session:
            return await _load_subject(session, payload)

    # -- internals ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        """A session whose database errors reach the caller as ``StoreError``.

        On SQLite one session runs at a time: SQLite has one writer, and connections that
        contend for it wait in its busy handler, which sleeps up to 100 ms a turn (a probe
        here: 27 notifications a second with 8 workers contending, far more in turn).
        Never open a session while holding one.
        """
        try:
            async with self._serial, self._sessions() as session:
                yield session
        except StoreError:
            raise
        except IntegrityError as exc:
            raise InvalidValue(f"the database refused the change: {describe(exc)}") from exc
        except (SQLAlchemyError, OSError, OverflowError) as exc:
            if _bad_value(exc):
                raise InvalidValue(f"a value the database cannot hold: {describe(exc)}") from exc
            raise Unavailable(f"database error: {describe(exc)}") from exc

    def _own(self, sink: RecordingSink) -> RecordingFile:
        if not isinstance(sink, RecordingFile):
            raise InvalidValue(f"not a recording of this store: {sink!r}")
        return sink

    async def _hash_pin(self, pin: str) -> str:
        # Argon2 is slow on purpose (tens of milliseconds): keep it off the event loop.
        return await asyncio.to_thread(self._hasher.hash, validation.pin(pin))

    async def _default_organization(self, session: AsyncSession) -> int:
        if self._default_organization_id is None:
            org_id = await session.scalar(
                select(Organization.id).where(Organization.slug == DEFAULT_ORGANIZATION)
            )
            if org_id is None:
                raise Unavailable("the database has no default organization: run 'db upgrade'")
            self._default_organization_id = org_id
        return self._default_organization_id

    async def _delete_blobs(self, keys: Sequence[str]) -> None:
        def delete_all() -> None:
            for key in keys:
                try:
                    self.blobs.delete(key)
                except (OSError, StoreError) as exc:
                    log.warning("could not delete audio %s: %s", key, exc)

        await asyncio.to_thread(delete_all)

    async def _queue_event(self, session: AsyncSession, event: NewJob) -> None:
        """Queue the event's deliveries (or the event itself) in the caller's transaction."""
        fan_out = self.fan_out
        subject = None if fan_out is None else await _load_subject(session, event.payload)
        if fan_out is None or subject is None:  # no planner here (the CLI), or a mailbox going
            await add_jobs(session, [event])
            return
        mailbox = subject.mailbox
        webhooks = await targets_for(session, mailbox.id, mailbox.organization_id)
        await add_jobs(session, fan_out(subject, webhooks, event.key))

    async def _add_missed_call(
        self, session: AsyncSession, mailbox_id: int, caller: CallerInfo, at: dt.datetime
    ) -> None:
        """The missed call and its notifications, in the caller's transaction."""
        await self._add_missed_calls(session, [_missed_call(mailbox_id, caller, at)])

    async def _write_missed_calls(self, calls: list[tuple[int, CallerInfo, dt.datetime]]) -> None:
        async with self._session() as session:
            queued = await self._add_missed_calls(session, [_missed_call(*c) for c in calls])
            await session.commit()
        if queued:
            self._jobs_added()

    async def _add_missed_calls(self, session: AsyncSession, rows: list[dict[str, Any]]) -> bool:
        """Missed calls and their notifications (as ``_queue_event`` would queue them, with
        one look-up per mailbox rather than per call); True when jobs were queued.

        One INSERT … RETURNING for all the rows, each record built from the row it returned:
        asking for the rows in parameter order instead (to pair ids with ``rows``) makes
        SQLAlchemy run one INSERT per row on SQLite, which cannot promise that order."""
        returned = await session.execute(
            insert(MissedCall).returning(*MissedCall.__table__.columns), rows
        )
        calls = [MissedCallRecord(mailbox="", **row) for row in returned.mappings()]
        fan_out = self.fan_out
        jobs: list[NewJob] = []
        if fan_out is None:
            for call in calls:
                payload = {"event": "call.missed", "missed_call_id": call.id}
                jobs.append(NewJob("event", f"call.missed:{call.id}", payload))
        else:
            mailbox_ids = {call.mailbox_id for call in calls}
            found = await session.scalars(select(Mailbox).where(Mailbox.id.in_(mailbox_ids)))
            mailboxes = {mailbox.id: mailbox for mailbox in found}
            webhooks = {
                m.id: await targets_for(session, m.id, m.organization_id)
                for m in mailboxes.values()
            }
            for call in calls:
                mailbox = mailboxes.get(call.mailbox_id)
                if mailbox is None:  # removed meanwhile: the insert's foreign key fails anyway
                    continue
                subject = EventSubject(
                    "call.missed",
                    _notify_target(mailbox),
                    missed_call=dataclasses.replace(call, mailbox=mailbox.number),
                )
                jobs += fan_out(subject, webhooks[mailbox.id], f"call.missed:{call.id}")
        await add_jobs(session, jobs)
        return bool(jobs)

    async def _mailbox_is_gone(self, pending: PendingRecording) -> bool:
        async with self._session() as session:
            number = await session.scalar(
                select(Mailbox.number).where(Mailbox.id == pending.mailbox_id)
            )
        return number != pending.mailbox_number

    async def _recover_one(self, sidecar: Path, pending: PendingRecording) -> uuid.UUID | None:
        wav_path = self.blobs.path(pending.key)

        def drop_files() -> None:
            wav_path.unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)

        async with self._session() as session:
            if await session.get(Message, pending.id) is not None:
                # Committed just before the crash: only the sidecar was left to remove.
                await asyncio.to_thread(sidecar.unlink, missing_ok=True)
                return None
            mailbox = await session.get(Mailbox, pending.mailbox_id)
            if mailbox is None or mailbox.number != pending.mailbox_number:
                log.warning(
                    "dropping recording %s: mailbox %s is gone", pending.id, pending.mailbox_number
                )
                await asyncio.to_thread(drop_files)
                return None
            data_bytes = await _blob_io(finish_orphaned_recording, wav_path, pending.codec)
            if data_bytes > 0 and data_bytes / BYTES_PER_SECOND >= mailbox.min_message_seconds:
                message = _message(pending, data_bytes)
                session.add(message)
                await self._queue_event(session, _message_created(pending.id))
                await self._announce(session, pending.mailbox_id)
                await session.commit()
                await asyncio.to_thread(sidecar.unlink, missing_ok=True)
                log.info("recovered message %s for mailbox %s", pending.id, mailbox.number)
                return pending.id
            # Too short to keep: what the caller did is still worth a missed-call notice. A rerun
            # after a crash right here must not note it twice.
            missed = await session.scalar(
                select(MissedCall.id).where(
                    MissedCall.mailbox_id == mailbox.id,
                    MissedCall.call_id == pending.caller.call_id,
                    MissedCall.at == pending.started_at,
                )
            )
            if missed is None:
                await self._add_missed_call(session, mailbox.id, pending.caller, pending.started_at)
                await session.commit()
            await asyncio.to_thread(drop_files)
            return None


async def _blob_io(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """File work off the event loop (fsync, whole WAV files), its OS errors translated."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except StoreError:
        raise
    except OSError as exc:
        raise Unavailable(f"audio storage error: {describe(exc)}") from exc


def _bad_value(exc: BaseException) -> bool:
    """A value no column can hold: an id beyond 64 bits (SQLite) or 32 bits (PostgreSQL), a
    NUL character in text (PostgreSQL). The request was wrong, not the database."""
    if isinstance(exc, OverflowError | DataError):
        return True
    driver_error = getattr(getattr(exc, "orig", None), "__cause__", None)
    return isinstance(driver_error, asyncpg.DataError)


def _checked(fields: dict[str, Any]) -> dict[str, object]:
    unknown = sorted(set(fields) - set(validation.MAILBOX_FIELDS))
    if unknown:
        raise InvalidValue(f"unknown mailbox setting(s): {', '.join(unknown)}")
    return {field: validation.MAILBOX_FIELDS[field](value) for field, value in fields.items()}


def _check_lengths(mailbox: Mailbox) -> None:
    low = mailbox.min_message_seconds if mailbox.min_message_seconds is not None else 2
    high = mailbox.max_message_seconds if mailbox.max_message_seconds is not None else 180
    if low > high:
        raise InvalidValue(f"the minimum message length ({low} s) exceeds the maximum ({high} s)")


def _greeting_kind(kind: GreetingKind | str) -> GreetingKind:
    try:
        return GreetingKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in GreetingKind)
        raise InvalidValue(f"unknown greeting kind {kind!r}: use one of {choices}") from None


def _message_id(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidValue(f"invalid message id {value!r}") from None


async def _get_mailbox(session: AsyncSession, number: str) -> Mailbox:
    mailbox = await session.scalar(select(Mailbox).where(Mailbox.number == number))
    if mailbox is None:
        raise NotFound(f"no mailbox {number}")
    return mailbox


async def _mailbox_records(
    session: AsyncSession, *where: ColumnElement[bool]
) -> list[MailboxRecord]:
    counts = (
        select(
            Message.mailbox_id,
            func.count().label("total"),
            func.sum(case((Message.folder == Folder.NEW.value, 1), else_=0)).label("new"),
        )
        # Only the mailboxes asked for: not every message of every tenant.
        .where(Message.mailbox_id.in_(select(Mailbox.id).where(*where)))
        .group_by(Message.mailbox_id)
        .subquery()
    )
    query = (
        select(
            Mailbox,
            func.coalesce(counts.c.new, 0),
            func.coalesce(counts.c.total, 0),
        )
        .outerjoin(counts, counts.c.mailbox_id == Mailbox.id)
        .where(*where)
        .options(selectinload(Mailbox.greetings))
        .order_by(Mailbox.number)
    )
    rows = await session.execute(query)
    return [_mailbox_record(mailbox, new, total) for mailbox, new, total in rows]


def _mailbox_record(mailbox: Mailbox, new: int, total: int) -> MailboxRecord:
    return MailboxRecord(
        id=mailbox.id,
        number=mailbox.number,
        name=mailbox.name,
        emails=validation.split_emails(mailbox.emails),
        has_pin=mailbox.pin_hash is not None,
        language=mailbox.language,
        timezone=mailbox.timezone,
        max_message_seconds=mailbox.max_message_seconds,
        min_message_seconds=mailbox.min_message_seconds,
        max_silence_seconds=mailbox.max_silence_seconds,
        max_messages=mailbox.max_messages,
        max_storage_minutes=mailbox.max_storage_minutes,
        caller_id_login=mailbox.caller_id_login,
        pin_must_change=mailbox.pin_must_change,
        warning_mode=mailbox.warning_mode,
        temporary_greeting_expires_at=mailbox.temporary_greeting_expires_at,
        greetings=tuple(sorted(g.kind for g in mailbox.greetings)),
        attach_policy=mailbox.attach_policy,
        audio_format=mailbox.audio_format,
        sms_number=mailbox.sms_number,
        notify_missed=mailbox.notify_missed,
        retention_days=mailbox.retention_days,
        deleted_retention_days=mailbox.deleted_retention_days,
        legal_hold=mailbox.legal_hold,
        new_messages=int(new),
        total_messages=int(total),
        created_at=mailbox.created_at,
        organization_id=mailbox.organization_id,
        owner_user_id=mailbox.owner_user_id,
    )


def _profile(mailbox: Mailbox) -> MailboxProfile:
    return MailboxProfile(
        id=mailbox.id,
        number=mailbox.number,
        name=mailbox.name,
        language=mailbox.language,
        timezone=mailbox.timezone,
        max_message_seconds=mailbox.max_message_seconds,
        min_message_seconds=mailbox.min_message_seconds,
        max_silence_seconds=mailbox.max_silence_seconds,
        max_messages=mailbox.max_messages,
        max_storage_minutes=mailbox.max_storage_minutes,
        caller_id_login=mailbox.caller_id_login,
        warning_mode=mailbox.warning_mode,
        greetings={g.kind: g.audio_key for g in mailbox.greetings},
        temporary_greeting_expires_at=mailbox.temporary_greeting_expires_at,
    )


def _message(pending: PendingRecording, data_bytes: int) -> Message:
    caller = pending.caller
    return Message(
        id=pending.id,
        mailbox_id=pending.mailbox_id,
        folder=Folder.NEW.value,
        caller_number=caller.caller_number,
        caller_name=caller.caller_name,
        called_number=caller.called_number,
        reason=caller.reason,
        received_at=pending.started_at,
        duration_seconds=data_bytes / BYTES_PER_SECOND,
        audio_key=pending.key,
        codec=pending.codec,
        urgent=False,
        call_id=caller.call_id,
    )


def _message_created(message_id: uuid.UUID) -> NewJob:
    return NewJob(
        "event",
        f"message.created:{message_id}",
        {"event": "message.created", "message_id": str(message_id)},
    )


def _message_deleted(message: MessageRecord) -> NewJob:
    return NewJob(
        "event",
        f"message.deleted:{message.id}",
        {
            "event": "message.deleted",
            "mailbox_id": message.mailbox_id,
            "message": message.to_json(),
        },
    )


async def _usage(session: AsyncSession, mailbox_id: int) -> tuple[int, float]:
    """How many messages a mailbox holds and their seconds (deleted folder not counted)."""
    count, seconds = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Message.duration_seconds), 0.0)).where(
                Message.mailbox_id == mailbox_id, Message.folder != Folder.DELETED.value
            )
        )
    ).one()
    return int(count), float(seconds)


async def _room(session: AsyncSession, limits: Mailbox | MailboxProfile) -> float:
    """``recording_room`` for a mailbox, from what it holds now."""
    return recording_room(limits, *await _usage(session, limits.id))


async def _load_subject(session: AsyncSession, payload: dict[str, Any]) -> EventSubject | None:
    """What an outbox event is about; None when its mailbox or message is gone."""
    event = str(payload["event"])
    if event == "message.created":
        row = (
            await session.execute(
                select(Message, Mailbox)
                .join(Mailbox, Message.mailbox_id == Mailbox.id)
                .where(Message.id == _message_id(payload["message_id"]))
            )
        ).first()
        if row is None:
            return None
        message, mailbox = row
        return EventSubject(
            event, _notify_target(mailbox), message=_message_record(message, mailbox.number)
        )
    if event == "call.missed":
        missed_row = (
            await session.execute(
                select(MissedCall, Mailbox)
                .join(Mailbox, MissedCall.mailbox_id == Mailbox.id)
                .where(MissedCall.id == int(payload["missed_call_id"]))
            )
        ).first()
        if missed_row is None:
            return None
        call, mailbox = missed_row
        return EventSubject(
            event,
            _notify_target(mailbox),
            missed_call=_missed_call_record(call, mailbox.number),
        )
    if event == "mailbox.full":
        full = await session.get(Mailbox, int(payload["mailbox_id"]))
        if full is None:
            return None
        at = dt.datetime.fromisoformat(str(payload["at"]))
        return EventSubject(event, _notify_target(full), at=at)
    if event == "mailbox.locked":
        locked = await session.get(Mailbox, int(payload["mailbox_id"]))
        if locked is None:
            return None
        at = dt.datetime.fromisoformat(str(payload["at"]))
        until = dt.datetime.fromisoformat(str(payload["until"]))
        return EventSubject(
            event,
            _notify_target(locked),
            at=at,
            count=int(payload["failures"]),
            caller_number=str(payload.get("caller", "")),
            lock_seconds=(until - at).total_seconds(),
        )
    if event == "messages.expiring":
        expiring = await session.get(Mailbox, int(payload["mailbox_id"]))
        if expiring is None:
            return None
        at = dt.datetime.fromisoformat(str(payload["expires_at"]))
        return EventSubject(event, _notify_target(expiring), at=at, count=int(payload["count"]))
    if event == "message.deleted":
        deleted_from = await session.get(Mailbox, int(payload["mailbox_id"]))
        if deleted_from is None:
            return None
        record = MessageRecord.from_json(payload["message"], deleted_from.id)
        return EventSubject(event, _notify_target(deleted_from), message=record)
    raise InvalidValue(f"unknown event {event!r}")


def _notify_target(mailbox: Mailbox) -> NotifyTarget:
    return NotifyTarget(
        id=mailbox.id,
        organization_id=mailbox.organization_id,
        number=mailbox.number,
        name=mailbox.name,
        language=mailbox.language,
        timezone=mailbox.timezone,
        emails=validation.split_emails(mailbox.emails),
        attach_policy=mailbox.attach_policy,
        audio_format=mailbox.audio_format,
        sms_number=mailbox.sms_number,
        notify_missed=mailbox.notify_missed,
    )


def _missed_call(mailbox_id: int, caller: CallerInfo, at: dt.datetime) -> dict[str, Any]:
    """A missed_calls row (its columns by name) for a bulk insert."""
    if at.utcoffset() is None:
        raise InvalidValue("a missed call's time must carry its UTC offset")
    return {
        "mailbox_id": mailbox_id,
        "caller_number": caller.caller_number,
        "caller_name": caller.caller_name,
        "called_number": caller.called_number,
        "reason": DiversionReason(caller.reason),
        "at": at.astimezone(dt.UTC),
        "call_id": caller.call_id,
    }


def _message_record(message: Message, mailbox_number: str) -> MessageRecord:
    return MessageRecord(
        id=message.id,
        mailbox_id=message.mailbox_id,
        mailbox=mailbox_number,
        folder=message.folder,
        caller_number=message.caller_number,
        caller_name=message.caller_name,
        called_number=message.called_number,
        reason=message.reason,
        received_at=message.received_at,
        duration_seconds=message.duration_seconds,
        codec=message.codec,
        urgent=message.urgent,
        heard_at=message.heard_at,
        call_id=message.call_id,
        audio_key=message.audio_key,
        transcript=message.transcript,
    )


def _missed_call_record(call: MissedCall, mailbox_number: str) -> MissedCallRecord:
    return MissedCallRecord(
        id=call.id,
        mailbox_id=call.mailbox_id,
        mailbox=mailbox_number,
        caller_number=call.caller_number,
        caller_name=call.caller_name,
        called_number=call.called_number,
        reason=call.reason,
        at=call.at,
        call_id=call.call_id,
    )


if TYPE_CHECKING:

    def _satisfies_port(store: Store) -> MessageStore:
        return store  # mypy checks Store against the flows' protocol here

    def _satisfies_dial_in(store: Store) -> MailboxAccess:
        return store
