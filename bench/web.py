"""Web API latency with a big mailbox: list a page, first byte of audio, search.

One mailbox holds N messages (default 100,000), bulk-inserted straight into the ``messages``
table (all pointing at one 30 s G.711 WAV); the web app is then served over loopback HTTP by
its own process (uvicorn inside the store's event loop, as ``afterbeep serve`` does) and a
synchronous httpx client in this process sends the requests one at a time, with an API token:

* list: ``GET /api/v1/mailboxes/1001/messages?limit=50``: page 1, and a random one of pages
  13, 17, … 97 by a ``cursor`` found by following ``next_cursor`` from page 1; of all messages
  and of ``folder=new``;
* audio: ``GET /api/v1/messages/<random id>/audio``: time to the first body byte;
* search: ``GET /api/v1/mailboxes/1001/messages?q=<word>&limit=50``: words in many messages
  (transcript words, caller names), a word in few, and words in none (the whole mailbox scanned).

    python -m bench.web [--messages 100000] [--backend sqlite|postgresql|both] [--requests 300]
                        [--max-seconds 10] [--sql-times]

A row stops after ``--max-seconds`` (never before 20 requests), so that slow requests do not
stretch the run past a few minutes. ``--sql-times`` adds the server's time per SQL statement.

Targets (p95, each backend): listing a page ≤ 20 ms, first byte of audio ≤ 50 ms,
search ≤ 100 ms. PostgreSQL runs in a throw-away database on 127.0.0.1:5432 (dropped after).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import random
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.common import (
    CPU_COUNT,
    HOST,
    REPO,
    invocation,
    make_workdir,
    proc_usage,
    stop_process,
    table,
)

NUMBER = "1001"
PAGE = 50
WARMUP = 5
DEEP_FIRST, DEEP_LAST = 10, 100  # the pages "deep" listings pick from
WALK_LIMIT = 200  # messages a step when walking to the deep pages' cursors
MIN_REQUESTS = 20  # measured per row even past --max-seconds
AUDIO_IDS = 2000  # random message ids kept for the audio requests
TARGET_MS = {"list": 20.0, "audio": 50.0, "search": 100.0}
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

# What the messages say: transcripts are random words of VOCABULARY; RARE is in one message in
# RARE_EVERY; MISSES are in none (nor in any name or number).
VOCABULARY = (
    "about", "account", "address", "after", "again", "appointment", "back", "bank", "before",
    "bill", "call", "calling", "callback", "card", "change", "check", "confirm", "contract",
    "could", "delivery", "dentist", "doctor", "email", "evening", "friday", "give", "hello",
    "help", "home", "hope", "insurance", "invoice", "just", "know", "later", "leave", "let",
    "letter", "line", "looking", "meeting", "message", "monday", "morning", "need", "next",
    "number", "office", "order", "package", "payment", "phone", "please", "prescription",
    "quick", "question", "ready", "reminder", "reply", "report", "return", "right", "schedule",
    "school", "second", "service", "should", "soon", "speak", "still", "thanks", "thursday",
    "ticket", "today", "tomorrow", "tuesday", "update", "urgent", "visit", "wanted",
    "wednesday", "week", "weekend", "when", "work", "would", "yesterday",
)  # fmt: skip
FIRST_NAMES = (
    "Alice", "Bruno", "Carmen", "Dmitri", "Elena", "Farid", "Grace", "Hiroshi", "Ingrid",
    "Jamal", "Keiko", "Lars", "Maria", "Nikos", "Olga", "Pedro", "Quinn", "Rosa", "Samir",
    "Tamara", "Umar", "Vera", "Walter", "Yusuf",
)  # fmt: skip
LAST_NAMES = (
    "Andersen", "Becker", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvath",
    "Ivanova", "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Petrov",
    "Quintero", "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Weber", "Zhang",
)  # fmt: skip
RARE = "zeppelin"
RARE_EVERY = 2500
MISSES = ("qwxzv", "xylophonist", "kumquatbrew")
HIT_WORDS = (
    "invoice", "tomorrow", "dentist", "meeting", "package", "insurance",
    "Okafor", "Tanaka", "Castillo", "Ingrid", "Hiroshi", "Walter",
)  # fmt: skip
FOLDERS = ("new", "old", "saved")
FOLDER_WEIGHTS = (20, 50, 30)


# ---- the data ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Built:
    token: str
    audio_ids: list[str]
    audio_bytes: int
    load_seconds: float
    rows: int
    rare_hits: int
    new_messages: int
    size_note: str
    analyzed: bool


def _rows(
    rng: random.Random, mailbox_id: int, key: str, start: int, count: int, now: dt.datetime
) -> tuple[list[dict[str, Any]], int]:
    """``count`` message rows and how many of them say RARE."""
    from afterbeep.domain import Codec, DiversionReason
    from afterbeep.store.models import search_text

    reasons = list(DiversionReason)
    rows: list[dict[str, Any]] = []
    rare = 0
    for number in range(start, start + count):
        received = now - dt.timedelta(seconds=rng.uniform(0, 365 * 86400))
        folder = rng.choices(FOLDERS, FOLDER_WEIGHTS)[0]
        transcript = None
        if rng.random() < 0.7 or number % RARE_EVERY == RARE_EVERY // 2:
            words = rng.choices(VOCABULARY, k=rng.randint(8, 40))
            if number % RARE_EVERY == RARE_EVERY // 2:
                words.insert(rng.randrange(len(words) + 1), RARE)
                rare += 1
            transcript = " ".join(words).capitalize() + "."
        caller_number = f"+1202{rng.randrange(10_000_000):07d}"
        caller_name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        rows.append(
            {
                "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                "mailbox_id": mailbox_id,
                "folder": folder,
                "caller_number": caller_number,
                "caller_name": caller_name,
                "called_number": NUMBER,
                "reason": rng.choice(reasons),
                "received_at": received,
                "duration_seconds": round(rng.uniform(2, 120), 2),
                "audio_key": key,
                "codec": Codec.PCMU,
                "urgent": rng.random() < 0.02,
                "heard_at": None if folder == "new" else received + dt.timedelta(hours=2),
                "call_id": f"{uuid.UUID(int=rng.getrandbits(128)).hex}@bench.example",
                "transcript": transcript,
                # Bulk INSERTs skip the ORM hook that fills it for the service.
                "search_text": search_text(caller_name, caller_number, transcript),
            }
        )
    return rows, rare


async def build(
    url: str, data_dir: Path, messages: int, batch: int, seed: int, analyze: bool
) -> Built:
    """Mailbox 1001 with ``messages`` messages, its owner (an organization admin) and a
    token; the message rows go in with bulk INSERTs, ``batch`` rows a transaction."""
    from sqlalchemy import insert, text

    from afterbeep.domain import Codec
    from afterbeep.media.wav import encode_wav
    from afterbeep.store import Store, upgrade_database
    from afterbeep.store.models import Message

    await upgrade_database(url)
    store = await Store.open(url, data_dir)
    try:
        await store.add_mailbox(NUMBER, "Bench")
        user = await store.accounts.add_user(
            "admin@bench.example", "Admin", "benchmark-password", "admin"
        )
        await store.accounts.set_owner(NUMBER, user.id)
        _record, token = await store.accounts.create_token(user.id, "bench")
        mailbox = await store.get_mailbox(NUMBER)
        key = f"messages/{mailbox.id}/bench.wav"
        wav = encode_wav(Codec.PCMU, b"\xff" * 240_000)  # 30 s of µ-law silence
        await asyncio.to_thread(store.blobs.write, key, wav)

        messages_table = Message.metadata.tables[Message.__tablename__]  # Message.__table__
        rng = random.Random(seed)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        ids: list[str] = []
        rare = new = 0
        started = time.perf_counter()
        for start in range(0, messages, batch):
            rows, found = _rows(rng, mailbox.id, key, start, min(batch, messages - start), now)
            rare += found
            new += sum(1 for row in rows if row["folder"] == "new")
            ids.extend(str(row["id"]) for row in rows)
            async with store.engine.begin() as connection:
                await connection.execute(insert(messages_table), rows)
        load_seconds = time.perf_counter() - started
        if analyze:
            # On PostgreSQL what autovacuum does within a minute or so of such a load: planner
            # statistics, and the visibility map that lets index-only scans skip the table.
            async with store.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                postgres = store.engine.dialect.name == "postgresql"
                await autocommit.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))
        if store.engine.dialect.name == "postgresql":
            async with store.engine.connect() as connection:
                size = await connection.scalar(
                    text("SELECT pg_size_pretty(pg_total_relation_size('messages'))")
                )
            size_note = f"messages table with indexes: {size}"
        else:
            database = Path(store.engine.url.database or "")
            size = sum(p.stat().st_size for p in database.parent.glob(database.name + "*"))
            size_note = f"database files: {size / 1e6:.0f} MB"
    finally:
        await store.close()
    return Built(
        token=token,
        audio_ids=random.Random(seed + 1).sample(ids, min(AUDIO_IDS, len(ids))),
        audio_bytes=len(wav),
        load_seconds=load_seconds,
        rows=len(ids),
        rare_hits=rare,
        new_messages=new,
        size_note=size_note,
        analyzed=analyze,
    )


async def create_database(admin_url: str) -> str:
    name = f"afterbeep_bench_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(admin_url, timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name


async def drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url, timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def database_url(admin_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


# ---- the server (its own process: python -m bench.web --serve URL DATA_DIR) --------------------


def _time_statements(engine: Any, stats: dict[str, list[float]]) -> None:
    """Sum each SQL statement's count and time (driver call, rows fetched) into ``stats``."""
    from sqlalchemy import event

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        elapsed = time.perf_counter() - conn.info["bench_started"].pop()
        entry = stats.setdefault(statement, [0, 0.0])
        entry[0] += 1
        entry[1] += elapsed

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)


async def serve(url: str, data_dir: Path, sql_times: bool) -> None:
    """Serve the web app; print ``port N``, then answer ``stats`` lines on stdin (the SQL
    statement times since the last ones, as JSON) until ``quit`` or end of input."""
    from afterbeep.store import Store
    from afterbeep.web.app import create_app
    from afterbeep.web.context import WebContext
    from afterbeep.web.live import Hub
    from afterbeep.web.server import WebServer

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    store = await Store.open(url, data_dir)
    stats: dict[str, list[float]] = {}
    if sql_times:
        _time_statements(store.engine, stats)
    hub = Hub()
    server = WebServer(create_app(WebContext(store, hub)))
    try:
        await server.start(HOST, 0)
        print(f"port {server.port}", flush=True)
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line or line.strip() == "quit":
                break
            if line.strip() == "stats":
                print(json.dumps(stats), flush=True)
                stats.clear()
    finally:
        hub.close()
        await server.close()
        await store.close()


@dataclass(slots=True)
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def command(self, line: str, timeout: float = 30.0) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()
        return _read_line(self.process, timeout)

    def sql_stats(self) -> dict[str, list[float]]:
        result: dict[str, list[float]] = json.loads(self.command("stats"))
        return result

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError(f"the server process said nothing in {timeout:g} s")
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the server process ended (exit status {process.poll()})")
    return line.decode().strip()


@contextlib.contextmanager
def serving(url: str, data_dir: Path, log_path: Path, sql_times: bool) -> Iterator[ServerProcess]:
    command = [sys.executable, "-m", "bench.web", "--serve", url, str(data_dir)]
    if sql_times:
        command.append("--sql-times")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=REPO
        )
    try:
        try:
            line = _read_line(process, 60)
        except RuntimeError as exc:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{exc}; its log:\n{tail}") from None
        if not line.startswith("port "):
            raise RuntimeError(f"unexpected line from the server process: {line!r}")
        yield ServerProcess(process, int(line.split()[1]), log_path)
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.write(b"quit\n")
            process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    finally:
        stop_process(process)
        if process.stdout is not None:
            process.stdout.close()


# ---- the client --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    path: str
    params: dict[str, str | int] = field(default_factory=dict)
    audio: bool = False  # stream it; time the first body byte
    expect_items: int | None = None  # a page should hold exactly this many


@dataclass(slots=True)
class Kind:
    name: str
    target: str  # a key of TARGET_MS; another: a reference row, no target
    make: Callable[[random.Random], Call]
    note: str = ""


@dataclass(slots=True)
class Row:
    backend: str
    kind: Kind
    times: list[float]  # seconds
    server_cpu: float  # seconds, all the requests
    sql: dict[str, list[float]]
    wall: float

    @property
    def p95_ms(self) -> float:
        return 1000 * percentile(self.times, 0.95)

    @property
    def met(self) -> bool | None:
        target = TARGET_MS.get(self.kind.target)
        return None if target is None else self.p95_ms <= target


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


class Client:
    """A synchronous keep-alive HTTP client that notes every odd answer."""

    def __init__(self, port: int, token: str, audio_bytes: int) -> None:
        import httpx

        self.http = httpx.Client(
            base_url=f"http://{HOST}:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        self.audio_bytes = audio_bytes
        self.problems: list[str] = []

    def close(self) -> None:
        self.http.close()

    def _problem(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)

    def page(self, path: str, params: dict[str, str | int]) -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        response = self.http.get(path, params=params)
        elapsed = time.perf_counter() - started
        if not response.is_success:
            self._problem(f"{response.status_code} GET {response.url}: {response.text[:300]}")
            return elapsed, {}
        if not response.headers.get("content-type", "").startswith("application/json"):
            return elapsed, {}
        body: dict[str, Any] = response.json()
        return elapsed, body

    def first_byte(self, path: str) -> float:
        started = time.perf_counter()
        with self.http.stream("GET", path) as response:
            chunks = response.iter_bytes()
            first = next(chunks, b"")
            elapsed = time.perf_counter() - started
            size = len(first) + sum(len(chunk) for chunk in chunks)
        if not response.is_success:
            self._problem(f"{response.status_code} GET {response.url}")
        elif size != self.audio_bytes:
            self._problem(f"GET {response.url}: {size} bytes, expected {self.audio_bytes}")
        return elapsed

    def run(self, call: Call) -> float:
        if call.audio:
            return self.first_byte(call.path)
        elapsed, body = self.page(call.path, call.params)
        items = body.get("items")
        if body and call.expect_items is not None and len(items or ()) != call.expect_items:
            query = "&".join(f"{k}={v}" for k, v in call.params.items())
            self._problem(
                f"GET {call.path}?{query}: {len(items or ())} items, expected {call.expect_items}"
            )
        return elapsed

    def walk(self, path: str, params: dict[str, str | int], seconds: float) -> dict[int, str]:
        """{page number: its cursor} for pages of PAGE messages up to page DEEP_LAST, found by
        following ``next_cursor`` from the first page, WALK_LIMIT messages a step (every
        WALK_LIMIT // PAGE pages a cursor), for at most ``seconds``."""
        step = WALK_LIMIT // PAGE
        cursors: dict[int, str] = {}
        cursor: str | None = None
        page = 1
        deadline = time.monotonic() + seconds
        while page + step <= DEEP_LAST and time.monotonic() < deadline:
            query = {**params, "limit": WALK_LIMIT, **({"cursor": cursor} if cursor else {})}
            _, body = self.page(path, query)
            cursor = body.get("next_cursor")
            if not cursor:
                break
            page += step
            cursors[page] = cursor
        return cursors


def kinds(client: Client, built: Built, seconds: float) -> list[Kind]:
    path = f"/api/v1/mailboxes/{NUMBER}/messages"
    every: dict[str, str | int] = {"limit": PAGE}
    new: dict[str, str | int] = {"limit": PAGE, "folder": "new"}
    all_cursors = client.walk(path, every, seconds)
    new_cursors = client.walk(path, new, seconds)

    def deep(params: dict[str, str | int], cursors: dict[int, str], total: int) -> Kind:
        pages = [page for page in cursors if page >= DEEP_FIRST] or sorted(cursors)[-1:] or [1]

        def make(rng: random.Random) -> Call:
            page = rng.choice(pages)
            cursor = {"cursor": cursors[page]} if page in cursors else {}
            expected = min(PAGE, total - (page - 1) * PAGE)
            return Call(path, {**params, **cursor}, expect_items=expected)

        label = "folder=new " if "folder" in params else ""
        span = f"{pages[0]}-{pages[-1]}" if len(pages) > 1 else str(pages[0])
        return Kind(f"list {label}pages {span}", "list", make)

    def first_page(params: dict[str, str | int], total: int) -> Kind:
        label = "folder=new " if "folder" in params else ""
        call = Call(path, params, expect_items=min(PAGE, total))
        return Kind(f"list {label}page 1", "list", lambda rng: call)

    def search(words: tuple[str, ...], expect: int | None) -> Callable[[random.Random], Call]:
        return lambda rng: Call(path, {"q": rng.choice(words), "limit": PAGE}, expect_items=expect)

    ids = built.audio_ids
    return [
        Kind("healthz (no auth, no DB)", "", lambda rng: Call("/healthz")),
        first_page(every, built.rows),
        deep(every, all_cursors, built.rows),
        first_page(new, built.new_messages),
        deep(new, new_cursors, built.new_messages),
        Kind(
            "audio first byte",
            "audio",
            lambda rng: Call(f"/api/v1/messages/{rng.choice(ids)}/audio", audio=True),
        ),
        Kind("search hits", "search", search(HIT_WORDS, None), "transcript words, names"),
        Kind(
            f"search rare ({built.rare_hits})",
            "search",
            search((RARE,), min(PAGE, built.rare_hits)),
            f"'{RARE}': in {built.rare_hits} messages",
        ),
        Kind("search no hit", "search", search(MISSES, 0), "every message looked at"),
    ]


def measure(
    backend: str, server: ServerProcess, built: Built, args: argparse.Namespace
) -> tuple[list[Row], list[str]]:
    """Each kind of request: WARMUP unmeasured, then ``--requests`` measured, one at a time;
    fewer when they take longer than ``--max-seconds`` (never fewer than MIN_REQUESTS)."""
    client = Client(server.port, built.token, built.audio_bytes)
    rng = random.Random(args.seed + 2)
    rows: list[Row] = []
    try:
        for kind in kinds(client, built, args.max_seconds):
            for _ in range(WARMUP):
                client.run(kind.make(rng))
            if args.sql_times:
                server.sql_stats()
            times: list[float] = []
            cpu_before = proc_usage(server.pid).cpu_seconds
            started = time.perf_counter()
            while len(times) < args.requests and (
                len(times) < MIN_REQUESTS or time.perf_counter() - started < args.max_seconds
            ):
                times.append(client.run(kind.make(rng)))
            wall = time.perf_counter() - started
            cpu = proc_usage(server.pid).cpu_seconds - cpu_before
            stats = server.sql_stats() if args.sql_times else {}
            rows.append(Row(backend, kind, times, cpu, stats, wall))
            print(
                f"  {backend} {kind.name}: p95 {rows[-1].p95_ms:.1f} ms "
                f"({len(times)} requests in {wall:.1f} s)",
                flush=True,
            )
    finally:
        client.close()
    return rows, client.problems


# ---- one backend -------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    backend: str
    built: Built | None = None
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    server_log: str = ""
    skipped: str = ""


def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> Outcome:
    outcome = Outcome(backend)
    data_dir = workdir / backend
    data_dir.mkdir(parents=True, exist_ok=True)
    database = None
    if backend == "postgresql":
        try:
            database = asyncio.run(create_database(args.postgres_url))
        except Exception as exc:
            if args.backend == "both":
                outcome.skipped = f"cannot create a database at {args.postgres_url}: {exc}"
                return outcome
            raise
        url = database_url(args.postgres_url, database)
        analyze = True
    else:
        url = f"sqlite+aiosqlite:///{data_dir}/afterbeep.db"
        analyze = args.sqlite_analyze
    try:
        print(f"{backend}: loading {args.messages} messages …", flush=True)
        built = asyncio.run(build(url, data_dir, args.messages, args.batch, args.seed, analyze))
        outcome.built = built
        print(
            f"{backend}: loaded {built.rows} messages in {built.load_seconds:.1f} s "
            f"({built.rows / built.load_seconds:.0f} rows/s)",
            flush=True,
        )
        log_path = workdir / f"server-{backend}.log"
        with serving(url, data_dir, log_path, args.sql_times) as server:
            outcome.rows, outcome.problems = measure(backend, server, built, args)
        outcome.server_log = log_path.read_text(errors="replace").strip()
    finally:
        if database is not None:
            asyncio.run(drop_database(args.postgres_url, database))
    return outcome


# ---- the report --------------------------------------------------------------------------------


def report(outcomes: list[Outcome], args: argparse.Namespace) -> str:
    lines = [
        f"afterbeep web API latency: one mailbox of {args.messages} messages, "
        f"{args.requests} sequential requests per row (after {WARMUP} warm-up ones), "
        "keep-alive HTTP/1.1 over loopback",
        f"machine: {CPU_COUNT} CPU core(s); the server in its own process (uvicorn in one "
        "asyncio loop), the httpx client in this one; PostgreSQL (when used) local too",
    ]
    for outcome in outcomes:
        built = outcome.built
        if outcome.skipped:
            lines.append(f"{outcome.backend}: skipped: {outcome.skipped}")
        elif built is not None:
            if not built.analyzed:
                stats = "no ANALYZE (the service never runs it)"
            elif outcome.backend == "postgresql":
                stats = "VACUUM ANALYZE after the load (as autovacuum soon would)"
            else:
                stats = "ANALYZE after the load (--sqlite-analyze)"
            lines.append(
                f"{outcome.backend}: bulk load of {built.rows} messages took "
                f"{built.load_seconds:.1f} s ({built.rows / built.load_seconds:.0f} rows/s, "
                f"batches of {args.batch}); {built.size_note}; {stats}; "
                f"{built.new_messages} in folder new"
            )
    rows = [
        [
            row.backend,
            row.kind.name,
            len(row.times),
            1000 * percentile(row.times, 0.50),
            row.p95_ms,
            1000 * percentile(row.times, 0.99),
            1000 * max(row.times),
            1000 * row.server_cpu / len(row.times),
            f"≤ {TARGET_MS[row.kind.target]:g}" if row.kind.target in TARGET_MS else None,
            {True: "yes", False: "NO", None: None}[row.met],
        ]
        for outcome in outcomes
        for row in outcome.rows
    ]
    headers = [
        "backend", "request", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "srv CPU ms",
        "target p95", "met",
    ]  # fmt: skip
    lines += ["", table(headers, rows), ""]
    lines += [
        f"n: requests measured, --requests or fewer when they took over --max-seconds "
        f"({args.max_seconds:g} s; never fewer than {MIN_REQUESTS}).",
        "times: client-side, request sent to whole response read (audio: to the first body byte);",
        "srv CPU ms: CPU of the server process per request (its event loop and, on SQLite, the "
        "aiosqlite thread; PostgreSQL's own CPU is not in it).",
        f"deep pages: a random one of the pages in the range (every {WALK_LIMIT // PAGE}th, "
        "by the cursor walked to it); search hits: "
        f"{', '.join(HIT_WORDS)}; no hit: {', '.join(MISSES)}.",
        "",
    ]
    for outcome in outcomes:
        if not outcome.rows:
            continue
        missed = [row for row in outcome.rows if row.met is False]
        if missed:
            lines.append(
                f"{outcome.backend}: MISSES "
                + "; ".join(
                    f"{row.kind.name} (p95 {row.p95_ms:.1f} > {TARGET_MS[row.kind.target]:g} ms)"
                    for row in missed
                )
            )
        else:
            lines.append(f"{outcome.backend}: every p95 target met")
    problems = [p for outcome in outcomes for p in outcome.problems]
    lines.append(
        "odd answers (non-2xx, wrong sizes or counts): " + ("none" if not problems else "")
    )
    lines += [f"  {problem}" for problem in problems]
    for outcome in outcomes:
        if outcome.server_log:
            tail = "\n".join(outcome.server_log.splitlines()[-20:])
            lines.append(f"{outcome.backend} server log (last lines):\n{tail}")
    if args.sql_times:
        lines += ["", sql_report(outcomes)]
    return "\n".join(lines)


def sql_report(outcomes: list[Outcome]) -> str:
    lines = ["SQL time per request (the server's statements, driver call and rows fetched):"]
    for outcome in outcomes:
        for row in outcome.rows:
            count = len(row.times)
            total = sum(t for _, t in row.sql.values())
            lines.append(
                f"{row.backend} {row.kind.name}: {1000 * total / count:.2f} ms SQL of "
                f"{1000 * sum(row.times) / count:.2f} ms"
            )
            ranked = sorted(row.sql.items(), key=lambda item: -item[1][1])
            for statement, (calls, seconds) in ranked[:4]:
                text = " ".join(statement.split())
                text = text if len(text) <= 150 else text[:147] + "…"
                lines.append(f"    {1000 * seconds / count:7.2f} ms  {calls / count:4.1f}×  {text}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=100_000, help="messages in the mailbox")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql", "both"], default="both", help="database"
    )
    parser.add_argument("--requests", type=int, default=300, help="measured requests per row")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=10.0,
        help=f"stop a row early after this long (at least {MIN_REQUESTS} requests)",
    )
    parser.add_argument("--batch", type=int, default=5000, help="rows per INSERT transaction")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres-url", default=POSTGRES_ADMIN, help="where to create the throw-away database"
    )
    parser.add_argument(
        "--sqlite-analyze",
        action="store_true",
        help="run ANALYZE on SQLite after the load (the service never does)",
    )
    parser.add_argument(
        "--sql-times",
        action="store_true",
        help="also time each SQL statement in the server (adds a little to every request)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve[0], Path(args.serve[1]), args.sql_times))
        return
    if args.messages < 1 or args.requests < 1 or args.batch < 1:
        parser.error("--messages, --requests and --batch must be positive")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    # A plain kill still stops the server process, drops the database, removes the folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = make_workdir("web")
    outcomes: list[Outcome] = []
    try:
        for backend in backends:
            outcomes.append(run_backend(backend, args, workdir))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(report(outcomes, args))
    if args.keep:
        print(f"work folder kept: {workdir}")
    print()
    print("command:", invocation())


if __name__ == "__main__":
    main()
