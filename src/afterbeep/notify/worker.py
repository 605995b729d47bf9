"""The outbox worker: claims due jobs, runs their handlers, records the outcome.

A handler returns the follow-up jobs to queue (a fan-out's deliveries) or raises
``DeliveryError``. A transient failure is retried with exponential backoff and jitter, a
permanent one (or one that used its attempts) leaves the job ``failed`` with its error, for
``afterbeep jobs list`` to show. While a job runs its lease is renewed, so only a dead worker's
jobs are taken over. The worker wakes when the store commits jobs, and polls for the rest
(retries coming due, jobs queued by another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from afterbeep.notify.content import DeliveryError
from afterbeep.store.errors import StoreError
from afterbeep.store.outbox import ClaimedJob, JobQueue, Kinds, NewJob

log = logging.getLogger(__name__)

Handler = Callable[[ClaimedJob], Awaitable[Sequence[NewJob] | None]]

PURGE_EVERY = 3600.0  # seconds between sweeps of finished jobs
KEEP_DONE = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 5.0
    cap: float = 600.0
    max_attempts: int = 30

    def delay(self, attempts: int, rand: random.Random | None = None) -> float:
        """Seconds before the next try after ``attempts`` tries: doubling, capped, jittered.

        The jitter (50-100 % of the step) keeps a mail server that comes back from being hit
        by every waiting job in the same second.
        """
        step = min(self.cap, self.base * 2.0 ** max(0, attempts - 1))
        return step * (rand or random).uniform(0.5, 1.0)


class Worker:
    def __init__(
        self,
        jobs: JobQueue,
        handlers: Mapping[str, Handler],
        *,
        concurrency: int = 8,
        lease: float = 30.0,
        poll: float = 1.0,
        retry: RetryPolicy | None = None,
        kinds: Kinds = None,
    ) -> None:
        self.jobs = jobs
        self.kinds = kinds  # the job kinds this worker takes (see outbox.claim)
        self.handlers = dict(handlers)
        self.concurrency = concurrency
        self.lease = dt.timedelta(seconds=lease)
        self.poll = poll
        self.retry = retry or RetryPolicy()
        self._wakeup = asyncio.Event()
        self._running: dict[int, tuple[ClaimedJob, asyncio.Task[None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.failed = 0

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="outbox-worker")

    async def close(self, grace: float = 5.0) -> None:
        """Stop claiming; give running jobs ``grace`` seconds, then put them back."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        running = [task for _, task in self._running.values()]
        if running:
            await asyncio.wait(running, timeout=grace)
        for job, task in list(self._running.values()):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            # Due again at once, without spending an attempt: the next start (or another node)
            # does it. If the store is unreachable, the lease lapses instead.
            with contextlib.suppress(StoreError):
                await self.jobs.release(job)

    async def _loop(self) -> None:
        last_heartbeat = last_purge = time.monotonic()
        while True:
            self._wakeup.clear()
            free = self.concurrency - len(self._running)
            claimed: list[ClaimedJob] = []
            if free > 0:
                try:
                    claimed = await self.jobs.claim(free, self.lease, self.kinds)
                except StoreError as exc:
                    log.warning("cannot claim jobs: %s", exc)
            for job in claimed:
                self._spawn(job)
            now = time.monotonic()
            if now - last_heartbeat >= self.lease.total_seconds() / 3:
                last_heartbeat = now
                await self._heartbeat()
            if now - last_purge >= PURGE_EVERY:
                last_purge = now
                await self._purge()
            if claimed and len(claimed) == free:
                continue  # there may be more: claim again once a slot frees (_run wakes us)
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives in
            # the turn the event is set, and close() would then wait for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):
                    await self._wakeup.wait()

    def _spawn(self, job: ClaimedJob) -> None:
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._running[job.id] = (job, task)

    async def _run(self, job: ClaimedJob) -> None:
        started = time.monotonic()
        try:
            handler = self.handlers.get(job.kind)
            if handler is None:
                raise DeliveryError(f"no handler for jobs of kind {job.kind!r}", permanent=True)
            follow_ups = await handler(job) or ()
            claimed = await self.jobs.finish_and_claim(job, follow_ups, self.lease)
            if claimed is None:
                log.warning("job %s finished after its lease was taken over", job.key)
            else:
                self.delivered += 1
                log.debug("job %s done in %.0f ms", job.key, 1000 * (time.monotonic() - started))
                for follow_up in claimed:  # an event's deliveries: run them now, no new claim
                    self._spawn(follow_up)
        except asyncio.CancelledError:
            raise
        except DeliveryError as exc:
            await self._failed(job, str(exc), exc.permanent)
        except StoreError as exc:
            await self._failed(job, f"store: {exc}", permanent=False)
        except Exception as exc:  # a bug must not stop the worker; the job says what happened
            log.exception("job %s crashed", job.key)
            await self._failed(job, f"{type(exc).__name__}: {exc}", permanent=False)
        finally:
            self._running.pop(job.id, None)
            self._wakeup.set()

    async def _failed(self, job: ClaimedJob, error: str, permanent: bool) -> None:
        final = permanent or job.attempts >= self.retry.max_attempts
        retry_at = None
        if not final:
            retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(
                seconds=self.retry.delay(job.attempts)
            )
        try:
            await self.jobs.fail(job, error, retry_at)
        except StoreError as exc:
            log.warning("cannot record the failure of job %s: %s", job.key, exc)
        if final:
            self.failed += 1
            log.error("job %s failed after %d attempt(s): %s", job.key, job.attempts, error)
        else:
            assert retry_at is not None
            log.warning(
                "job %s attempt %d failed, retrying at %s: %s",
                job.key, job.attempts, retry_at.isoformat(timespec="seconds"), error,
            )  # fmt: skip

    async def _heartbeat(self) -> None:
        try:
            await self.jobs.extend([job for job, _ in self._running.values()], self.lease)
        except StoreError as exc:
            log.warning("cannot renew job leases: %s", exc)

    async def _purge(self) -> None:
        try:
            await self.jobs.purge(KEEP_DONE)
        except StoreError as exc:
            log.warning("cannot purge finished jobs: %s", exc)
