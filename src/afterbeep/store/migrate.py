"""Alembic, driven from code: no alembic.ini, works from an installed (non-editable) package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from afterbeep.store.db import make_engine
from afterbeep.store.errors import StoreError, Unavailable, describe

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Any constant will do: it only has to be the same on every node upgrading one database.
_PG_UPGRADE_LOCK = 0x61667465  # "afte"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # The option goes through ConfigParser interpolation: a '%' in a password must be doubled.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade_database(url: str) -> None:
    """Bring the database at ``url`` to the newest schema; cheap when it is already there."""
    engine = make_engine(url)
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()


async def upgrade_engine(engine: AsyncEngine) -> None:
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade)
    except StoreError:
        raise
    except Exception as exc:
        raise Unavailable(f"cannot upgrade the database: {describe(exc)}") from exc


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Nodes starting together must not run the same migration twice; the lock ends with
        # the transaction.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_UPGRADE_LOCK})
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
