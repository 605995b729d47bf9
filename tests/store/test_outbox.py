"""The durable outbox on SQLite and PostgreSQL: written with its change, claimed once, retried."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from afterbeep.domain import CallerInfo, Codec, MailboxProfile
from afterbeep.store import Store
from afterbeep.store.outbox import JobStatus, NewJob

LEASE = dt.timedelta(seconds=30)


async def _mailbox(store: Store, number: str = "100") -> MailboxProfile:
    await store.add_mailbox(number, f"Box {number}", emails="owner@example.com")
    profile = await store.find_mailbox(number)
    assert profile is not None
    return profile


async def _deposit(store: Store, profile: MailboxProfile, caller: CallerInfo) -> str:
    recording = store.start_recording(profile, caller, Codec.PCMU, dt.datetime.now(dt.UTC))
    recording.write(bytes(8000 * 3))
    return str(await store.commit_recording(recording))


async def test_a_message_commits_with_its_event_and_wakes_listeners(
    store: Store, caller: CallerInfo
) -> None:
    woken: list[bool] = []
    store.on_new_jobs(lambda: woken.append(True))
    profile = await _mailbox(store)
    message_id = await _deposit(store, profile, caller)

    jobs = await store.jobs.claim(10, LEASE)
    assert [(job.kind, job.key) for job in jobs] == [("event", f"message.created:{message_id}")]
    assert jobs[0].attempts == 1
    assert woken == [True]

    subject = await store.event_subject(jobs[0].payload)
    assert subject is not None and subject.message is not None
    assert subject.mailbox.emails == ("owner@example.com",)
    assert str(subject.message.id) == message_id
    assert subject.message.caller_name == caller.caller_name


async def test_missed_calls_committed_together_keep_their_own_rows_and_jobs(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    """One batch, one INSERT: each job must name its own call, in the right mailbox."""
    alice, bob = await _mailbox(store, "100"), await _mailbox(store, "200")
    callers = [dataclasses.replace(caller, caller_number=f"555{n:04d}") for n in range(12)]
    await asyncio.gather(
        *(
            store.record_missed_call(alice if n % 2 else bob, c, now + dt.timedelta(seconds=n))
            for n, c in enumerate(callers)
        )
    )
    jobs = await store.jobs.claim(50, LEASE)
    assert len(jobs) == len(callers)
    for job in jobs:
        subject = await store.event_subject(job.payload)
        assert subject is not None and subject.missed_call is not None
        call = subject.missed_call
        n = int(call.caller_number[3:])
        assert subject.mailbox.number == ("100" if n % 2 else "200")
        assert call.at == now + dt.timedelta(seconds=n)
        assert job.key == f"call.missed:{call.id}"
    assert len({job.key for job in jobs}) == len(callers)


async def test_a_missed_call_and_a_deletion_queue_their_events(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    profile = await _mailbox(store)
    await store.record_missed_call(profile, caller, now)
    message_id = await _deposit(store, profile, caller)
    await store.delete_message(message_id)

    jobs = await store.jobs.claim(10, LEASE)
    events = [job.payload["event"] for job in jobs]
    assert events == ["call.missed", "message.created", "message.deleted"]

    missed = await store.event_subject(jobs[0].payload)
    assert missed is not None and missed.missed_call is not None
    assert missed.missed_call.at == now
    # The created event's message is gone; the deleted event carries its own snapshot.
    assert await store.event_subject(jobs[1].payload) is None
    deleted = await store.event_subject(jobs[2].payload)
    assert deleted is not None and deleted.message is not None
    assert str(deleted.message.id) == message_id
    assert deleted.message.caller_number == caller.caller_number


async def test_a_claimed_job_is_not_claimed_again_until_its_lease_lapses(store: Store) -> None:
    await _queue(store, "email:a")
    first = await store.jobs.claim(10, dt.timedelta(milliseconds=200))
    assert [job.key for job in first] == ["email:a"]
    assert await store.jobs.claim(10, LEASE) == []

    await asyncio.sleep(0.3)  # the first worker died: its lease lapses
    second = await store.jobs.claim(10, LEASE)
    assert [(job.key, job.attempts) for job in second] == [("email:a", 2)]
    # The first claim is stale: finishing it changes nothing, the second one counts.
    assert not await store.jobs.finish(first[0])
    assert await store.jobs.finish(second[0])
    [record] = await store.jobs.records()
    assert (record.status, record.attempts) == (JobStatus.DONE, 2)


async def test_concurrent_claims_never_share_a_job(store: Store) -> None:
    for index in range(40):
        await _queue(store, f"email:{index}")
    batches = await asyncio.gather(*(store.jobs.claim(7, LEASE) for _ in range(8)))
    keys = [job.key for batch in batches for job in batch]
    assert len(keys) == 40
    assert len(set(keys)) == 40


async def test_finish_queues_follow_ups_once(store: Store) -> None:
    await _queue(store, "event:x")
    [job] = await store.jobs.claim(1, LEASE)
    follow_ups = [NewJob("email", "email:x", {"to": ["a@example.com"]})]
    assert await store.jobs.finish(job, follow_ups)

    # A fan-out done again (a retry after a crash) does not queue the e-mail twice.
    await _queue(store, "event:y")
    [again] = await store.jobs.claim(1, LEASE)
    assert await store.jobs.finish(again, follow_ups)
    keys = [record.key for record in await store.jobs.records()]
    assert sorted(keys) == ["email:x", "event:x", "event:y"]


async def test_failures_retry_later_then_fail_visibly_and_can_be_retried(store: Store) -> None:
    await _queue(store, "email:z")
    [job] = await store.jobs.claim(1, LEASE)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert await store.jobs.fail(job, "421 try again", later)
    assert await store.jobs.claim(1, LEASE) == []  # not due yet
    [record] = await store.jobs.records()
    assert (record.status, record.last_error) == (JobStatus.PENDING, "421 try again")
    assert record.run_after == pytest.approx(later, abs=dt.timedelta(seconds=1))

    # Due now, and this time the server refuses for good.
    await store.jobs.retry([])  # only failed jobs are touched: nothing happens
    async with store._session() as session:  # make it due without waiting an hour
        from sqlalchemy import update

        from afterbeep.store.models import Job

        await session.execute(update(Job).values(run_after=dt.datetime.now(dt.UTC)))
        await session.commit()
    [job] = await store.jobs.claim(1, LEASE)
    assert await store.jobs.fail(job, "550 no such user", None)
    [record] = await store.jobs.records(JobStatus.FAILED)
    assert (record.attempts, record.last_error) == (2, "550 no such user")
    assert (await store.jobs.counts())["failed"] == 1

    assert await store.jobs.retry() == [record.id]
    [job] = await store.jobs.claim(1, LEASE)
    assert job.attempts == 1  # a retry starts afresh


async def test_done_jobs_are_purged_after_a_while(store: Store) -> None:
    await _queue(store, "email:old")
    [job] = await store.jobs.claim(1, LEASE)
    await store.jobs.finish(job)
    assert await store.jobs.purge(dt.timedelta(days=1)) == 0
    assert await store.jobs.purge(dt.timedelta(seconds=-1)) == 1
    assert await store.jobs.records() == []


async def _queue(store: Store, key: str) -> None:
    from afterbeep.store.outbox import add_jobs

    async with store._session() as session:
        await add_jobs(session, [NewJob(key.split(":")[0], key, {"n": key})])
        await session.commit()


async def test_a_full_mailbox_tells_its_owner_once_until_there_is_room(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    await store.add_mailbox("100", "Box 100", emails="owner@example.com", max_messages=2)
    profile = await store.find_mailbox("100")
    assert profile is not None
    first = await _deposit(store, profile, caller)
    assert await store.recording_room(profile) == profile.max_message_seconds
    await _deposit(store, profile, caller)
    assert await store.recording_room(profile) == 0

    await store.record_refused_call(profile, caller, now)
    await store.record_refused_call(profile, caller, now + dt.timedelta(minutes=1))
    events = [job.payload["event"] for job in await store.jobs.claim(20, LEASE)]
    # Each refused caller is a missed call; the owner hears of the full mailbox once.
    assert events.count("call.missed") == 2
    assert events.count("mailbox.full") == 1
    assert len(await store.list_missed_calls("100")) == 2

    await store.delete_message(first)  # room again
    assert await store.recording_room(profile) > 0
    await _deposit(store, profile, caller)
    later = now + dt.timedelta(hours=1)
    await store.record_refused_call(profile, caller, later)
    jobs = await store.jobs.claim(20, LEASE)
    [full] = [job for job in jobs if job.payload["event"] == "mailbox.full"]
    subject = await store.event_subject(full.payload)
    assert subject is not None and subject.at == later
    assert subject.mailbox.emails == ("owner@example.com",)


async def test_a_storage_quota_shortens_the_last_message_then_fills_the_mailbox(
    store: Store, caller: CallerInfo
) -> None:
    # 1 minute of audio; each deposit is 3 s; the shortest message kept is 2 s.
    await store.add_mailbox("100", "Box 100", max_storage_minutes=1, max_message_seconds=50)
    profile = await store.find_mailbox("100")
    assert profile is not None and profile.max_storage_minutes == 1
    assert await store.recording_room(profile) == 50  # the message length caps it
    for _ in range(4):
        await _deposit(store, profile, caller)
    assert await store.recording_room(profile) == pytest.approx(48)  # 60 - 4 x 3
    for _ in range(15):
        await _deposit(store, profile, caller)
    assert await store.recording_room(profile) == pytest.approx(3)  # 60 - 57
    await _deposit(store, profile, caller)
    assert await store.recording_room(profile) == 0  # 0 s left: full
    # Deleting a message gives its room back.
    [message, *_] = await store.list_messages("100")
    await store.delete_message(message.id)
    assert await store.recording_room(profile) == pytest.approx(3)
    record = await store.update_mailbox("100", max_storage_minutes=None)
    assert record.max_storage_minutes is None
    assert await store.recording_room(profile) == pytest.approx(3)  # profile unchanged
    fresh = await store.find_mailbox("100")
    assert fresh is not None and await store.recording_room(fresh) == 50


async def test_workers_can_take_only_some_kinds_of_jobs(store: Store) -> None:
    await _queue(store, "transcribe:a")
    await _queue(store, "email:a")
    await _queue(store, "sms:a")
    others = await store.jobs.claim(10, LEASE, ("!", "transcribe"))
    assert sorted(job.key for job in others) == ["email:a", "sms:a"]
    [only] = await store.jobs.claim(10, LEASE, ("transcribe",))
    assert only.key == "transcribe:a"
