"""Every repository test runs twice: on SQLite in a temporary folder and on PostgreSQL.

PostgreSQL is the local server at 127.0.0.1:5432 (user postgres, trust auth) unless
``AFTERBEEP_TEST_POSTGRES`` names another admin DSN; a fresh database is created for the test
session and dropped at its end. When the server cannot be reached, its tests are skipped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from afterbeep.domain import CallerInfo, DiversionReason
from afterbeep.store import Store, upgrade_database

ADMIN_DSN = os.environ.get(
    "AFTERBEEP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway database for this test session; its asyncpg DSN."""
    name = f"afterbeep_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL unreachable at {ADMIN_DSN}: {exc}")
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or the session's PostgreSQL with a bare schema."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'afterbeep.db'}"
    dsn: str = request.getfixturevalue("postgres_database")

    async def reset() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()

    asyncio.run(reset())
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def store(database_url: str, data_dir: Path) -> AsyncIterator[Store]:
    await upgrade_database(database_url)
    store = await Store.open(database_url, data_dir)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def caller() -> CallerInfo:
    return CallerInfo(
        caller_number="+15551234567",
        caller_name="Ada Lovelace",
        called_number="100",
        reason=DiversionReason.NO_ANSWER,
        call_id="a84b4c76e66710@pc33.example.com",
    )


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=dt.UTC)
