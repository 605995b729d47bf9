"""SMS: GSM 03.38 sizing, the composed text, E.164, and both providers over a real socket."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import httpx
import pytest

from afterbeep.domain import DiversionReason
from afterbeep.notify.content import DeliveryError, EventKind, MailboxView, Notice
from afterbeep.notify.format import label
from afterbeep.notify.sms import (
    TwilioSmsProvider,
    WebhookSmsProvider,
    compose_sms,
    fit_sms,
    sms_encoding,
    sms_segments,
    to_e164,
)
from tests.support.http_recorder import HttpRecorder, Reply
from tests.support.server import free_port

# -- encoding and segments (3GPP TS 23.038 §6.2.1; TS 23.040 §9.2.3.24.1 for parts) ----------


def test_gsm_default_alphabet_and_extension_stay_gsm7() -> None:
    assert sms_encoding("") == "GSM-7"
    assert sms_encoding("Hello @£$¥ èéùìò ÅåÆæßÉ ΔΦΓΛΩΠΨΣΘΞ ¡¿ ÄÖÑÜäöñüà §¤\n\r") == "GSM-7"
    assert sms_encoding("{}[]~\\|^€\f") == "GSM-7"


@pytest.mark.parametrize("text", ["ç", "…", "’", "Привет", "😀", "\u202f", "á"])
def test_one_character_outside_gsm_switches_to_ucs2(text: str) -> None:
    assert sms_encoding("plain text " + text) == "UCS-2"


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),  # 2 × 153
        ("a" * 307, 3),
        ("€" * 80, 1),  # 160 septets: each extension character is escape + code
        ("€" * 81, 2),
        ("a" * 159 + "{", 2),  # 161 septets
        ("Ж" * 70, 1),
        ("Ж" * 71, 2),
        ("Ж" * 134, 2),  # 2 × 67
        ("Ж" * 135, 3),
        ("😀" * 35, 1),  # outside the BMP: a surrogate pair, two UTF-16 units each
        ("😀" * 36, 2),
    ],
)
def test_segments(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


def test_escape_and_surrogate_pairs_are_not_split_between_parts() -> None:
    # 306 septets would fill two parts of 153 exactly, but only by splitting the escape pair
    # of "{" between them; it moves whole to part two, which then overflows into a third.
    assert sms_segments("a" * 152 + "{" + "a" * 152) == 3
    assert sms_segments("a" * 153 + "{" + "a" * 151) == 2
    # The same for UTF-16: 134 units, two parts of 67 only if a surrogate pair were split.
    assert sms_segments("😀" * 34 + "Ж" * 66) == 3
    assert sms_segments("😀" * 33 + "Ж" * 67) == 2


# -- fit_sms ---------------------------------------------------------------------------------


def test_fit_leaves_a_fitting_text_alone() -> None:
    assert fit_sms("a" * 160, 1) == "a" * 160
    assert fit_sms("", 1) == ""


def test_fit_uses_three_dots_on_gsm_text() -> None:
    fitted = fit_sms("word " * 100, 1)
    assert fitted.endswith("word...")
    assert sms_encoding(fitted) == "GSM-7"
    assert sms_segments(fitted) == 1
    assert len(fitted) > 150  # cut at the last word that fits, not far before


def test_fit_uses_ellipsis_character_on_ucs2_text() -> None:
    fitted = fit_sms("слово " * 100, 2)
    assert fitted.endswith("слово…")
    assert sms_segments(fitted) == 2
    assert len(fitted) > 125


def test_fit_cuts_inside_a_word_without_spaces() -> None:
    assert fit_sms("x" * 400, 1) == "x" * 157 + "..."


def test_fit_dropping_the_only_ucs2_character_returns_to_gsm() -> None:
    # 202 UTF-16 units (4 parts); without the emoji the text is GSM-7 and fits in two.
    assert fit_sms("a" * 200 + "😀", 2) == "a" * 200 + "..."


def test_fit_rejects_a_budget_below_one() -> None:
    with pytest.raises(ValueError):
        fit_sms("a", 0)


# -- compose_sms -----------------------------------------------------------------------------

AT = dt.datetime(2024, 3, 5, 19, 2, 30, tzinfo=dt.UTC)
NEW = Notice(
    event=EventKind.MESSAGE_CREATED,
    mailbox=MailboxView("1001", "Alice", language="en", timezone="America/New_York"),
    caller_number="+12025550123",
    caller_name="Bob Smith",
    called_number="1001",
    reason=DiversionReason.NO_ANSWER,
    at=AT,
    message_id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
    duration_seconds=65.4,
)
MISSED = dataclasses.replace(NEW, event=EventKind.CALL_MISSED, message_id=None)
RUSSIAN = MailboxView("1001", "Алиса", language="ru", timezone="Europe/Moscow")


def test_new_message_without_transcript() -> None:
    text = compose_sms(NEW)
    assert text == "Voicemail from Bob Smith (+1 202-555-0123), 3/5/24, 2:02 PM, 1 minute 5 seconds"
    # Babel writes a narrow no-break space before "PM"; it must not make the SMS UCS-2.
    assert sms_encoding(text) == "GSM-7"


def test_new_message_carries_as_much_transcript_as_fits() -> None:
    transcript = "Hi Alice, it’s Bob.  Call me back\nabout the lease, please. " * 20
    text = compose_sms(dataclasses.replace(NEW, transcript=transcript))
    header, _, body = text.partition("\n")
    assert header.startswith("Voicemail from Bob Smith")
    assert body.startswith("Hi Alice, it's Bob. Call me back about the lease")  # tidied
    assert body.endswith("...")
    assert sms_encoding(text) == "GSM-7"
    assert sms_segments(text) == 2
    assert len(text) > 290  # the budget is used, not wasted
    assert (
        sms_segments(compose_sms(dataclasses.replace(NEW, transcript=transcript), max_segments=1))
        == 1
    )


def test_short_transcript_is_sent_whole() -> None:
    text = compose_sms(dataclasses.replace(NEW, transcript="Call me back."))
    assert text.endswith(", 1 minute 5 seconds\nCall me back.")


def test_transcript_with_no_room_left_is_left_out() -> None:
    long_name = dataclasses.replace(NEW, caller_name="Bartholomew " * 7)
    header = compose_sms(long_name, max_segments=1)
    assert 150 < len(header) <= 160
    assert (
        compose_sms(dataclasses.replace(long_name, transcript="x" * 500), max_segments=1) == header
    )


def test_new_message_in_russian() -> None:
    notice = dataclasses.replace(
        NEW, mailbox=RUSSIAN, transcript="Привет, это Боб. Перезвони мне насчёт аренды. " * 5
    )
    text = compose_sms(notice)
    header, _, body = text.partition("\n")
    # The wording is format.py's; what matters here is what fills it in: Moscow time (UTC+3),
    # Russian plurals, and the transcript cut with "…" (the text is UCS-2 anyway).
    assert header == label(
        "sms_message",
        "ru",
        caller="Bob Smith (+1 202-555-0123)",
        time="05.03.2024, 22:02",
        duration="1 минута 5 секунд",
    )
    assert body.startswith("Привет, это Боб.")
    assert body.endswith("…")
    assert sms_encoding(text) == "UCS-2"
    assert sms_segments(text) == 2
    assert len(text) > 125


def test_missed_call() -> None:
    assert compose_sms(MISSED) == "Bob Smith (+1 202-555-0123) tried to reach you at 2:02 PM"
    anonymous = dataclasses.replace(
        MISSED, mailbox=RUSSIAN, caller_number="anonymous", caller_name=""
    )
    assert compose_sms(anonymous) == label(
        "missed_call", "ru", caller=label("unknown_caller", "ru"), time="22:02"
    )


def test_no_sms_for_a_deleted_message() -> None:
    with pytest.raises(ValueError):
        compose_sms(dataclasses.replace(NEW, event=EventKind.MESSAGE_DELETED))


# -- E.164 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "region", "e164"),
    [
        ("(202) 555-0123", "US", "+12025550123"),
        ("202.555.0123", "US", "+12025550123"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("011 44 20 7946 0958", "US", "+442079460958"),  # the US exit code
        ("030 123456", "DE", "+4930123456"),
        ("8 (495) 123-45-67", "RU", "+74951234567"),  # Russia's trunk prefix 8
    ],
)
def test_to_e164(number: str, region: str, e164: str) -> None:
    assert to_e164(number, region) == e164


@pytest.mark.parametrize("number", ["", "anonymous", "1001", "555-0100", "+1555", "+", "12" * 10])
def test_to_e164_refuses_what_cannot_be_texted(number: str) -> None:
    with pytest.raises(ValueError):
        to_e164(number, "US")


# -- providers, over a real socket -----------------------------------------------------------


async def test_webhook_provider_posts_json_with_token_and_key() -> None:
    with HttpRecorder(default=Reply(202, json={"id": "gw-17"})) as rec:
        async with httpx.AsyncClient(timeout=5) as client:
            provider = WebhookSmsProvider(
                client, rec.url + "/sms?x=1", token="s3cret", sender="+15550100"
            )
            assert await provider.send("+12025550123", "Привет €", key="job-1") == "gw-17"
    [request] = rec.requests
    assert (request.method, request.path) == ("POST", "/sms?x=1")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["idempotency-key"] == "job-1"
    assert request.headers["user-agent"] == "afterbeep"
    assert request.json() == {
        "to": "+12025550123",
        "from": "+15550100",
        "text": "Привет €",
        "id": "job-1",
    }


async def test_webhook_provider_without_token_or_id_in_answer() -> None:
    with HttpRecorder(default=Reply(200, body=b"OK")) as rec:
        async with httpx.AsyncClient(timeout=5) as client:
            provider = WebhookSmsProvider(client, rec.url)
            assert await provider.send("+12025550123", "hi", key="job-2") == "job-2"
    [request] = rec.requests
    assert "authorization" not in request.headers
    assert request.json()["from"] is None


async def test_twilio_provider_posts_form_with_basic_auth() -> None:
    with HttpRecorder(default=Reply(201, json={"sid": "SM1", "status": "queued"})) as rec:
        async with httpx.AsyncClient(timeout=5) as client:
            provider = TwilioSmsProvider(
                client, account_sid="AC123", auth_token="tok", sender="+15550100", base_url=rec.url
            )
            assert await provider.send("+12025550123", "Hi & bye = ok", key="job-3") == "SM1"
    [request] = rec.requests
    assert (request.method, request.path) == ("POST", "/2010-04-01/Accounts/AC123/Messages.json")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["i-twilio-idempotency-token"] == "job-3"
    assert request.basic_auth() == ("AC123", "tok")
    assert request.form() == {"To": "+12025550123", "From": "+15550100", "Body": "Hi & bye = ok"}


async def test_twilio_messaging_service_sender() -> None:
    with HttpRecorder(default=Reply(201, json={"sid": "SM2"})) as rec:
        async with httpx.AsyncClient(timeout=5) as client:
            provider = TwilioSmsProvider(
                client, account_sid="AC1", auth_token="t", sender="MG42", base_url=rec.url + "/"
            )
            await provider.send("+12025550123", "hi", key="k")
    form = rec.requests[0].form()
    assert form["MessagingServiceSid"] == "MG42"
    assert "From" not in form


async def test_twilio_retried_job_succeeds_after_503s_with_the_same_key() -> None:
    with HttpRecorder(Reply(503), Reply(503), default=Reply(201, json={"sid": "SM1"})) as rec:
        async with httpx.AsyncClient(timeout=5) as client:
            provider = TwilioSmsProvider(
                client, account_sid="AC1", auth_token="t", sender="+15550100", base_url=rec.url
            )
            for _ in range(2):
                with pytest.raises(DeliveryError) as failed:
                    await provider.send("+12025550123", "hi", key="job-9")
                assert not failed.value.permanent
                assert "503" in str(failed.value)
            assert await provider.send("+12025550123", "hi", key="job-9") == "SM1"
    keys = {r.headers["i-twilio-idempotency-token"] for r in rec.wait_for(3)}
    assert keys == {"job-9"}


async def test_twilio_400_is_permanent_and_shows_code_and_message() -> None:
    error = {"code": 21211, "message": "The 'To' number is not valid.", "status": 400}
    with HttpRecorder(default=Reply(400, json=error)) as rec:
        async with httpx.AsyncClient(timeout=5) as client:
            provider = TwilioSmsProvider(
                client, account_sid="AC1", auth_token="t", sender="+15550100", base_url=rec.url
            )
            with pytest.raises(DeliveryError) as failed:
                await provider.send("+12025550123", "hi", key="k")
    assert failed.value.permanent
    assert "400" in str(failed.value)
    assert "21211: The 'To' number is not valid." in str(failed.value)


@pytest.mark.parametrize(("status", "permanent"), [(401, True), (408, False), (429, False)])
async def test_4xx_statuses(status: int, permanent: bool) -> None:
    with HttpRecorder(default=Reply(status, body=b"<html>nope</html>")) as rec:
        async with httpx.AsyncClient(timeout=5) as client:
            with pytest.raises(DeliveryError) as failed:
                await WebhookSmsProvider(client, rec.url).send("+12025550123", "hi", key="k")
    assert failed.value.permanent is permanent
    assert f"{status}: <html>nope</html>" in str(failed.value)


async def test_twilio_2xx_without_sid_is_permanent() -> None:
    with HttpRecorder(default=Reply(200, body=b"<html>a captive portal</html>")) as rec:
        async with httpx.AsyncClient(timeout=5) as client:
            provider = TwilioSmsProvider(
                client, account_sid="AC1", auth_token="t", sender="+1", base_url=rec.url
            )
            with pytest.raises(DeliveryError) as failed:
                await provider.send("+12025550123", "hi", key="k")
    assert failed.value.permanent


async def test_connection_refused_is_transient() -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        provider = WebhookSmsProvider(client, f"http://127.0.0.1:{free_port('tcp')}/sms")
        with pytest.raises(DeliveryError) as failed:
            await provider.send("+12025550123", "hi", key="k")
    assert not failed.value.permanent
    assert "127.0.0.1" in str(failed.value)


async def test_timeout_is_transient() -> None:
    with HttpRecorder(default=Reply(200, delay=0.5)) as rec:
        async with httpx.AsyncClient(timeout=0.2) as client:
            with pytest.raises(DeliveryError) as failed:
                await WebhookSmsProvider(client, rec.url).send("+12025550123", "hi", key="k")
    assert not failed.value.permanent
    assert "timed out" in str(failed.value)


async def test_destination_not_in_e164_is_refused_before_sending() -> None:
    with HttpRecorder() as rec:
        async with httpx.AsyncClient(timeout=5) as client:
            with pytest.raises(DeliveryError) as failed:
                await WebhookSmsProvider(client, rec.url).send("2025550123", "hi", key="k")
    assert failed.value.permanent
    assert rec.requests == []
