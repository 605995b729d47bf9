from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from afterbeep.store.db import make_engine
from afterbeep.store.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    upgrade_database,
)
from afterbeep.store.models import Base

TABLES = {"organizations", "mailboxes", "greetings", "messages", "missed_calls", "webhooks", "jobs"}


def _schema_diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_from_empty_matches_the_models(database_url: str) -> None:
    await upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert tables >= TABLES
            assert await conn.run_sync(_schema_diff) == []
            orgs = (await conn.execute(text("SELECT slug FROM organizations"))).scalars().all()
            assert orgs == ["default"]
    finally:
        await engine.dispose()


async def test_upgrade_twice_is_harmless(database_url: str) -> None:
    await upgrade_database(database_url)
    await upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(text("SELECT count(*) FROM organizations"))
            assert count == 1
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    await upgrade_database(database_url)
    engine = make_engine(database_url)

    def downgrade(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "base")

    try:
        async with engine.begin() as conn:
            await conn.run_sync(downgrade)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert not tables & TABLES
    finally:
        await engine.dispose()
    await upgrade_database(database_url)
