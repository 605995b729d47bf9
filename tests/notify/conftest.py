"""Fixtures for delivery tests: the store (SQLite and PostgreSQL), a real SMTP server, and the
outbox worker with the handlers ``serve`` runs, tuned to retry within fractions of a second."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import httpx
import pytest

from afterbeep.config import NotifySettings
from afterbeep.notify.deliver import Deliveries
from afterbeep.notify.worker import RetryPolicy, Worker
from afterbeep.store import Store
from afterbeep.transcribe.engine import Transcriber
from tests.store import conftest as store_fixtures
from tests.support.smtp import SmtpSink

# The store fixtures (``store`` on SQLite and PostgreSQL, ``caller``, ``now``), re-exported.
caller = store_fixtures.caller
data_dir = store_fixtures.data_dir
database_url = store_fixtures.database_url
now = store_fixtures.now
postgres_database = store_fixtures.postgres_database
store = store_fixtures.store

SENDER = "voicemail@afterbeep.test"
POLL = 0.05  # seconds between the worker's looks for due jobs (retries coming due)
LEASE = 2.0  # seconds a claimed job is held
RETRY_BASE = 0.05
RETRY_CAP = 0.2
CLOSE_WITHIN = 10.0  # seconds a worker may take to close (its grace is 1 s)
MAX_ATTEMPTS = 60  # ~10 s of retrying at the cap: more than any outage a test stages


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A started SMTP server on a free loopback port; stopped (if still up) at teardown."""
    with SmtpSink() as sink:
        yield sink


def notify_settings(sink: SmtpSink | None = None, **overrides: Any) -> NotifySettings:
    """Settings that mail through ``sink`` (plain SMTP, short timeouts), plus ``overrides``."""
    base = NotifySettings(
        smtp_host=None if sink is None else sink.host,
        smtp_port=25 if sink is None else sink.port,
        smtp_security="none",
        smtp_from=SENDER,
        smtp_timeout=2.0,
        workers=4,
        retry_base=RETRY_BASE,
        retry_cap=RETRY_CAP,
        max_attempts=MAX_ATTEMPTS,
        lease=LEASE,
    )
    return dataclasses.replace(base, **overrides)


@dataclasses.dataclass
class Notifier:
    """``Deliveries`` and a running ``Worker`` around a store: what ``serve`` runs."""

    store: Store
    settings: NotifySettings
    deliveries: Deliveries
    worker: Worker
    closed: bool = False

    async def close(self, grace: float = 1.0) -> None:
        """Stop the worker (a job still running after ``grace`` is put back, due at once)."""
        if self.closed:
            return
        self.closed = True
        try:
            async with asyncio.timeout(CLOSE_WITHIN):
                await self.worker.close(grace)
        finally:
            await self.deliveries.close()


class StartNotifier(Protocol):
    def __call__(
        self,
        settings: NotifySettings | None = None,
        transcriber: Transcriber | None = None,
        **overrides: Any,
    ) -> Notifier: ...


@pytest.fixture
async def notifier(store: Store, smtp: SmtpSink) -> AsyncIterator[StartNotifier]:
    """``notifier(settings=None, **overrides)`` starts a worker delivering through ``smtp``.

    ``overrides`` are ``NotifySettings`` fields (``default_email=…``, ``sms_provider=…``).
    Every worker started is closed at teardown, then the HTTP client.
    """
    started: list[Notifier] = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:

        def start(
            settings: NotifySettings | None = None,
            transcriber: Transcriber | None = None,
            **overrides: Any,
        ) -> Notifier:
            settings = dataclasses.replace(settings or notify_settings(smtp), **overrides)
            deliveries = Deliveries(store, settings, client, transcriber=transcriber)
            worker = Worker(
                store.jobs,
                deliveries.handlers(),
                concurrency=settings.workers,
                lease=settings.lease,
                poll=POLL,
                retry=RetryPolicy(
                    base=settings.retry_base,
                    cap=settings.retry_cap,
                    max_attempts=settings.max_attempts,
                ),
            )
            store.on_new_jobs(worker.wake)
            worker.start()
            running = Notifier(store, settings, deliveries, worker)
            started.append(running)
            return running

        try:
            yield start
        finally:
            for running in started:
                await running.close()


# Leaked sockets are reported by the test that leaked them.
from tests.support.leaks import collect_garbage_after_each_test  # noqa: E402, F401
