"""The whole installation as one zip file, taken while the service runs, restorable on either
backend (how an operator moves from the embedded SQLite to PostgreSQL).

Layout: ``manifest.json`` (format, version, the source's schema revision and backend, rows per
table), ``tables/<table>.jsonl`` (one JSON object per row, columns by name) and
``audio/<blob key>`` (the audio files exactly as stored).

Consistency: every table is read in one read-only snapshot transaction, then the audio of the
snapshot's messages and greetings is copied. A row whose audio vanished in between (deleted
meanwhile) is left out and counted, so a backup never holds rows without audio. Of the outbox
only undelivered jobs are kept.

Restore goes into an empty installation only, in one transaction; the audio is written before
the commit, so a crash leaves orphan files at worst, never rows without audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import shutil
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any, ParamSpec, TypeVar

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Table, delete, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from afterbeep.store.archive import MAX_ENTRY_BYTES
from afterbeep.store.blobs import FileBlobStore
from afterbeep.store.errors import InvalidValue, StoreError, Unavailable, describe
from afterbeep.store.migrate import alembic_config, current_revision, head_revision
from afterbeep.store.models import Base, StrEnumString, UTCDateTime, UUIDString, utcnow
from afterbeep.store.outbox import JobStatus
from afterbeep.store.repository import Store

FORMAT = "afterbeep-backup"
VERSION = 1
BATCH = 1000  # rows read or inserted at a time: a big table never sits in memory whole
MAX_LINE_BYTES = 16 * 1024 * 1024  # one row; a longer line is not ours
MAX_MANIFEST_BYTES = 1024 * 1024
AUDIO_PREFIX = "audio/"
# Undelivered notifications must survive a move; the history of delivered ones need not.
KEPT_JOBS = (JobStatus.PENDING.value, JobStatus.RUNNING.value)
# Tables the migrations fill in a fresh installation: the backup's rows replace theirs.
SEEDED = frozenset({"organizations"})

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BackupResult:
    tables: dict[str, int]  # rows written per table
    files: int  # audio files written
    skipped: int  # rows left out because their audio vanished after the snapshot
    bytes: int  # size of the zip file


@dataclass(frozen=True, slots=True)
class RestoreResult:
    tables: dict[str, int]  # rows inserted per table
    files: int  # audio files written


# -- backup -----------------------------------------------------------------------------------


async def backup(store: Store, path: Path) -> BackupResult:
    """Write the whole installation to the zip file ``path`` (via ``path.partial``)."""
    partial = path.with_name(path.name + ".partial")
    try:
        # Beside the backup: the rows need about as much room as the zip will, not in /tmp.
        work = Path(
            await asyncio.to_thread(tempfile.mkdtemp, prefix=".afterbeep-backup-", dir=path.parent)
        )
    except OSError as exc:
        raise InvalidValue(f"cannot write {path}: {describe(exc)}") from None
    try:
        revision, dumps = await _snapshot(store, work)
        written = await asyncio.to_thread(
            _write_archive, partial, path, store.blobs, dumps, revision, store.engine.dialect.name
        )
    except OSError as exc:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        raise InvalidValue(f"cannot write {path}: {describe(exc)}") from None
    except BaseException:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        raise
    finally:
        await asyncio.to_thread(shutil.rmtree, work, ignore_errors=True)
    return written


@dataclass(frozen=True, slots=True)
class _Dump:
    """A table's snapshot rows, as JSON lines in a temporary file."""

    table: Table
    path: Path
    rows: int


async def _revision(store: Store) -> str:
    try:
        revision = await current_revision(store.engine)
    except (SQLAlchemyError, OSError) as exc:
        raise Unavailable(f"database error: {describe(exc)}") from exc
    if revision is None:
        raise Unavailable("the database has no schema: run 'db upgrade'")
    return revision


async def _snapshot(store: Store, work: Path) -> tuple[str, list[_Dump]]:
    """The schema revision and every table, read in one snapshot, the rows into JSON-lines
    files under ``work``.

    A connection of its own, not ``store._session()``: the service's calls in this process
    must not wait for the whole backup (a snapshot read blocks no writer on either backend).
    """
    try:
        async with store.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                snapshot = await conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
                async with snapshot.begin():
                    return await _read_all(snapshot, work)
            # pysqlite starts a transaction before writes only, so each read would see its own
            # state; with WAL an explicit BEGIN holds one snapshot from the first read on.
            snapshot = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await snapshot.exec_driver_sql("BEGIN")
            try:
                return await _read_all(snapshot, work)
            finally:
                await snapshot.exec_driver_sql("ROLLBACK")
    except StoreError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        raise Unavailable(f"database error during the backup: {describe(exc)}") from exc


async def _read_all(conn: AsyncConnection, work: Path) -> tuple[str, list[_Dump]]:
    revision = await conn.run_sync(
        lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
    )
    if revision is None:
        raise Unavailable("the database has no schema: run 'db upgrade'")
    return revision, [await _dump_table(conn, table, work) for table in _tables()]


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)  # parents before children


async def _dump_table(conn: AsyncConnection, table: Table, work: Path) -> _Dump:
    query = select(table).order_by(*table.primary_key.columns)
    if table.name == "jobs":
        query = query.where(table.c.status.in_(KEPT_JOBS))
    path = work / f"{table.name}.jsonl"
    rows = 0
    out = await _temporary(path.open, "w", encoding="utf-8")
    try:
        result = await conn.stream(query)
        async for partition in result.partitions(BATCH):
            lines = [_encode_row(row._mapping) for row in partition]
            await _temporary(out.writelines, lines)
            rows += len(lines)
    finally:
        await _temporary(out.close)
    return _Dump(table, path, rows)


async def _temporary(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Work on the temporary rows, off the event loop; a full disk is not a database error."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except OSError as exc:
        raise InvalidValue(f"cannot write the backup's temporary files: {describe(exc)}") from None


def _encode_row(row: Any) -> str:
    obj = {str(name): _encode(value) for name, value in row.items()}
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def _encode(value: object) -> object:
    if isinstance(value, Enum):  # before str: a StrEnum is one
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        if value.utcoffset() is None:
            raise TypeError(f"naive datetime {value!r} in the database")
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    # A new column type needs its own case here and in _decoder.
    raise TypeError(f"cannot back up a value of type {type(value).__name__}")


def _write_archive(
    partial: Path,
    path: Path,
    blobs: FileBlobStore,
    dumps: list[_Dump],
    revision: str,
    backend: str,
) -> BackupResult:
    tables: dict[str, int] = {}
    copied: set[str] = set()
    skipped = 0
    with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
        for dump in dumps:
            dropped: set[int] = set()  # line numbers of rows whose audio is gone
            if "audio_key" in dump.table.c:
                dropped = _copy_audio(archive, blobs, dump.path, copied)
            skipped += len(dropped)
            tables[dump.table.name] = dump.rows - len(dropped)
            info = zipfile.ZipInfo(f"tables/{dump.table.name}.jsonl", _zip_time())
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = dump.path.stat().st_size  # at most: zipfile picks zip64 from it
            with dump.path.open("rb") as rows, archive.open(info, "w") as out:
                for number, line in enumerate(rows):
                    if number not in dropped:
                        out.write(line)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": utcnow().isoformat(),
            "schema_revision": revision,
            "backend": backend,
            "tables": tables,
        }
        archive.writestr(
            "manifest.json",
            json.dumps(manifest, indent=2, ensure_ascii=False),
            compress_type=zipfile.ZIP_DEFLATED,
        )
    with partial.open("rb") as done:
        os.fsync(done.fileno())
    partial.replace(path)  # a half-written backup never has the final name
    return BackupResult(tables, len(copied), skipped, path.stat().st_size)


def _copy_audio(
    archive: zipfile.ZipFile, blobs: FileBlobStore, rows: Path, copied: set[str]
) -> set[int]:
    """Copy the audio the rows in ``rows`` name; the line numbers of rows whose audio is gone."""
    dropped: set[int] = set()
    with rows.open("rb") as lines:
        for number, line in enumerate(lines):
            key = str(json.loads(line)["audio_key"])
            if key in copied:
                continue
            try:
                source = blobs.path(key).open("rb")
            except FileNotFoundError:  # deleted after the snapshot: so is its row, by now
                dropped.add(number)
                continue
            except OSError as exc:
                raise Unavailable(f"cannot read audio {key}: {describe(exc)}") from None
            with source:
                info = zipfile.ZipInfo(AUDIO_PREFIX + key, _zip_time())
                info.compress_type = zipfile.ZIP_STORED  # G.711 barely compresses
                info.file_size = os.fstat(source.fileno()).st_size
                with archive.open(info, "w") as out:
                    shutil.copyfileobj(source, out, 1024 * 1024)
            copied.add(key)
    return dropped


def _zip_time() -> tuple[int, int, int, int, int, int]:
    now = dt.datetime.now()  # zip stores local wall-clock time
    return (now.year, now.month, now.day, now.hour, now.minute, now.second)


# -- restore ----------------------------------------------------------------------------------


async def restore(store: Store, path: Path) -> RestoreResult:
    """Load a backup into this installation, which must be empty (its schema at head)."""
    if await _revision(store) != head_revision():
        raise Unavailable("the database schema is not current: run 'db upgrade' first")
    backup_file = await asyncio.to_thread(_BackupFile.open, path, store.blobs)
    written: list[str] = []
    counts: dict[str, int] = {}
    committing = False
    try:
        async with store._session() as session:
            conn = await session.connection()
            await _check_empty(conn)
            keys: list[str] = []
            for table in _tables():
                if table.name in backup_file.tables:
                    counts[table.name] = await _insert_table(conn, backup_file, table, keys)
            # Audio first, rows second: a crash in between leaves orphan files at worst.
            await asyncio.to_thread(backup_file.write_audio, keys, store.blobs, written)
            if conn.dialect.name == "postgresql":
                await _advance_sequences(conn)
            committing = True
            await session.commit()
    except BaseException:
        if not committing:
            await store._delete_blobs(written)
        raise
    finally:
        await asyncio.to_thread(backup_file.close)
    store._profiles.clear()
    store._default_organization_id = None  # the backup's organizations replaced the seeded one
    return RestoreResult(counts, len(written))


async def _check_empty(conn: AsyncConnection) -> None:
    used = []
    for table in _tables():
        if table.name in SEEDED:
            continue
        if await conn.scalar(select(*table.primary_key.columns).limit(1)) is not None:
            used.append(table.name)
    if used:
        raise InvalidValue(
            f"this installation is not empty (it has {', '.join(used)}): restore into a "
            "fresh data folder and a new, empty database"
        )


async def _insert_table(
    conn: AsyncConnection, backup_file: _BackupFile, table: Table, keys: list[str]
) -> int:
    """Insert the table's rows in batches; the audio keys they name are added to ``keys``."""
    if table.name in SEEDED:
        await conn.execute(delete(table))
    rows = backup_file.rows(table)
    count = 0
    while batch := await asyncio.to_thread(next, rows, None):
        if "audio_key" in table.c:
            keys.extend(backup_file.audio_for(table, batch))
        if table.name == "jobs":
            batch = [_unclaimed(row) for row in batch]
        await conn.execute(insert(table), batch)
        count += len(batch)
    expected = backup_file.tables[table.name]
    if count != expected:
        raise InvalidValue(
            f"{backup_file.path}: tables/{table.name}.jsonl has {count} rows, "
            f"the manifest says {expected}"
        )
    return count


def _unclaimed(row: dict[str, Any]) -> dict[str, Any]:
    """A job that was running when the backup was taken: due again, claimed by nobody."""
    if row.get("status") != JobStatus.RUNNING.value:
        return row
    return {**row, "status": JobStatus.PENDING.value, "lock_token": None, "locked_until": None}


async def _advance_sequences(conn: AsyncConnection) -> None:
    """Rows came with their ids: the next id a sequence hands out must be past them."""
    quote = conn.dialect.identifier_preparer.quote
    for table in _tables():
        for column in table.primary_key.columns:
            if column.autoincrement is False or column.type.python_type is not int:
                continue
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f"coalesce(max({quote(column.name)}), 1), max({quote(column.name)}) "
                    f"IS NOT NULL) FROM {quote(table.name)}"
                ),
                {"table": table.name, "column": column.name},
            )


class _BackupFile:
    """An opened backup whose manifest, table files and audio entries were checked."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, manifest: dict[str, Any]) -> None:
        self.path = path
        self.archive = archive
        self.manifest = manifest
        self.tables: dict[str, int] = manifest["tables"]
        self.audio: dict[str, zipfile.ZipInfo] = {}

    @classmethod
    def open(cls, path: Path, blobs: FileBlobStore) -> _BackupFile:
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise InvalidValue(f"{path} is not a zip file (or it was cut short)") from None
        except OSError as exc:
            raise InvalidValue(f"cannot read {path}: {describe(exc)}") from None
        try:
            opened = cls(path, archive, _read_manifest(path, archive))
            opened._check_entries(blobs)
        except BaseException:
            archive.close()
            raise
        return opened

    def close(self) -> None:
        self.archive.close()

    def _check_entries(self, blobs: FileBlobStore) -> None:
        names = set(self.archive.namelist())
        for name in self.tables:
            if name in Base.metadata.tables and f"tables/{name}.jsonl" not in names:
                raise InvalidValue(f"{self.path} lacks tables/{name}.jsonl: it is incomplete")
        for info in self.archive.infolist():
            if not info.filename.startswith(AUDIO_PREFIX) or info.is_dir():
                continue
            key = info.filename.removeprefix(AUDIO_PREFIX)
            if not _safe_key(key, blobs):
                raise InvalidValue(
                    f"{self.path}: refusing entry {info.filename!r}: "
                    "it would be written outside the audio folder"
                )
            if info.file_size > MAX_ENTRY_BYTES:
                raise InvalidValue(
                    f"{self.path}: {info.filename} is too large ({info.file_size} bytes)"
                )
            self.audio[key] = info

    def rows(self, table: Table) -> Iterator[list[dict[str, Any]]]:
        """The table's rows in batches, converted to the column types of this schema."""
        name = f"tables/{table.name}.jsonl"
        where = f"{self.path}: {name}"
        decoders: dict[str, Callable[[Any], Any]] | None = None
        with _reading(self.path), self.archive.open(name) as raw:
            batch: list[dict[str, Any]] = []
            for number in itertools.count(1):
                line = raw.readline(MAX_LINE_BYTES + 1)
                if not line:
                    break
                if len(line) > MAX_LINE_BYTES:
                    raise InvalidValue(f"{where} line {number} is too long")
                obj = _json_object(line, f"{where} line {number}")
                if decoders is None:
                    # The columns both the backup and this schema have: one dropped since is
                    # ignored, one added since takes its default.
                    decoders = {c.name: _decoder(c) for c in table.columns if c.name in obj}
                batch.append(_decode_row(obj, decoders, f"{where} line {number}"))
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch

    def audio_for(self, table: Table, rows: list[dict[str, Any]]) -> list[str]:
        keys = [str(row["audio_key"]) for row in rows]
        for key in keys:
            if key not in self.audio:
                raise InvalidValue(f"{self.path} lacks audio/{key} that {table.name} names")
        return keys

    def write_audio(self, keys: list[str], blobs: FileBlobStore, written: list[str]) -> None:
        """Write the audio ``keys`` name into ``blobs``, each key added to ``written``."""
        for key in keys:
            with _reading(self.path):
                data = self.archive.read(self.audio[key])  # its CRC is checked
            try:
                blobs.write(key, data)
            except OSError as exc:
                raise Unavailable(f"cannot write audio {key}: {describe(exc)}") from None
            written.append(key)


def _read_manifest(path: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        info = archive.getinfo("manifest.json")
    except KeyError:
        raise InvalidValue(f"{path} has no manifest.json: it is not an afterbeep backup") from None
    if info.file_size > MAX_MANIFEST_BYTES:
        raise InvalidValue(f"{path}: manifest.json is too large")
    with _reading(path):
        manifest = _json_object(archive.read(info), f"{path}: manifest.json")
    if manifest.get("format") != FORMAT:
        raise InvalidValue(f"{path} is not an afterbeep backup")
    if manifest.get("version") != VERSION:
        raise InvalidValue(
            f"{path} is a version {manifest.get('version')!r} backup; "
            f"this afterbeep reads version {VERSION}"
        )
    tables = manifest.get("tables")
    if not isinstance(tables, dict) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in tables.values()
    ):
        raise InvalidValue(f"{path}: manifest.json has no valid table list")
    revision = manifest.get("schema_revision")
    if revision not in _known_revisions():
        raise InvalidValue(
            f"{path} comes from a newer afterbeep (database schema {revision!r}, this one "
            f"knows up to {head_revision()!r}): restore it with that version or a later one"
        )
    return manifest


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory  # only restore needs the migration scripts

    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def _safe_key(key: str, blobs: FileBlobStore) -> bool:
    """A blob key that names a file inside the blob root (no ``..``, not absolute)."""
    if not key or "\\" in key or "\0" in key or PurePosixPath(key).is_absolute():
        return False
    if any(part in ("", ".", "..") for part in key.split("/")):
        return False
    try:
        blobs.path(key)  # the store's own check, symbolic links included
    except InvalidValue:
        return False
    return True


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Damage found while reading (a bad CRC, a cut-off entry) as InvalidValue."""
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InvalidValue(f"{path} is damaged: {exc}") from None
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {describe(exc)}") from None


def _json_object(data: bytes, where: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except ValueError:
        raise InvalidValue(f"{where} is not valid JSON") from None
    if not isinstance(obj, dict):
        raise InvalidValue(f"{where} is not a JSON object")
    return obj


def _decode_row(
    obj: dict[str, Any], decoders: dict[str, Callable[[Any], Any]], where: str
) -> dict[str, Any]:
    row = {}
    for name, decode in decoders.items():
        if name not in obj:
            raise InvalidValue(f"{where} lacks the column {name}")
        value = obj[name]
        try:
            row[name] = None if value is None else decode(value)
        except (TypeError, ValueError) as exc:
            raise InvalidValue(f"{where}: column {name}: {exc}") from None
    return row


def _decoder(column: Column[Any]) -> Callable[[Any], Any]:
    """JSON value → the Python value the column's type takes (the inverse of _encode)."""
    kind = column.type
    if isinstance(kind, UUIDString):
        return lambda value: uuid.UUID(_typed(value, str))
    if isinstance(kind, StrEnumString):
        enum = kind.enum
        return lambda value: enum(_typed(value, str))
    if isinstance(kind, UTCDateTime) or kind.python_type is dt.datetime:
        return _timestamp
    python_type = kind.python_type
    if python_type is float:
        return lambda value: float(_typed(value, int | float))
    if python_type in (bool, int, str):
        return lambda value: _typed(value, python_type)
    raise TypeError(f"no backup decoding for {column} ({kind!r})")


def _typed(value: Any, kind: Any) -> Any:
    # JSON true is not an integer here, though Python's bool is one.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise TypeError(f"expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _timestamp(value: Any) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(_typed(value, str))
    if parsed.utcoffset() is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return parsed
