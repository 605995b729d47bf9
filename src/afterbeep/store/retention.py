"""Keeping storage bounded and consistent: the retention purge and the consistency check.

Retention: a mailbox keeps its messages ``retention_days`` (and those in the ``deleted``
folder ``deleted_retention_days``), counted from when they were received; a mailbox without
its own numbers takes its organization's; None keeps them for ever. A mailbox under legal hold
loses nothing. Rows go first (in one transaction per mailbox and batch), then their audio: a
crash in between leaves orphan files, never rows without audio, and ``check`` finds them.
Each deletion is a ``message.deleted`` event (webhooks), queued in the same transaction.

Warnings: the owner is told (``messages.expiring``, one e-mail per mailbox and run) the
organization's ``retention_warning_days`` before a message goes, and a message is deleted
only once it was announced that long ago: when retention is turned on or shortened, old
messages get their warning first instead of vanishing the same hour. Messages the owner
deleted themselves (the deleted folder) are not announced.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, delete, select, text, update

from afterbeep.domain import Folder
from afterbeep.store.blobs import PENDING_SUFFIX
from afterbeep.store.models import Greeting, Mailbox, Message, Organization, utcnow
from afterbeep.store.outbox import NewJob
from afterbeep.store.repository import Store, _message_deleted, _message_record, _room

log = logging.getLogger(__name__)

BATCH = 500  # messages deleted per transaction: a big purge never holds the database long
ORPHAN_GRACE = 300.0  # seconds: a file younger than this may be a write whose row is coming


@dataclass(frozen=True, slots=True)
class PurgeResult:
    deleted: int
    mailboxes: int  # mailboxes that lost messages
    warned: int = 0  # messages announced to their owners this run


@dataclass(slots=True)
class CheckReport:
    messages: int = 0
    files: int = 0
    missing_audio: list[str] = field(default_factory=list)  # message ids
    orphan_files: list[str] = field(default_factory=list)  # blob keys
    fixed: int = 0

    @property
    def consistent(self) -> bool:
        return not self.missing_audio and not self.orphan_files


async def purge_expired(store: Store, now: dt.datetime | None = None) -> PurgeResult:
    """Warn the owners of messages that go soon, and delete (rows, then audio) those that
    outlived their retention and were announced."""
    now = now or utcnow()
    async with store._session() as session:
        rows = await session.execute(
            select(
                Mailbox.id,
                Mailbox.number,
                Mailbox.retention_days,
                Mailbox.deleted_retention_days,
                Organization.retention_days,
                Organization.deleted_retention_days,
                Organization.retention_warning_days,
            )
            .join(Organization, Mailbox.organization_id == Organization.id)
            .where(Mailbox.legal_hold.is_(False))
        )
        policies = list(rows)
    deleted = touched = warned = 0
    for mailbox_id, number, days, deleted_days, org_days, org_deleted_days, warn in policies:
        count = 0
        keep = days if days is not None else org_days
        keep_deleted = deleted_days if deleted_days is not None else org_deleted_days
        if keep is not None:
            expired = Message.received_at < now - dt.timedelta(days=keep)
            if warn is not None:
                warned += await _warn(store, mailbox_id, keep, warn, now)
                announced = Message.expiry_warned_at <= now - dt.timedelta(days=warn)
                expired = expired & announced
            count += await _purge(store, mailbox_id, ~_in_deleted_folder() & expired)
        if keep_deleted is not None:
            cutoff = now - dt.timedelta(days=keep_deleted)
            count += await _purge(
                store, mailbox_id, _in_deleted_folder() & (Message.received_at < cutoff)
            )
        if count:
            touched += 1
            deleted += count
            log.info("retention: deleted %d message(s) of mailbox %s", count, number)
    return PurgeResult(deleted, touched, warned)


def _in_deleted_folder() -> ColumnElement[bool]:
    return Message.folder == Folder.DELETED.value


async def _warn(store: Store, mailbox_id: int, keep: int, warn: int, now: dt.datetime) -> int:
    """Announce the messages that expire within ``warn`` days and were not announced yet;
    they are deleted ``warn`` days from now, or later."""
    due = (
        (Message.mailbox_id == mailbox_id)
        & ~_in_deleted_folder()
        & (Message.received_at < now - dt.timedelta(days=keep - warn))
        & Message.expiry_warned_at.is_(None)
    )
    async with store._session() as session:
        # The WHERE repeats the "not announced" test under the row locks: of two nodes
        # purging at once, one announces each message.
        marked = await session.execute(update(Message).where(due).values(expiry_warned_at=now))
        count = int(getattr(marked, "rowcount", 0) or 0)
        if not count:
            return 0
        goes = now + dt.timedelta(days=warn)
        event = NewJob(
            "event",
            f"messages.expiring:{mailbox_id}:{now.isoformat()}",
            {
                "event": "messages.expiring",
                "mailbox_id": mailbox_id,
                "count": count,
                "expires_at": goes.isoformat(),
            },
        )
        await store._queue_event(session, event)
        await session.commit()
    store._jobs_added()
    return count


async def _purge(store: Store, mailbox_id: int, which: ColumnElement[bool]) -> int:
    """Delete the mailbox's messages that match ``which``; each one a ``message.deleted``
    event for the webhooks; the owner is told again when it fills up after this."""
    total = 0
    while True:
        async with store._session() as session:
            rows = list(
                await session.scalars(
                    select(Message).where(Message.mailbox_id == mailbox_id, which).limit(BATCH)
                )
            )
            if not rows:
                break
            number = await session.scalar(select(Mailbox.number).where(Mailbox.id == mailbox_id))
            records = [_message_record(row, str(number)) for row in rows]
            await session.execute(delete(Message).where(Message.id.in_([r.id for r in records])))
            for record in records:
                await store._queue_event(session, _message_deleted(record))
            await store._announce(session, mailbox_id)
            await session.commit()
        store._jobs_added()
        await store._delete_blobs([record.audio_key for record in records])
        total += len(records)
    if total:
        await _clear_full(store, mailbox_id)
    return total


async def _clear_full(store: Store, mailbox_id: int) -> None:
    async with store._session() as session:
        mailbox = await session.get(Mailbox, mailbox_id)
        if (
            mailbox is not None
            and mailbox.full_notified_at is not None
            and await _room(session, mailbox)
        ):
            mailbox.full_notified_at = None
            await session.commit()


async def check(store: Store, fix: bool = False) -> CheckReport:
    """Rows without audio and audio without rows. With ``fix``: delete both kinds (files only
    when older than ORPHAN_GRACE: a younger one may be a write whose row is on its way)."""
    report = CheckReport()
    async with store._session() as session:
        messages = {
            key: message_id
            for message_id, key in await session.execute(select(Message.id, Message.audio_key))
        }
        greetings = set(await session.scalars(select(Greeting.audio_key)))
    report.messages = len(messages)
    root = store.blobs.root

    def scan() -> list[tuple[str, float]]:
        found = []
        for folder in ("messages", "greetings"):
            for path in (root / folder).glob("*/*.wav"):
                if path.with_name(path.name + PENDING_SUFFIX).exists():
                    continue  # a recording in progress (or one recover() will finish)
                found.append((path.relative_to(root).as_posix(), path.stat().st_mtime))
        return found

    files = await asyncio.to_thread(scan)
    report.files = len(files)
    present = {key for key, _ in files}
    report.missing_audio = sorted(
        str(message_id) for key, message_id in messages.items() if key not in present
    )
    now = time.time()
    report.orphan_files = sorted(
        key for key, _ in files if key not in messages and key not in greetings
    )
    if fix:
        old = [k for k, mtime in files if k in report.orphan_files and now - mtime > ORPHAN_GRACE]
        await store._delete_blobs(old)
        if report.missing_audio:
            async with store._session() as session:
                ids = [uuid.UUID(i) for i in report.missing_audio]
                await session.execute(delete(Message).where(Message.id.in_(ids)))
                await session.commit()
        report.fixed = len(old) + len(report.missing_audio)
        if store.engine.dialect.name == "sqlite":
            # The search index maps rows by rowid, which a VACUUM may have renumbered.
            async with store._session() as session:
                await session.execute(
                    text("INSERT INTO messages_search(messages_search) VALUES ('rebuild')")
                )
                await session.commit()
    return report
