"""Schemathesis fuzzes the REST API in process, as Alice (administrator of ``default``).

Every operation of the OpenAPI document (but the endless event stream) gets requests that
Schemathesis generates from it, valid and invalid ones. Path parameters are random or name
real things (Bob's mailbox, a message in it, a list, another user, a spare token), and requests
the server accepts are mixed in, because random text seldom gets past its own checks (a mailbox
number, an e-mail address, audio). No answer may be a server error, and every answer must
match the document: a documented status code, its content type and headers, its body schema.

The app and its store live on the test's event loop (the ``site`` fixture, on SQLite only).
Hypothesis runs in a worker thread and hands each request back to that loop, where httpx sends
it over ASGI; an exception that escapes the app (a 500 in production) fails the test with its
request. Deletions run last, and never of Alice or of the token the test authenticates with.
Generation is derandomized and not shrunk (the database changes as it goes): the first failing
request of each operation is reported as it was sent, with the table of answers seen.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import re
import traceback
import wave
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.conftest import BASE, PASSWORD, Site

OPENAPI = "/api/v1/openapi.json"
SKIPPED = {"GET /api/v1/mailboxes/{number}/events"}  # streams until the client goes away
# Deletions come after everything else, those that take the most away last.
LAST = ["/greetings/", "/messages/", "/lists/", "/tokens/", "/mailboxes/", "/users/"]
MAX_EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}  # per operation
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Ids past what a 32-bit or a 64-bit integer column holds: ids go to the database as they come.
TOO_BIG = [str(2**31), str(2**63)]
PLAIN = {"type": "string"}  # a parameter nothing sent in a URL can violate

Seen = collections.Counter[tuple[str, int]]  # (operation, status) -> answers
Send = Callable[[Case], httpx.Response]


class AppError(Exception):
    """The app raised instead of answering."""

    def __init__(self, case: Case, exc: Exception) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        ours = [f for f in frames if "/afterbeep/" in f.filename] or frames[-3:]
        super().__init__(
            f"{case.method} {case.formatted_path} raised {type(exc).__name__}: {exc}\n"
            + "".join(traceback.format_list(ours))
            + f"\nReproduce (as Alice) with:\n    {case.as_curl_command(base_url=BASE)}"
        )


def _tone_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2").tobytes())
    return out.getvalue()


def _order(operation: APIOperation) -> tuple[int, int]:
    if operation.method.upper() != "DELETE":
        return (0, 0)
    return (1, next((i for i, part in enumerate(LAST) if part in operation.path), -1))


def _as_int(value: object) -> int | None:
    """``value`` as the app reads an integer path parameter (leniently), if it reads one."""
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d[\d_]*(\.0*)?", text, re.ASCII):
        return None
    return int(text.split(".")[0])


def _modes(operation: APIOperation) -> list[GenerationMode]:
    """Positive, and negative where something can be made invalid (not a plain string)."""
    raw = operation.definition.raw
    parameters = [p.get("schema", {}) for p in raw.get("parameters", [])]
    plain = [s for s in parameters if {k: v for k, v in s.items() if k != "title"} == PLAIN]
    if "requestBody" in raw or len(plain) < len(parameters):
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def _strategy(
    operation: APIOperation,
    mode: GenerationMode,
    known: dict[str, list[str]],
    seeds: list[dict[str, Any]],
) -> st.SearchStrategy[Case]:
    branches = [operation.as_strategy(generation_mode=mode)]
    fixed = [{n: v} for n, values in known.items() if f"{{{n}}}" in operation.path for v in values]
    if fixed:
        branches.append(
            st.sampled_from(fixed).flatmap(
                lambda path: operation.as_strategy(generation_mode=mode, path_parameters=path)
            )
        )
    if seeds and mode is GenerationMode.POSITIVE:
        branches.append(st.one_of([operation.as_strategy(**seed) for seed in seeds]))
    return st.one_of(branches)


def _fuzz(
    operation: APIOperation,
    mode: GenerationMode,
    strategy: st.SearchStrategy[Case],
    protected: dict[str, int],
    send: Send,
    seen: Seen,
) -> None:
    """Hypothesis on one operation; raises what the first failing request raised."""

    @settings(
        max_examples=MAX_EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def check(case: Case) -> None:
        for name, value in protected.items():
            if _as_int((case.path_parameters or {}).get(name)) == value:
                return
        try:
            response = send(case)
        except Exception as exc:
            raise AppError(case, exc) from exc
        seen[(operation.label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    with contextlib.suppress(Unsatisfiable):  # nothing in it could be made invalid after all
        check()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # one database is enough
async def test_no_request_breaks_the_api(site: Site) -> None:
    loop = asyncio.get_running_loop()
    wav = _tone_wav()
    async with site.client("alice") as client:
        doc = (await client.get(OPENAPI)).json()
        me = (await client.get("/api/v1/me")).json()
        users = {u["email"]: u["id"] for u in (await client.get("/api/v1/users")).json()}
        (own,) = [t["id"] for t in (await client.get("/api/v1/tokens")).json()]
        spare = (await client.post("/api/v1/tokens", json={"name": "spare"})).json()
        team = {"name": "Team", "members": ["1001", "1002"]}
        team_id = (await client.post("/api/v1/lists", json=team)).json()["id"]
        for kind in ("unavailable", "busy", "temporary", "name", "warning"):
            response = await client.put(f"/api/v1/mailboxes/1001/greetings/{kind}", content=wav)
            assert response.status_code == 204, response.text
        bob, m1001, m1002 = users["bob@example.com"], site.messages["1001"], site.messages["1002"]
        known = {
            "number": ["1001", "1002", "2001"],
            "message_id": [m for ids in site.messages.values() for m in ids],
            "list_id": [str(team_id), *TOO_BIG],
            "user_id": [str(bob), *TOO_BIG],
            "token_id": [str(spare["id"]), *TOO_BIG],
        }
        protected = {"user_id": me["id"], "token_id": own}
        seeds: dict[str, list[dict[str, Any]]] = {
            "PATCH /api/v1/me": [
                {"body": {"name": "Alice A.", "timezone": "Europe/Berlin"}},
                {"body": {"password": "a new horse battery", "current_password": PASSWORD}},
            ],
            "POST /api/v1/mailboxes": [
                {"body": {"number": "1003", "name": "Sales", "emails": ["s@example.com"]}},
                {"body": {"number": "1004", "name": "Bob 2", "owner_user_id": bob}},
            ],
            "PATCH /api/v1/mailboxes/{number}": [
                {
                    "path_parameters": {"number": "1002"},
                    "body": {
                        "name": "Front",
                        "emails": ["front@example.com"],
                        "timezone": "Europe/Berlin",
                        "temporary_greeting_expires_at": "2030-01-01T00:00:00Z",
                        "sms_number": "+4915112345678",
                    },
                }
            ],
            "PUT /api/v1/mailboxes/{number}/pin": [
                {"path_parameters": {"number": "1001"}, "body": {"pin": "2468"}}
            ],
            "PUT /api/v1/mailboxes/{number}/greetings/{kind}": [
                {"path_parameters": {"number": "1002"}, "body": wav}
            ],
            "GET /api/v1/mailboxes/{number}/messages": [
                {"path_parameters": {"number": "1001"}, "query": {"limit": 1, "q": "Caller"}}
            ],
            "PATCH /api/v1/messages/{message_id}": [
                {"path_parameters": {"message_id": m1002[0]}, "body": {"folder": "work"}},
                {"path_parameters": {"message_id": m1002[1]}, "body": {"heard": True}},
            ],
            "POST /api/v1/messages/{message_id}/forward": [
                {"path_parameters": {"message_id": m1001[0]}, "body": {"to": ["1002"]}},
                {
                    "path_parameters": {"message_id": m1001[1]},
                    "body": {"to": ["1001"], "lists": [team_id], "comment": "please call back"},
                },
            ],
            "POST /api/v1/lists": [{"body": {"name": "Desk", "members": ["1002"]}}],
            "PUT /api/v1/lists/{list_id}/members": [
                {"path_parameters": {"list_id": str(team_id)}, "body": {"members": ["1001"]}}
            ],
            "POST /api/v1/users": [
                {
                    "body": {
                        "email": "erin@example.com",
                        "name": "Erin",
                        "password": "correct horse battery",
                        "timezone": "Europe/Berlin",
                    }
                }
            ],
        }

        async def request(case: Case) -> httpx.Response:
            kwargs = case.as_transport_kwargs(base_url=BASE)  # for `requests`: adapt to httpx
            if isinstance(kwargs.get("data"), bytes | str):
                kwargs["content"] = kwargs.pop("data")
            kwargs.pop("cookies", None)  # none in the schema; httpx deprecates per-request ones
            return await client.request(**kwargs)

        def send(case: Case) -> httpx.Response:
            return asyncio.run_coroutine_threadsafe(request(case), loop).result()

        operations = sorted(
            (
                operation
                for result in schemathesis.openapi.from_dict(doc).get_all_operations()
                if (operation := result.ok()).label not in SKIPPED
            ),
            key=_order,
        )
        seen: Seen = collections.Counter()
        failures = []
        for operation in operations:
            for mode in _modes(operation):
                strategy = _strategy(operation, mode, known, seeds.get(operation.label, []))
                try:
                    await asyncio.to_thread(_fuzz, operation, mode, strategy, protected, send, seen)
                except (Exception, FailureGroup) as exc:
                    failures.append(f"{operation.label} ({mode.value}): {exc}")
        print("\n".join(f"{label}: {status} × {n}" for (label, status), n in sorted(seen.items())))
        assert not failures, "\n\n".join(failures)
        assert (await client.get("/api/v1/me")).status_code == 200  # fuzzed as Alice to the end
