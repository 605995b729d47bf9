"""Keeping storage bounded and consistent: the retention purge and the consistency check.

Retention: a mailbox keeps its messages ``retention_days`` (and those in the ``deleted``
folder ``deleted_retention_days``), counted from when they were received; a mailbox without
its own numbers takes its organization's; None keeps them for ever. A mailbox under legal hold
loses nothing. Rows go first (in one transaction per mailbox and batch), then their audio: a
crash in between leaves orphan files, never rows without audio, and ``check`` finds them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from afterbeep.domain import Folder
from afterbeep.store.blobs import PENDING_SUFFIX
from afterbeep.store.models import Greeting, Mailbox, Message, Organization, utcnow
from afterbeep.store.repository import Store

log = logging.getLogger(__name__)

BATCH = 500  # messages deleted per transaction: a big purge never holds the database long
ORPHAN_GRACE = 300.0  # seconds: a file younger than this may be a write whose row is coming


@dataclass(frozen=True, slots=True)
class PurgeResult:
    deleted: int
    mailboxes: int  # mailboxes that lost messages


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
    """Delete the messages (rows, then audio) that outlived their retention."""
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
            )
            .join(Organization, Mailbox.organization_id == Organization.id)
            .where(Mailbox.legal_hold.is_(False))
        )
        policies = list(rows)
    deleted = touched = 0
    for mailbox_id, number, days, deleted_days, org_days, org_deleted_days in policies:
        count = 0
        keep = days if days is not None else org_days
        keep_deleted = deleted_days if deleted_days is not None else org_deleted_days
        if keep is not None:
            count += await _purge(store, mailbox_id, now - dt.timedelta(days=keep), False)
        if keep_deleted is not None:
            cutoff = now - dt.timedelta(days=keep_deleted)
            count += await _purge(store, mailbox_id, cutoff, True)
        if count:
            touched += 1
            deleted += count
            log.info("retention: deleted %d message(s) of mailbox %s", count, number)
    return PurgeResult(deleted, touched)


async def _purge(store: Store, mailbox_id: int, cutoff: dt.datetime, in_deleted: bool) -> int:
    folder = Message.folder == Folder.DELETED.value
    total = 0
    while True:
        async with store._session() as session:
            ids = list(
                await session.scalars(
                    select(Message.id)
                    .where(
                        Message.mailbox_id == mailbox_id,
                        folder if in_deleted else ~folder,
                        Message.received_at < cutoff,
                    )
                    .limit(BATCH)
                )
            )
            if not ids:
                return total
            keys = list(await session.scalars(select(Message.audio_key).where(Message.id.in_(ids))))
            await session.execute(delete(Message).where(Message.id.in_(ids)))
            await session.commit()
        await store._delete_blobs(keys)
        total += len(ids)


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
    return report
