"""The web app in process (httpx over ASGI) on a real store: SQLite and PostgreSQL.

Two organizations: ``default`` (admin Alice, member Bob who owns 1001, 1002 unowned) and
``acme`` (admin Carol who owns 2001); Pat is the provider. Each mailbox has messages.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from argon2 import PasswordHasher

from afterbeep.domain import CallerInfo, Codec, DiversionReason
from afterbeep.store import Store
from afterbeep.web.app import create_app
from afterbeep.web.context import WebContext
from afterbeep.web.live import Hub
from tests.store.conftest import (  # noqa: F401  (fixtures)
    data_dir,
    database_url,
    postgres_database,
    store,
)

PASSWORD = "correct horse battery"
BASE = "http://testserver"


@dataclasses.dataclass
class Site:
    store: Store
    app: object
    messages: dict[str, list[str]]  # mailbox number -> message ids
    tokens: dict[str, str]  # user -> API token

    def client(self, user: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
        return httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers)


async def leave_message(
    into: Store, number: str, caller_number: str, caller_name: str, at: dt.datetime
) -> str:
    profile = await into.find_mailbox(number)
    assert profile is not None
    caller = CallerInfo(caller_number, caller_name, number, DiversionReason.BUSY, "call@x")
    recording = into.start_recording(profile, caller, Codec.PCMU, at)
    recording.write(b"\xff" * 16000)
    return str(await into.commit_recording(recording))


async def speak(text: str, codec: Codec, language: str) -> bytes:
    return b"\xff" * 4000  # half a second of silence stands for the spoken comment


@pytest.fixture
async def site(store: Store) -> AsyncIterator[Site]:  # noqa: F811
    accounts = store.accounts
    # Cheap argon2 parameters: the tests check who may log in, not the hash's cost.
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    await accounts.add_organization("acme", "Acme Inc")
    users = {
        "alice": await accounts.add_user("alice@example.com", "Alice", PASSWORD, "admin"),
        "bob": await accounts.add_user("bob@example.com", "Bob", PASSWORD, "member"),
        "carol": await accounts.add_user("carol@acme.example", "Carol", PASSWORD, "admin", "acme"),
        "dave": await accounts.add_user("dave@acme.example", "Dave", PASSWORD, "member", "acme"),
        "pat": await accounts.add_user("pat@provider.example", "Pat", PASSWORD, "provider"),
    }
    await store.add_mailbox("1001", "Bob")
    await store.add_mailbox("1002", "Front desk")
    await store.add_mailbox("2001", "Carol", organization="acme")
    await accounts.set_owner("1001", users["bob"].id)
    await accounts.set_owner("2001", users["carol"].id)
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    messages: dict[str, list[str]] = {}
    for number in ("1001", "1002", "2001"):
        messages[number] = [
            await leave_message(
                store, number, f"+4930{i:04d}", f"Caller {i}", at + dt.timedelta(minutes=i)
            )
            for i in range(3)
        ]
    alice = await accounts.viewer(users["alice"].id)
    await accounts.add_list(alice, "team", ["1001", "1002"])
    tokens = {name: (await accounts.create_token(u.id, "test"))[1] for name, u in users.items()}
    app = create_app(WebContext(store, Hub(), speak))
    yield Site(store, app, messages, tokens)
