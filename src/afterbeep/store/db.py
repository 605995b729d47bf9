"""The async engine: SQLite in the data folder by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from afterbeep.store.errors import InvalidValue

# Users type the plain scheme; the store only runs on the async drivers.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}

_SQLITE_PRAGMAS = (
    # WAL lets the web UI read while a call commits a message.
    "PRAGMA journal_mode=WAL",
    # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless asked, per connection.
    "PRAGMA foreign_keys=ON",
    # Wait for a concurrent writer instead of failing at once with "database is locked".
    "PRAGMA busy_timeout=5000",
    # Safe with WAL: a power loss may drop the last commits, never corrupt the file.
    "PRAGMA synchronous=NORMAL",
)


def parse_database_url(url: str) -> URL:
    """The URL with its async driver, or ``InvalidValue`` saying what is accepted."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidValue(f"invalid database URL {url!r}") from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise InvalidValue(
            f"unsupported database URL scheme {parsed.drivername!r}: use "
            "sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user@host/dbname"
        )
    return parsed.set(drivername=driver)


def make_engine(url: str) -> AsyncEngine:
    parsed = parse_database_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.drivername.startswith("postgresql"):
        kwargs.update(
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,  # survive a PostgreSQL restart or an idle-connection reaper
            pool_recycle=1800,
            connect_args={"server_settings": {"application_name": "afterbeep"}},
        )
    else:
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_async_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError) as exc:
        shown = parsed.render_as_string(hide_password=True)
        raise InvalidValue(f"cannot use database URL {shown!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def _set_sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()
