"""Notifications from the running server: SIPp leaves a message, aiosmtpd receives the mail."""

from __future__ import annotations

import io
import json
import signal
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.e2e.conftest import Speech
from tests.support.audio import best_correlation, read_wav_any
from tests.support.server import Server, ServerFactory
from tests.support.sipp import SippResult
from tests.support.smtp import SmtpSink

Sipp = Callable[..., SippResult]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as started:
        yield started


def _smtp_args(sink: SmtpSink) -> list[str]:
    return [
        "--smtp-host", "127.0.0.1", "--smtp-port", str(sink.port),
        "--smtp-from", "voicemail@example.net",
        "--retry-base", "0.2", "--retry-cap", "0.5", "--job-lease", "2",
    ]  # fmt: skip


def _jobs(server: Server, status: str | None = None) -> list[dict[str, object]]:
    args = ["jobs", "list", "--json"] + (["--status", status] if status else [])
    data: list[dict[str, object]] = json.loads(server.cli(*args).stdout)
    return data


def test_a_message_left_by_sipp_arrives_by_mail_with_its_audio(
    server_factory: ServerFactory, sink: SmtpSink, sipp: Sipp, speech: Speech
) -> None:
    server = server_factory(extra_args=_smtp_args(sink))
    server.add_mailbox("1001", "Alice", email="alice@example.com", timezone="Europe/Berlin",
                       language="de")  # fmt: skip
    keys = {**speech.sipp_keys(), "caller_user": "+4930123456", "caller_name": "Carol Caller"}
    sipp("deposit", server.sip_address, service="1001", keys=keys).assert_ok(server)
    (message,) = server.wait_for_messages("1001", 1, timeout=10)

    (mail,) = sink.wait_for(1, timeout=10)
    assert mail.rcpt_tos == ("alice@example.com",)
    assert mail.message["X-Afterbeep-Message-Id"] == message["id"]
    assert "Carol Caller" in str(mail.message["Subject"])
    text = mail.text()
    assert "+49 30 123456" in text  # the caller's number, formatted
    assert "Alice (1001)" in text or "1001" in text
    # German, in Berlin time: the weekday of the received time, spelled in German.
    weekdays = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
    assert any(day in text for day in weekdays), text

    (attachment,) = mail.attachments()
    assert attachment.get_content_type() == "audio/wav"
    with wave.open(io.BytesIO(attachment.get_content())) as attached:
        assert (attached.getframerate(), attached.getnchannels()) == (8000, 1)
        samples = np.frombuffer(attached.readframes(attached.getnframes()), "<i2")
    sent, _ = read_wav_any(speech.wav)
    score, _lag = best_correlation(samples.astype(np.float64), sent)
    assert score > 0.9, f"the attached audio is not what the caller said ({score:.3f})"
    assert _jobs(server, "failed") == []


def test_mail_waits_while_the_server_is_down_and_survives_a_kill(
    server_factory: ServerFactory, sink: SmtpSink, sipp: Sipp, speech: Speech
) -> None:
    sink.stop()  # the mail server is down when the message is left
    server = server_factory(extra_args=_smtp_args(sink))
    server.add_mailbox("1001", "Alice", email="alice@example.com")
    sipp("deposit", server.sip_address, service="1001", keys=speech.sipp_keys()).assert_ok(server)
    (message,) = server.wait_for_messages("1001", 1, timeout=10)

    deadline = time.monotonic() + 10
    while not any(job["last_error"] for job in _jobs(server)) and time.monotonic() < deadline:
        time.sleep(0.2)
    (job,) = [job for job in _jobs(server) if job["kind"] == "email"]
    assert job["status"] in ("pending", "running")
    assert "refused" in str(job["last_error"]) or "connect" in str(job["last_error"]).lower()

    # Killed while the mail waits: nothing in memory may be needed to send it later.
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    sink.start()
    server.restart()

    (mail,) = sink.wait_for(1, timeout=45)
    assert mail.message["X-Afterbeep-Message-Id"] == message["id"]
    time.sleep(1.0)  # a second copy would come now, if any
    assert len(sink.mails) == 1
    (job,) = [job for job in _jobs(server) if job["kind"] == "email"]
    assert job["status"] == "done"


def test_a_caller_who_hangs_up_before_the_beep_is_a_missed_call_mail(
    server_factory: ServerFactory, sink: SmtpSink, sipp: Sipp
) -> None:
    server = server_factory(extra_args=[*_smtp_args(sink), "--answer-delay", "2",
                                        "--default-email", "operator@example.com"])  # fmt: skip
    server.add_mailbox("1001", "Alice", email="alice@example.com")
    sipp("cancel", server.sip_address, service="1001").assert_ok(server)

    (mail,) = sink.wait_for(1, timeout=10)
    assert mail.rcpt_tos == ("alice@example.com",)  # never the operator's default address
    assert mail.message["X-Afterbeep-Event"] == "call.missed"
    time.sleep(0.5)
    assert len(sink.mails) == 1


def test_notify_test_prints_the_reply_or_the_exact_error(
    server_factory: ServerFactory, sink: SmtpSink, tmp_path: Path
) -> None:
    server = server_factory(start=False)
    ok = server.cli("notify", "test", "bob@example.com", *_smtp_args(sink))
    assert "sent to bob@example.com" in ok.stdout
    (mail,) = sink.wait_for(1)
    assert mail.rcpt_tos == ("bob@example.com",)

    sink.refuse("550 5.1.1 No such user", at="RCPT", times=1)
    refused = server.cli("notify", "test", "nobody@example.com", *_smtp_args(sink), check=False)
    assert refused.returncode == 1
    assert "550" in refused.stderr and "No such user" in refused.stderr


def test_a_full_mailbox_refuses_the_message_and_mails_the_owner_once(
    server_factory: ServerFactory, sink: SmtpSink, sipp: Sipp, speech: Speech
) -> None:
    server = server_factory(extra_args=_smtp_args(sink))
    server.add_mailbox("1001", "Alice", email="alice@example.com", max_messages=1)
    sipp("deposit", server.sip_address, service="1001", keys=speech.sipp_keys()).assert_ok(server)
    server.wait_for_messages("1001", 1, timeout=10)
    for _ in range(2):  # the server says the mailbox is full and hangs up (its BYE)
        sipp("unknown", server.sip_address, service="1001").assert_ok(server)
    time.sleep(1.0)
    assert len(server.messages("1001")) == 1  # the 2nd and 3rd callers heard "full"

    sink.wait_for(4, timeout=10)  # the message, two missed calls, one "mailbox full"
    time.sleep(0.5)
    events = sorted(str(m.message["X-Afterbeep-Event"]) for m in sink.mails)
    assert events == ["call.missed", "call.missed", "mailbox.full", "message.created"]


def test_the_mail_carries_the_transcript_of_what_the_caller_said(
    server_factory: ServerFactory, sink: SmtpSink, sipp: Sipp, speech: Speech
) -> None:
    server = server_factory(extra_args=_smtp_args(sink))
    server.add_mailbox("1001", "Alice", email="alice@example.com", attach="notify")
    sipp("deposit", server.sip_address, service="1001", keys=speech.sipp_keys()).assert_ok(server)
    (mail,) = sink.wait_for(1, timeout=20)
    text = mail.text().lower()
    # SPEECH_TEXT: "This is a test message for afterbeep, please call me back at ..." (espeak's
    # robotic voice through G.711 costs tiny.en a word or two, not these).
    assert "test message" in text and "please call me" in text, text
    [message] = json.loads(
        server.cli("messages", "list", "1001", "--search", "please call", "--json").stdout
    )
    assert "test message" in message["transcript"].lower()
