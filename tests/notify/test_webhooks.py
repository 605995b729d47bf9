"""Webhooks: the body, its signature, the URL check, and delivery over a real socket."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid

import httpx
import pytest

from afterbeep.domain import DiversionReason
from afterbeep.notify.content import DeliveryError, EventKind, MailboxView, Notice
from afterbeep.notify.webhooks import (
    deliver_webhook,
    sign,
    verify,
    webhook_body,
)
from afterbeep.store.errors import InvalidValue
from afterbeep.store.webhooks import check_url
from tests.support.http_recorder import HttpRecorder, Reply
from tests.support.server import free_port

NOTICE = Notice(
    event=EventKind.MESSAGE_CREATED,
    mailbox=MailboxView("1001", "Zoë", language="de", timezone="Europe/Berlin"),
    caller_number="+12025550123",
    caller_name="Bob Smith",
    called_number="1001",
    reason=DiversionReason.BUSY,
    at=dt.datetime(2024, 3, 5, 19, 2, 30, 250000, tzinfo=dt.UTC),
    message_id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
    duration_seconds=65.4,
    urgent=True,
    transcript="Ruf mich zurück.",
    web_url="https://vm.example/messages/12345678",
)
CREATED = dt.datetime(2024, 3, 5, 20, 2, 31, tzinfo=dt.timezone(dt.timedelta(hours=1)))
NOW = 1_709_665_351
SECRET = "whsec_test"


def test_body_is_compact_json_with_utc_times() -> None:
    body = webhook_body(NOTICE, delivery_id="d-1", created_at=CREATED)
    compact = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)
    assert body == compact.encode()
    assert json.loads(body) == {
        "id": "d-1",
        "type": "message.created",
        "created_at": "2024-03-05T19:02:31Z",
        "data": {
            "mailbox": {"number": "1001", "name": "Zoë"},
            "message_id": "12345678-1234-5678-1234-567812345678",
            "caller_number": "+12025550123",
            "caller_name": "Bob Smith",
            "called_number": "1001",
            "reason": "busy",
            "at": "2024-03-05T19:02:30.250000Z",
            "duration_seconds": 65.4,
            "urgent": True,
            "transcript": "Ruf mich zurück.",
            "web_url": "https://vm.example/messages/12345678",
        },
    }
    assert "Zoë".encode() in body  # UTF-8, not \\u escapes


def test_body_of_a_missed_call() -> None:
    missed = dataclasses.replace(
        NOTICE,
        event=EventKind.CALL_MISSED,
        message_id=None,
        duration_seconds=None,
        urgent=False,
        transcript=None,
        web_url=None,
    )
    data = json.loads(webhook_body(missed, delivery_id="d-2", created_at=CREATED))
    assert data["type"] == "call.missed"
    assert data["data"]["message_id"] is None
    assert data["data"]["duration_seconds"] is None


# -- signature -------------------------------------------------------------------------------


def test_sign_matches_an_independent_hmac() -> None:
    # Computed with: printf '%s' '1700000000.{}' | openssl dgst -sha256 -hmac key
    expected = "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
    assert sign("key", 1_700_000_000, b"{}") == f"t=1700000000,v1={expected}"


def test_verify() -> None:
    body = b'{"id":"d-1"}'
    header = sign(SECRET, NOW, body)
    assert verify(SECRET, header, body, NOW)
    assert verify(SECRET, header, body, NOW + 300)
    assert not verify(SECRET, header, body, NOW + 301)  # too old: a replay
    assert not verify(SECRET, header, body, NOW - 301)  # from the future
    assert not verify("wrong", header, body, NOW)
    assert not verify(SECRET, header, body + b" ", NOW)
    # A forged timestamp does not carry the old signature over.
    assert not verify(SECRET, header.replace(f"t={NOW}", f"t={NOW + 1}"), body, NOW)


def test_verify_accepts_any_of_several_signatures() -> None:
    body = b"{}"
    rotated = sign("old", NOW, body) + ",v1=" + sign(SECRET, NOW, body).split("v1=")[1]
    assert verify(SECRET, rotated, body, NOW)
    assert verify("old", rotated, body, NOW)


@pytest.mark.parametrize(
    "header", ["", "t=1", "v1=abc", "t=x,v1=abc", "garbage", "t=1,v1", f"t={NOW},v2=abc"]
)
def test_verify_refuses_malformed_headers(header: str) -> None:
    assert not verify(SECRET, header, b"{}", NOW)


# -- URL check -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/afterbeep",
        "http://127.0.0.1:8080/x?token=1",
        "HTTPS://[2001:db8::1]/hook",
        "  https://example.com  ",
    ],
)
def test_check_webhook_url_accepts(url: str) -> None:
    assert check_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "empty"),
        ("ftp://example.com/x", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("https:///path", "no host"),
        ("https://example.com:99999/", "malformed"),
        ("https://exa mple.com/", "blanks"),
        ("https://example.com/\r\nX-Injected: 1", "control"),
    ],
)
def test_check_webhook_url_refuses(url: str, why: str) -> None:
    with pytest.raises(InvalidValue, match=why):
        check_url(url)


# -- delivery, over a real socket ------------------------------------------------------------


async def deliver(url: str, body: bytes, *, client_timeout: float = 5) -> int:
    async with httpx.AsyncClient(timeout=client_timeout) as client:
        return await deliver_webhook(
            client, url, SECRET, body, event="message.created", delivery_id="d-1", now=NOW
        )


async def test_delivery_is_signed_and_verifiable_by_the_receiver() -> None:
    body = webhook_body(NOTICE, delivery_id="d-1", created_at=CREATED)
    with HttpRecorder(default=Reply(204)) as rec:
        assert await deliver(rec.url + "/hook", body) == 204
    [request] = rec.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.body == body
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "afterbeep"
    assert request.headers["x-afterbeep-event"] == "message.created"
    assert request.headers["x-afterbeep-delivery"] == "d-1"
    signature = request.headers["x-afterbeep-signature"]
    assert verify(SECRET, signature, request.body, NOW + 10)
    assert not verify("another secret", signature, request.body, NOW)
    assert not verify(SECRET, signature, request.body.replace(b"busy", b"none"), NOW)
    assert not verify(SECRET, signature, request.body, NOW + 3600)


@pytest.mark.parametrize(("status", "permanent"), [(503, False), (500, False), (400, True)])
async def test_error_statuses(status: int, permanent: bool) -> None:
    with (
        HttpRecorder(default=Reply(status, json={"error": "receiver says no"})) as rec,
        pytest.raises(DeliveryError) as failed,
    ):
        await deliver(rec.url, b"{}")
    assert failed.value.permanent is permanent
    assert f"127.0.0.1 answered {status}: receiver says no" == str(failed.value)


async def test_redirect_is_not_followed_and_is_permanent() -> None:
    with HttpRecorder(default=Reply(307)) as rec:
        rec.queue(Reply(307, headers={"Location": rec.url + "/elsewhere"}))
        with pytest.raises(DeliveryError) as failed:
            await deliver(rec.url + "/hook", b"{}")
        assert [r.path for r in rec.requests] == ["/hook"]
    assert failed.value.permanent
    assert "redirect" in str(failed.value)


async def test_error_message_names_the_host_not_the_secret_path() -> None:
    with (
        HttpRecorder(default=Reply(404, body=b"x" * 100_000)) as rec,
        pytest.raises(DeliveryError) as failed,
    ):
        await deliver(rec.url + "/hooks/T0KEN-s3cret", b"{}")
    message = str(failed.value)
    assert "s3cret" not in message
    assert len(message) < 250  # a long body is cut to an excerpt


async def test_connection_refused_is_transient() -> None:
    with pytest.raises(DeliveryError) as failed:
        await deliver(f"http://127.0.0.1:{free_port('tcp')}/hook", b"{}")
    assert not failed.value.permanent


async def test_timeout_is_transient() -> None:
    with HttpRecorder(default=Reply(200, delay=0.5)) as rec, pytest.raises(DeliveryError) as failed:
        await deliver(rec.url, b"{}", client_timeout=0.1)
    assert not failed.value.permanent


async def test_unsupported_scheme_is_permanent() -> None:
    with pytest.raises(DeliveryError) as failed:
        await deliver("ftp://127.0.0.1/hook", b"{}")
    assert failed.value.permanent
