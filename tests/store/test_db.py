from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from afterbeep.store.db import make_engine, parse_database_url
from afterbeep.store.errors import InvalidValue
from afterbeep.store.migrate import upgrade_database
from afterbeep.store.models import MissedCall


@pytest.mark.parametrize(
    "url", ["not a url", "mysql+aiomysql://u@h/db", "sqlite+pysqlite:///x.db", "oracle://h/db"]
)
def test_a_bad_url_is_refused_clearly(url: str) -> None:
    with pytest.raises(InvalidValue, match="database URL"):
        make_engine(url)


def test_plain_schemes_get_the_async_driver() -> None:
    assert parse_database_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert parse_database_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"


async def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "folder" / "afterbeep.db"
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    try:
        assert db.parent.is_dir()  # created for the file
        async with engine.connect() as conn:
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert await conn.scalar(text("PRAGMA busy_timeout")) == 5000
            assert await conn.scalar(text("PRAGMA synchronous")) == 1  # NORMAL
    finally:
        await engine.dispose()


async def test_times_come_back_timezone_aware_utc(database_url: str) -> None:
    """A time given in any zone is stored as UTC and read back aware, on both backends."""
    await upgrade_database(database_url)
    engine = make_engine(database_url)
    paris = dt.timezone(dt.timedelta(hours=1))
    at = dt.datetime(2026, 1, 2, 13, 4, 5, 678000, tzinfo=paris)
    try:
        async with engine.begin() as conn:
            mailbox_id = (
                await conn.execute(
                    text(
                        "INSERT INTO mailboxes (organization_id, number, name) "
                        "VALUES (1, '100', 'A') RETURNING id"
                    )
                )
            ).scalar_one()
            await conn.execute(
                insert(MissedCall).values(
                    mailbox_id=mailbox_id,
                    caller_number="1",
                    caller_name="",
                    called_number="100",
                    reason="busy",
                    at=at,
                    call_id="x",
                )
            )
            stored = await conn.scalar(select(MissedCall.at))
        assert stored == at
        assert stored.tzinfo is dt.UTC
        assert stored.hour == 12
    finally:
        await engine.dispose()


async def test_a_naive_time_is_refused(database_url: str) -> None:
    await upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            with pytest.raises(Exception, match="naive datetime"):
                await conn.execute(
                    insert(MissedCall).values(
                        mailbox_id=1,
                        caller_number="1",
                        caller_name="",
                        called_number="100",
                        reason="busy",
                        at=dt.datetime(2026, 1, 1),
                        call_id="x",
                    )
                )
    finally:
        await engine.dispose()
