"""Whole-installation backup and restore, on SQLite and PostgreSQL and from one to the other."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import Table, select, update

from afterbeep.domain import CallerInfo, Codec, GreetingKind
from afterbeep.media import tones
from afterbeep.media.wav import encode_wav
from afterbeep.store import InvalidValue, Store, upgrade_database
from afterbeep.store import backup as backup_module
from afterbeep.store.backup import backup, restore
from afterbeep.store.migrate import head_revision
from afterbeep.store.models import Base, Organization
from afterbeep.store.retention import check

ADMIN_DSN = os.environ.get(
    "AFTERBEEP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
LEASE = dt.timedelta(minutes=5)

Installation = Callable[[str], Awaitable[Store]]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    """Where the tests write backups: apart from the installations' data folders."""
    folder = tmp_path / "backups"
    folder.mkdir()
    return folder


@pytest.fixture
async def installation(tmp_path: Path) -> AsyncIterator[Installation]:
    """Fresh installations, each with its own data folder: ``await installation("sqlite")``
    or ``await installation("postgresql")`` (a new database, dropped afterwards)."""
    stores: list[Store] = []
    databases: list[str] = []

    async def make(backend: str) -> Store:
        data = tmp_path / f"installation-{len(stores)}"
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{data / 'afterbeep.db'}"
        else:
            name = f"afterbeep_backup_{uuid.uuid4().hex[:12]}"
            try:
                await _admin(f'CREATE DATABASE "{name}"')
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                pytest.skip(f"PostgreSQL unreachable at {ADMIN_DSN}: {exc}")
            databases.append(name)
            server = ADMIN_DSN.replace("postgresql://", "postgresql+asyncpg://", 1)
            url = server.rsplit("/", 1)[0] + f"/{name}"
        await upgrade_database(url)
        store = await Store.open(url, data)
        stores.append(store)
        return store

    try:
        yield make
    finally:
        for store in stores:
            await store.close()
        for name in databases:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _fill(store: Store, caller: CallerInfo, now: dt.datetime) -> None:
    """Some of everything: settings, a PIN, a greeting, messages, a missed call, webhooks,
    an organization retention, and jobs delivered, running and pending."""
    await store.add_mailbox(
        "100", "Alice", pin="1234", emails="alice@example.com", language="de",
        timezone="Europe/Berlin", max_messages=50, audio_format="mp3", legal_hold=True,
    )  # fmt: skip
    await store.add_mailbox("150", "Gone")
    await store.remove_mailbox("150")  # ids with a gap: the next id is not max + 1 by luck
    await store.add_mailbox("200", "Bob", retention_days=30)
    async with store._session() as session:
        await session.execute(update(Organization).values(retention_days=90))
        await session.commit()
    await store.set_greeting("100", GreetingKind.UNAVAILABLE, encode_wav(None, tones.beep()))
    profile = await store.find_mailbox("100")
    assert profile is not None
    for index, codec in enumerate((Codec.PCMU, Codec.PCMA)):
        recording = store.start_recording(profile, caller, codec, now + dt.timedelta(minutes=index))
        recording.write(bytes((index * 7 + i) % 256 for i in range(8000 * 3)))
        message_id = await store.commit_recording(recording)
    await store.set_transcript(message_id, "Ruf mich zurück")
    await store.record_missed_call(profile, caller, now)
    await store.webhooks.add("https://example.com/alice", "100")
    await store.webhooks.add("https://example.com/everyone")
    # Three event jobs (two messages, one missed call): one delivered, one running, one pending.
    delivered = await store.jobs.claim(1, LEASE)
    assert await store.jobs.finish(delivered[0])
    assert len(await store.jobs.claim(1, LEASE)) == 1


async def _rows(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in a stable order (by primary key, compared as text)."""
    tables: dict[str, list[dict[str, Any]]] = {}
    async with store.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = [dict(row._mapping) for row in await conn.execute(select(table))]
            tables[table.name] = sorted(rows, key=lambda row: str(_key(table, row)))
    return tables


def _key(table: Table, row: dict[str, Any]) -> tuple[object, ...]:
    return tuple(row[column.name] for column in table.primary_key.columns)


def _expected(source: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """What a restore of ``source`` holds: undelivered jobs only, running ones unclaimed."""
    jobs = []
    for job in source["jobs"]:
        if job["status"] == "running":
            job = {**job, "status": "pending", "lock_token": None, "locked_until": None}
        if job["status"] == "pending":
            jobs.append(job)
    return {**source, "jobs": jobs}


async def _audio(store: Store) -> dict[str, bytes]:
    rows = await _rows(store)
    keys = [row["audio_key"] for row in rows["messages"] + rows["greetings"]]
    return {key: store.blobs.read(key) for key in keys}


async def _round_trip(source: Store, target: Store, archive: Path, caller: CallerInfo) -> None:
    before = await _rows(source)
    audio = await _audio(source)
    result = await backup(source, archive)
    assert result.skipped == 0
    assert result.files == len(audio) == 3
    assert result.tables == {name: len(rows) for name, rows in _expected(before).items()}
    assert [(p.name, p.stat().st_size) for p in _files(archive.parent)] == [
        (archive.name, result.bytes)
    ]  # the zip and nothing else: no partial, no temporary rows

    restored = await restore(target, archive)
    assert restored.tables == result.tables
    assert restored.files == 3
    assert await _rows(target) == _expected(before)
    assert await _audio(target) == audio  # byte for byte
    assert (await check(target)).consistent
    assert await target.verify_pin("100", "1234")

    # Undelivered notifications go out from the new installation; the running one too.
    pending = {job["key"] for job in _expected(before)["jobs"]}
    assert {job.key for job in await target.jobs.claim(10, LEASE)} == pending
    assert len(pending) == 2

    # New rows take fresh ids past the restored ones (PostgreSQL: the sequences moved on).
    after = await _rows(target)
    new_box = await target.add_mailbox("300", "Carol")
    assert new_box.id > max(row["id"] for row in after["mailboxes"])
    profile = await target.find_mailbox("300")
    assert profile is not None
    await target.record_missed_call(profile, caller, _NOW)
    webhook, _ = await target.webhooks.add("https://example.com/carol", "300")
    assert webhook.id > max(row["id"] for row in after["webhooks"])
    grown = await _rows(target)
    for name in ("missed_calls", "jobs", "webhooks", "mailboxes"):
        old_ids = {row["id"] for row in after[name]}
        new_ids = {row["id"] for row in grown[name]} - old_ids
        assert new_ids and min(new_ids) > max(old_ids), name


_NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


async def test_round_trip_into_a_fresh_installation(
    store: Store,
    installation: Installation,
    caller: CallerInfo,
    now: dt.datetime,
    backups: Path,
) -> None:
    await _fill(store, caller, now)
    archive = backups / "backup.zip"
    target = await installation(store.engine.dialect.name)
    await _round_trip(store, target, archive, caller)

    with zipfile.ZipFile(archive) as zipped:
        manifest = json.loads(zipped.read("manifest.json"))
        names = set(zipped.namelist())
        stored = {i.filename: i.compress_type for i in zipped.infolist()}
    assert manifest["format"] == "afterbeep-backup" and manifest["version"] == 1
    assert manifest["schema_revision"] == head_revision()
    assert manifest["backend"] == store.engine.dialect.name
    assert {f"tables/{t.name}.jsonl" for t in Base.metadata.sorted_tables} <= names
    audio = [name for name in names if name.startswith("audio/")]
    assert len(audio) == 3
    assert all(stored[name] == zipfile.ZIP_STORED for name in audio)


@pytest.mark.postgres
@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgresql"), ("postgresql", "sqlite")])
async def test_move_between_backends(
    installation: Installation,
    caller: CallerInfo,
    now: dt.datetime,
    backups: Path,
    source: str,
    target: str,
) -> None:
    old = await installation(source)
    await _fill(old, caller, now)
    new = await installation(target)
    await _round_trip(old, new, backups / "move.zip", caller)


async def test_restore_refuses_an_installation_in_use(
    store: Store, caller: CallerInfo, now: dt.datetime, backups: Path
) -> None:
    await _fill(store, caller, now)
    archive = backups / "backup.zip"
    await backup(store, archive)
    before = await _rows(store)
    files = _files(store.blobs.root)

    with pytest.raises(InvalidValue, match=r"not empty.*fresh data folder"):
        await restore(store, archive)
    assert await _rows(store) == before
    assert _files(store.blobs.root) == files


async def test_backup_is_one_snapshot_and_leaves_out_what_vanished_meanwhile(
    store: Store,
    installation: Installation,
    caller: CallerInfo,
    now: dt.datetime,
    backups: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _fill(store, caller, now)
    doomed, kept = [m.id for m in await store.list_messages("100")]
    dump_table = backup_module._dump_table
    changed = False

    async def dump_then_change(*args: Any) -> Any:
        # The service works on while the backup reads: after the first table, a message is
        # deleted, the greeting replaced (the old file deleted) and a mailbox added.
        nonlocal changed
        dump = await dump_table(*args)
        if not changed:
            changed = True
            await store.delete_message(doomed)
            await store.set_greeting("100", GreetingKind.UNAVAILABLE, encode_wav(None, b"\0" * 80))
            await store.add_mailbox("999", "Late")
        return dump

    monkeypatch.setattr(backup_module, "_dump_table", dump_then_change)
    archive = backups / "backup.zip"
    result = await backup(store, archive)
    assert changed
    # The snapshot still had the message and the old greeting; their audio was gone.
    assert result.skipped == 2
    assert (result.tables["messages"], result.tables["greetings"], result.files) == (1, 0, 1)
    assert result.tables["mailboxes"] == 2  # not the one added after the snapshot

    target = await installation(store.engine.dialect.name)
    await restore(target, archive)
    assert [m.id for m in await target.list_messages()] == [kept]
    assert [m.number for m in await target.list_mailboxes()] == ["100", "200"]
    report = await check(target)
    assert report.consistent and report.messages == 1


def _rewrite(
    source: Path,
    target: Path,
    change: Callable[[str, bytes], bytes | None] = lambda name, data: data,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """A copy of the zip ``source`` with each entry passed through ``change`` (None drops it)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info))
            if data is not None:
                new.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            new.writestr(name, data)
    return target


def _manifest(**changes: object) -> Callable[[str, bytes], bytes | None]:
    def change(name: str, data: bytes) -> bytes | None:
        if name != "manifest.json":
            return data
        return json.dumps({**json.loads(data), **changes}).encode()

    return change


def _table(table: str, edit: Callable[[list[bytes]], list[bytes]]) -> Callable[..., bytes | None]:
    def change(name: str, data: bytes) -> bytes | None:
        if name != f"tables/{table}.jsonl":
            return data
        return b"".join(edit(data.splitlines(keepends=True)))

    return change


def _set_column(table: str, column: str, value: object) -> Callable[..., bytes | None]:
    def edit(lines: list[bytes]) -> list[bytes]:
        return [(json.dumps({**json.loads(line), column: value}) + "\n").encode() for line in lines]

    return _table(table, edit)


def _drop(prefix: str) -> Callable[[str, bytes], bytes | None]:
    return lambda name, data: None if name.startswith(prefix) else data


async def test_damaged_and_foreign_files_are_refused_and_change_nothing(
    store: Store,
    installation: Installation,
    caller: CallerInfo,
    now: dt.datetime,
    backups: Path,
) -> None:
    await _fill(store, caller, now)
    good = backups / "backup.zip"
    await backup(store, good)
    target = await installation(store.engine.dialect.name)
    empty = await _rows(target)

    garbage = backups / "garbage.zip"
    garbage.write_bytes(b"this is not a backup")
    truncated = backups / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    bad = backups / "bad.zip"
    cases: list[tuple[Callable[[], Path], str]] = [
        (lambda: garbage, "not a zip file"),
        (lambda: truncated, "not a zip file"),
        (lambda: backups / "nowhere.zip", "cannot read"),
        (lambda: _rewrite(good, bad, _drop("manifest.json")), "no manifest.json"),
        (lambda: _rewrite(good, bad, _manifest(format="afterbeep-mailbox")), "not an afterbeep"),
        (lambda: _rewrite(good, bad, _manifest(version=2)), "version 2 backup"),
        (lambda: _rewrite(good, bad, _manifest(schema_revision="9999")), "newer afterbeep"),
        (lambda: _rewrite(good, bad, _manifest(tables=[])), "no valid table list"),
        (lambda: _rewrite(good, bad, _drop("tables/mailboxes")), "lacks tables/mailboxes"),
        (lambda: _rewrite(good, bad, _drop("audio/messages/")), "lacks audio/messages/"),
        # Damage found only after earlier tables went in: the transaction must roll them back.
        (
            lambda: _rewrite(good, bad, _table("messages", lambda ls: [b"{not json\n", *ls])),
            "messages.jsonl line 1 is not valid JSON",
        ),
        (
            lambda: _rewrite(good, bad, _table("messages", lambda ls: ls[:1])),
            "messages.jsonl has 1 rows, the manifest says 2",
        ),
        (
            lambda: _rewrite(good, bad, _set_column("missed_calls", "at", "yesterday")),
            "missed_calls.jsonl line 1: column at",
        ),
        (
            lambda: _rewrite(good, bad, _set_column("mailboxes", "max_messages", True)),
            "mailboxes.jsonl line 1: column max_messages",
        ),
    ]
    for make, message in cases:
        with pytest.raises(InvalidValue, match=message):
            await restore(target, make())
        assert await _rows(target) == empty, message
        assert _files(target.blobs.root) == [], message

    # Refused again and again, the installation is still fresh: the good backup goes in.
    assert (await restore(target, good)).files == 3


@pytest.mark.parametrize(
    "entry",
    ["audio/../../evil.wav", "audio//tmp/evil.wav", "audio/messages/1/../../../evil.wav",
     "audio/messages\\..\\..\\evil.wav"],
)  # fmt: skip
async def test_entries_escaping_the_audio_folder_are_refused(
    store: Store,
    installation: Installation,
    caller: CallerInfo,
    now: dt.datetime,
    backups: Path,
    entry: str,
) -> None:
    await _fill(store, caller, now)
    good = await _backup_of(store, backups)
    target = await installation(store.engine.dialect.name)
    evil = _rewrite(good, backups / "evil.zip", extra={entry: b"RIFF"})
    with pytest.raises(InvalidValue, match="outside the audio folder"):
        await restore(target, evil)
    assert "evil.wav" not in [p.name for p in _files(backups.parent)]
    assert await target.list_mailboxes() == []


async def test_oversized_audio_is_refused(
    store: Store,
    installation: Installation,
    caller: CallerInfo,
    now: dt.datetime,
    backups: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _fill(store, caller, now)
    good = await _backup_of(store, backups)
    target = await installation(store.engine.dialect.name)
    monkeypatch.setattr(backup_module, "MAX_ENTRY_BYTES", 1000)
    with pytest.raises(InvalidValue, match="too large"):
        await restore(target, good)
    assert await target.list_mailboxes() == []


async def test_backup_from_an_older_schema_takes_the_columns_both_have(
    store: Store,
    installation: Installation,
    caller: CallerInfo,
    now: dt.datetime,
    backups: Path,
) -> None:
    await _fill(store, caller, now)
    good = await _backup_of(store, backups)

    def older(lines: list[bytes]) -> list[bytes]:
        # legal_hold came later (its default is False); "email" went since.
        rows = [json.loads(line) for line in lines]
        return [
            (
                json.dumps({**{k: v for k, v in row.items() if k != "legal_hold"}, "email": ""})
                + "\n"
            ).encode()
            for row in rows
        ]

    old = _rewrite(good, backups / "old.zip", _table("mailboxes", older))
    old = _rewrite(old, backups / "old-0004.zip", _manifest(schema_revision="0004"))
    target = await installation(store.engine.dialect.name)
    result = await restore(target, old)
    assert result.tables["mailboxes"] == 2
    assert not (await target.get_mailbox("100")).legal_hold  # True at the source
    assert (await target.get_mailbox("100")).language == "de"


async def test_a_failed_backup_leaves_no_file(
    store: Store,
    caller: CallerInfo,
    now: dt.datetime,
    backups: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _fill(store, caller, now)

    def disk_full(*args: Any) -> set[int]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup_module, "_copy_audio", disk_full)
    archive = backups / "backup.zip"
    with pytest.raises(InvalidValue, match=r"cannot write .*No space left"):
        await backup(store, archive)
    assert _files(backups) == []  # no zip, partial or temporary rows

    with pytest.raises(InvalidValue, match="cannot write"):
        await backup(store, backups / "missing" / "backup.zip")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


async def _backup_of(store: Store, backups: Path) -> Path:
    archive = backups / "backup.zip"
    await backup(store, archive)
    return archive
