"""The durable outbox: jobs written with the change that caused them, claimed by workers.

A job moves ``pending`` → ``running`` (claimed under a lease) → ``done``, or back to
``pending`` with a later ``run_after`` when it failed, or to ``failed`` when retrying cannot
help or its attempts are spent. Every transition after the claim names the claim's token, so
a worker whose lease lapsed (and whose job another worker took) changes nothing.

Claiming is one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING``: on PostgreSQL the
inner select takes ``FOR UPDATE SKIP LOCKED``, so concurrent workers take different jobs;
SQLite runs one writer at a time, which gives the same guarantee.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from afterbeep.store.models import Job, utcnow

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Kinds = tuple[str, ...] | None

# Core statements on the table: the worker's hot path needs none of the ORM's bookkeeping.
JOBS = cast(Table, Job.__table__)


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NewJob:
    kind: str
    key: str
    payload: dict[str, Any]
    delay: float = 0.0  # seconds before it is due (an e-mail waiting for its transcript)


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int  # this one included
    token: str


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    kind: str
    key: str
    status: JobStatus
    attempts: int
    run_after: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "key": self.key,
            "status": self.status.value,
            "attempts": self.attempts,
            "run_after": self.run_after.isoformat(),
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
        }


async def add_jobs(
    session: AsyncSession, jobs: Sequence[NewJob], now: dt.datetime | None = None
) -> None:
    """Queue ``jobs`` in the caller's transaction: they exist exactly when its change does.

    One executemany, without RETURNING: objects added to the session would be inserted one
    statement each on SQLite (the unit of work fetches every new id)."""
    if not jobs:
        return
    when = now or utcnow()
    await session.execute(insert(JOBS), [_pending_row(job, when) for job in jobs])


async def claim(
    session: AsyncSession,
    limit: int,
    lease: dt.timedelta,
    now: dt.datetime,
    kinds: Kinds = None,
) -> list[ClaimedJob]:
    """Take up to ``limit`` due jobs (and running ones whose lease lapsed); commits.

    ``kinds``: only these kinds, or ``("!", kind, …)`` for all but these.
    """
    token = str(uuid.uuid4())
    due = (
        select(JOBS.c.id)
        .where(
            or_(
                (JOBS.c.status == JobStatus.PENDING.value) & (JOBS.c.run_after <= now),
                (JOBS.c.status == JobStatus.RUNNING.value) & (JOBS.c.locked_until < now),
            ),
            *_kind_filter(kinds),
        )
        .order_by(JOBS.c.run_after, JOBS.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer anyway
    )
    rows = (
        await session.execute(
            update(JOBS)
            .where(JOBS.c.id.in_(due.scalar_subquery()))
            .values(
                status=JobStatus.RUNNING.value,
                lock_token=token,
                locked_until=now + lease,
                attempts=JOBS.c.attempts + 1,
            )
            .returning(JOBS.c.id, JOBS.c.kind, JOBS.c.key, JOBS.c.payload, JOBS.c.attempts)
        )
    ).all()
    await session.commit()
    return [
        ClaimedJob(
            id=row.id,
            kind=row.kind,
            key=row.key,
            payload=json.loads(row.payload),
            attempts=row.attempts,
            token=token,
        )
        for row in sorted(rows, key=lambda row: row.id)
    ]


async def extend(
    session: AsyncSession, jobs: Sequence[ClaimedJob], lease: dt.timedelta, now: dt.datetime
) -> None:
    """Renew the lease of jobs still being worked on; commits."""
    for job in jobs:
        await session.execute(
            update(JOBS)
            .where(JOBS.c.id == job.id, JOBS.c.lock_token == job.token)
            .values(locked_until=now + lease)
        )
    await session.commit()


async def mark_done(session: AsyncSession, job: ClaimedJob, now: dt.datetime) -> bool:
    """Within the caller's transaction; False when the claim was lost (do not commit then)."""
    result = await session.execute(
        update(JOBS)
        .where(JOBS.c.id == job.id, JOBS.c.lock_token == job.token)
        .values(
            status=JobStatus.DONE.value,
            lock_token=None,
            locked_until=None,
            last_error=None,
            finished_at=now,
        )
    )
    return _rowcount(result) == 1


async def mark_failed(
    session: AsyncSession,
    job: ClaimedJob,
    error: str,
    now: dt.datetime,
    retry_at: dt.datetime | None,
) -> bool:
    """Back to pending until ``retry_at``, or failed for good when it is None; commits."""
    final = retry_at is None
    result = await session.execute(
        update(JOBS)
        .where(JOBS.c.id == job.id, JOBS.c.lock_token == job.token)
        .values(
            status=(JobStatus.FAILED if final else JobStatus.PENDING).value,
            run_after=now if retry_at is None else retry_at,
            lock_token=None,
            locked_until=None,
            last_error=error[:2000],
            finished_at=now if final else None,
        )
    )
    await session.commit()
    return _rowcount(result) == 1


async def release(session: AsyncSession, job: ClaimedJob, now: dt.datetime) -> None:
    """Give a claimed job back unfinished, due now, its attempt not counted; commits."""
    await session.execute(
        update(JOBS)
        .where(JOBS.c.id == job.id, JOBS.c.lock_token == job.token)
        .values(
            status=JobStatus.PENDING.value,
            attempts=JOBS.c.attempts - 1,
            run_after=now,
            lock_token=None,
            locked_until=None,
        )
    )
    await session.commit()


async def list_jobs(
    session: AsyncSession, status: JobStatus | None = None, limit: int = 100
) -> list[JobRecord]:
    """Newest first."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Job.status == status.value)
    return [_record(job) for job in await session.scalars(query)]


async def count_jobs(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(JOBS.c.status, func.count()).group_by(JOBS.c.status))
    counts = {status.value: 0 for status in JobStatus}
    counts.update({status: int(count) for status, count in rows})
    return counts


async def retry(session: AsyncSession, ids: Sequence[int] | None, now: dt.datetime) -> list[int]:
    """Make failed jobs (those in ``ids``, or all) due now with fresh attempts; commits."""
    query = (
        update(JOBS)
        .where(JOBS.c.status == JobStatus.FAILED.value)
        .values(status=JobStatus.PENDING.value, attempts=0, run_after=now, finished_at=None)
        .returning(JOBS.c.id)
    )
    if ids is not None:
        query = query.where(JOBS.c.id.in_(list(ids)))
    retried = sorted(await session.scalars(query))
    await session.commit()
    return retried


async def purge_done(session: AsyncSession, before: dt.datetime) -> int:
    """Forget finished jobs older than ``before``; commits."""
    result = await session.execute(
        delete(JOBS).where(JOBS.c.status == JobStatus.DONE.value, JOBS.c.finished_at < before)
    )
    await session.commit()
    return _rowcount(result)


async def insert_ignoring_duplicates(
    session: AsyncSession,
    jobs: Sequence[NewJob],
    now: dt.datetime,
    claim_for: tuple[str, dt.timedelta] | None = None,
) -> list[ClaimedJob]:
    """Queue ``jobs`` unless a job with the same key exists (a fan-out that is run twice).

    With ``claim_for`` (token, lease) they are inserted already claimed, for the caller to run
    at once without another round trip; returned as such.
    """
    if not jobs:
        return []
    keys = [job.key for job in jobs]
    existing = set(await session.scalars(select(JOBS.c.key).where(JOBS.c.key.in_(keys))))
    claimed: list[ClaimedJob] = []
    for job in jobs:
        if job.key in existing:
            continue
        values = _pending_row(job, now)
        if claim_for is not None and not job.delay:
            token, lease = claim_for
            values.update(
                status=JobStatus.RUNNING.value,
                attempts=1,
                lock_token=token,
                locked_until=now + lease,
            )
        job_id = await session.scalar(insert(JOBS).values(values).returning(JOBS.c.id))
        if claim_for is not None and not job.delay and job_id is not None:
            claimed.append(ClaimedJob(job_id, job.kind, job.key, job.payload, 1, claim_for[0]))
    return claimed


def _pending_row(job: NewJob, now: dt.datetime) -> dict[str, Any]:
    return {
        "kind": job.kind,
        "key": job.key,
        "payload": json.dumps(job.payload, separators=(",", ":")),
        "status": JobStatus.PENDING.value,
        "attempts": 0,
        "run_after": now + dt.timedelta(seconds=job.delay),
    }


def _kind_filter(kinds: Kinds) -> list[Any]:
    if not kinds:
        return []
    if kinds[0] == "!":
        return [JOBS.c.kind.not_in(list(kinds[1:]))]
    return [JOBS.c.kind.in_(list(kinds))]


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _record(job: Job) -> JobRecord:
    return JobRecord(
        id=job.id,
        kind=job.kind,
        key=job.key,
        status=JobStatus(job.status),
        attempts=job.attempts,
        run_after=job.run_after,
        last_error=job.last_error,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


class JobQueue:
    """The outbox for workers and the CLI: each call one transaction, errors as ``StoreError``."""

    def __init__(self, session: SessionFactory, on_due: Callable[[], None] = lambda: None) -> None:
        self._session = session
        self._on_due = on_due  # wakes this process's worker when jobs became due

    async def claim(self, limit: int, lease: dt.timedelta, kinds: Kinds = None) -> list[ClaimedJob]:
        async with self._session() as session:
            return await claim(session, limit, lease, utcnow(), kinds)

    async def extend(self, jobs: Sequence[ClaimedJob], lease: dt.timedelta) -> None:
        if jobs:
            async with self._session() as session:
                await extend(session, jobs, lease, utcnow())

    async def finish(self, job: ClaimedJob, follow_ups: Sequence[NewJob] = ()) -> bool:
        """Done, queueing ``follow_ups`` atomically with it; False when the claim was lost."""
        return await self.finish_and_claim(job, follow_ups) is not None

    async def finish_and_claim(
        self, job: ClaimedJob, follow_ups: Sequence[NewJob], lease: dt.timedelta | None = None
    ) -> list[ClaimedJob] | None:
        """Done, queueing ``follow_ups`` atomically; None when the claim was lost.

        With a ``lease`` the follow-ups come back claimed by the caller (under the finished
        job's token), so a worker runs an event's deliveries without claiming them again.
        """
        now = utcnow()
        async with self._session() as session:
            if not await mark_done(session, job, now):
                await session.rollback()
                return None
            claim_for = None if lease is None else (job.token, lease)
            claimed = await insert_ignoring_duplicates(session, follow_ups, now, claim_for)
            await session.commit()
            return claimed

    async def fail(self, job: ClaimedJob, error: str, retry_at: dt.datetime | None) -> bool:
        async with self._session() as session:
            return await mark_failed(session, job, error, utcnow(), retry_at)

    async def records(self, status: JobStatus | None = None, limit: int = 100) -> list[JobRecord]:
        async with self._session() as session:
            return await list_jobs(session, status, limit)

    async def counts(self) -> dict[str, int]:
        async with self._session() as session:
            return await count_jobs(session)

    async def hurry(self, keys: Sequence[str]) -> None:
        """Make these pending jobs due now (what they waited for has come)."""
        if not keys:
            return
        async with self._session() as session:
            await session.execute(
                update(JOBS)
                .where(JOBS.c.key.in_(list(keys)), JOBS.c.status == JobStatus.PENDING.value)
                .values(run_after=utcnow())
            )
            await session.commit()
        self._on_due()

    async def release(self, job: ClaimedJob) -> None:
        async with self._session() as session:
            await release(session, job, utcnow())

    async def retry(self, ids: Sequence[int] | None = None) -> list[int]:
        async with self._session() as session:
            retried = await retry(session, ids, utcnow())
        if retried:
            self._on_due()
        return retried

    async def purge(self, older_than: dt.timedelta) -> int:
        async with self._session() as session:
            return await purge_done(session, utcnow() - older_than)
