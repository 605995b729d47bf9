"""Retention purge, legal hold and the consistency check, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import time

from sqlalchemy import update

from afterbeep.domain import CallerInfo, Codec, MailboxProfile
from afterbeep.store import Store
from afterbeep.store.models import Message
from afterbeep.store.retention import ORPHAN_GRACE, check, purge_expired

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


async def _box(store: Store, number: str, **options: object) -> MailboxProfile:
    await store.add_mailbox(number, f"Box {number}", **options)  # type: ignore[arg-type]
    profile = await store.find_mailbox(number)
    assert profile is not None
    return profile


async def _message(
    store: Store, profile: MailboxProfile, caller: CallerInfo, days_old: float, folder: str = "new"
) -> str:
    recording = store.start_recording(
        profile, caller, Codec.PCMU, NOW - dt.timedelta(days=days_old)
    )
    recording.write(bytes(8000 * 3))
    message_id = await store.commit_recording(recording)
    if folder != "new":
        async with store._session() as session:
            await session.execute(
                update(Message).where(Message.id == message_id).values(folder=folder)
            )
            await session.commit()
    return str(message_id)


async def test_retention_by_mailbox_then_organization_and_legal_hold(
    store: Store, caller: CallerInfo
) -> None:
    await store.set_organization_retention(14, 7)
    plain = await _box(store, "100")  # the organization's 14 / 7 days
    own = await _box(store, "200", retention_days=30)  # 30 / the organization's 7
    held = await _box(store, "300", legal_hold=True)

    keep = await _message(store, plain, caller, 10)
    gone = await _message(store, plain, caller, 15)
    gone_deleted = await _message(store, plain, caller, 8, folder="deleted")
    keep_own = await _message(store, own, caller, 20)
    gone_own = await _message(store, own, caller, 31)
    held_old = await _message(store, held, caller, 400)
    files_before = {m: (await store.get_message(m)).audio_key for m in (gone, gone_own)}

    result = await purge_expired(store, NOW)
    assert (result.deleted, result.mailboxes) == (3, 2)
    left = {str(m.id) for m in await store.list_messages()}
    assert left == {keep, keep_own, held_old}
    for key in files_before.values():
        assert not store.blobs.exists(key)  # rows and audio go together
    assert gone_deleted not in left
    assert (await check(store)).consistent

    assert (await purge_expired(store, NOW)).deleted == 0  # nothing more to do


async def test_check_finds_orphans_both_ways_and_fixes_them(
    store: Store, caller: CallerInfo
) -> None:
    profile = await _box(store, "100")
    lost = await _message(store, profile, caller, 1)
    await _message(store, profile, caller, 1)
    store.blobs.delete((await store.get_message(lost)).audio_key)  # a row without audio
    orphan = f"messages/{profile.id}/00000000-0000-0000-0000-000000000000.wav"
    store.blobs.write(orphan, b"RIFF")  # audio without a row

    report = await check(store)
    assert report.missing_audio == [lost]
    assert report.orphan_files == [orphan]
    assert not report.consistent

    old = time.time() - ORPHAN_GRACE - 10
    os.utime(store.blobs.path(orphan), (old, old))
    fixed = await check(store, fix=True)
    assert fixed.fixed == 2
    assert (await check(store)).consistent
    assert len(await store.list_messages("100")) == 1
