"""Retention purge, legal hold and the consistency check, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import time

from sqlalchemy import update

from afterbeep.domain import CallerInfo, Codec, MailboxProfile
from afterbeep.store import Store
from afterbeep.store.models import Message
from afterbeep.store.records import RetentionDefaults
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
    await store.set_organization_retention(RetentionDefaults(14, 7, warning_days=None))
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


async def _events(store: Store) -> list[dict[str, object]]:
    return [job.payload for job in await store.jobs.claim(1000, dt.timedelta(seconds=30))]


async def test_owners_are_warned_once_and_only_warned_messages_are_deleted(
    store: Store, caller: CallerInfo
) -> None:
    await store.set_organization_retention(RetentionDefaults(14, None, warning_days=3))
    box = await _box(store, "100", emails="owner@example.com")
    soon = await _message(store, box, caller, 12)  # goes in 2 days
    later = await _message(store, box, caller, 10)  # in 4 days: not yet announced
    overdue = await _message(store, box, caller, 20)  # retention just turned on
    await _message(store, box, caller, 20, folder="deleted")  # deleted folder: kept for ever
    await _events(store)  # the deposits' own events

    result = await purge_expired(store, NOW)
    assert (result.warned, result.deleted) == (2, 0)  # the overdue one is announced first
    [event] = await _events(store)
    assert event["event"] == "messages.expiring" and event["count"] == 2
    subject = await store.event_subject(event)
    assert subject is not None and subject.count == 2
    assert subject.at == NOW + dt.timedelta(days=3)  # when they go
    assert subject.mailbox.emails == ("owner@example.com",)

    again = await purge_expired(store, NOW + dt.timedelta(hours=1))
    assert (again.warned, again.deleted) == (0, 0)  # told once
    assert await _events(store) == []

    after = await purge_expired(store, NOW + dt.timedelta(days=3, hours=1))
    assert (after.warned, after.deleted) == (1, 2)  # `later` is due in 1 day now
    left = {str(m.id) for m in await store.list_messages("100")}
    assert soon not in left and overdue not in left and later in left
    events = await _events(store)
    deleted = sorted(str(e["message"]["id"]) for e in events if e["event"] == "message.deleted")  # type: ignore[index]
    assert deleted == sorted([soon, overdue])  # webhooks hear of purged messages
    assert [e["count"] for e in events if e["event"] == "messages.expiring"] == [1]
    assert (await check(store)).consistent


async def test_a_new_retention_is_announced_again_and_legal_holds_hear_nothing(
    store: Store, caller: CallerInfo
) -> None:
    await store.set_organization_retention(RetentionDefaults(14, None, warning_days=3))
    box = await _box(store, "100")
    held = await _box(store, "200", legal_hold=True)
    message = await _message(store, box, caller, 12)
    await _message(store, held, caller, 100)
    assert (await purge_expired(store, NOW)).warned == 1
    # Retention made longer, then shorter again: the owner hears before the new date.
    await store.update_mailbox("100", retention_days=30)
    assert (await purge_expired(store, NOW)).warned == 0
    await store.update_mailbox("100", retention_days=13)
    result = await purge_expired(store, NOW + dt.timedelta(days=1))
    assert (result.warned, result.deleted) == (1, 0)
    assert {str(m.id) for m in await store.list_messages("100")} == {message}
    assert (await purge_expired(store, NOW + dt.timedelta(days=4, hours=1))).deleted == 1
    assert len(await store.list_messages("200")) == 1


async def test_without_warnings_expired_messages_go_at_once(
    store: Store, caller: CallerInfo
) -> None:
    await store.set_organization_retention(RetentionDefaults(14, None, warning_days=None))
    box = await _box(store, "100")
    await _message(store, box, caller, 15)
    result = await purge_expired(store, NOW)
    assert (result.warned, result.deleted) == (0, 1)


async def test_a_purge_that_makes_room_lets_the_owner_hear_of_the_next_full_mailbox(
    store: Store, caller: CallerInfo
) -> None:
    await store.set_organization_retention(RetentionDefaults(14, None, warning_days=None))
    box = await _box(store, "100", max_messages=1, emails="owner@example.com")
    await _message(store, box, caller, 15)
    await store.record_refused_call(box, caller, NOW)
    assert [e["event"] for e in await _events(store)].count("mailbox.full") == 1
    assert (await purge_expired(store, NOW)).deleted == 1
    await _message(store, box, caller, 0)
    await store.record_refused_call(box, caller, NOW + dt.timedelta(hours=1))
    assert [e["event"] for e in await _events(store)].count("mailbox.full") == 1
