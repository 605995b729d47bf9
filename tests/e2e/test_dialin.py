"""Dial-in against the running server, with real peers: SIPp types on the keypad (RFC 4733
events), baresip listens and what it heard is transcribed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tests.e2e.conftest import Speech, require
from tests.support.audio import g711_payload, make_dtmf_pcap, make_phone_pcap, read_wav_any
from tests.support.baresip import Baresip
from tests.support.server import Server, ServerFactory
from tests.support.sipp import SDP_PCMU_ONLY, SippResult

Sipp = Callable[..., SippResult]

# First logins would ask for the name and greeting; these tests are about what follows.
SERVER_ARGS = ["--no-force-greetings"]


def _keys(tmp_path: Path, name: str, script: str) -> tuple[str, float]:
    """A DTMF capture of ``script`` (',' = one second of listening) and its length."""
    path = tmp_path / f"{name}.pcap"
    seconds = make_dtmf_pcap(path, script, ssrc=0x5EED0000 + len(name), first_seq=1000)
    return str(path), seconds


def _dial_in(
    sipp: Sipp, server: Server, tmp_path: Path, name: str, script: str, **keys: Any
) -> SippResult:
    pcap, seconds = _keys(tmp_path, name, script)
    values = {"dtmf_pcap": pcap, **keys}
    return sipp("dialin", server.sip_address, service="*98", keys=values, timeout=seconds + 40)


def _dial_in_speaking(
    sipp: Sipp, server: Server, tmp_path: Path, name: str, script: str, speech: Speech
) -> SippResult:
    """Like ``_dial_in``, with '~' in ``script`` where the caller says ``speech``."""
    pcap = tmp_path / f"{name}.pcap"
    seconds = make_phone_pcap(pcap, script, g711_payload(speech.wav, "PCMU"))
    keys = {"dtmf_pcap": str(pcap), **SDP_PCMU_ONLY}
    return sipp("dialin", server.sip_address, service="*98", keys=keys, timeout=seconds + 40)


def _deposit(sipp: Sipp, server: Server, speech: Speech) -> None:
    sipp("deposit", server.sip_address, service="1001", keys=speech.sipp_keys()).assert_ok(server)
    server.wait_for_messages("1001", 1)


def test_the_owner_logs_in_listens_and_deletes_a_message(
    server_factory: ServerFactory, sipp: Sipp, speech: Speech, tmp_path: Path
) -> None:
    server = server_factory(extra_args=SERVER_ARGS)
    server.add_mailbox("1001", "Alice", pin="1234", pin_is_final=True)
    _deposit(sipp, server, speech)
    # Log in, listen to the counts, 1 to listen, 7 to delete while it plays, # to leave.
    _dial_in(sipp, server, tmp_path, "listen", "1001#1234#,,,,1,,,,7,,#").assert_ok(server)
    [message] = server.messages("1001")
    assert message["folder"] == "deleted"
    log = server.stderr_text()
    assert "logged in to mailbox 1001" in log


def test_wrong_pins_end_the_call_and_lock_the_source_and_the_mailbox(
    server_factory: ServerFactory, sipp: Sipp, tmp_path: Path
) -> None:
    server = server_factory(extra_args=[*SERVER_ARGS, "--login-failures", "3"])
    server.add_mailbox("1001", "Alice", pin="1234", pin_is_final=True, email="owner@example.com")
    script = "1001#1111#,,,1001#2222#,,,1001#3333#"
    _dial_in(sipp, server, tmp_path, "wrong", script).assert_ok(server)
    # Locked now: even the right PIN is refused, and at once.
    started = time.monotonic()
    _dial_in(sipp, server, tmp_path, "right", "1001#1234#").assert_ok(server)
    assert time.monotonic() - started < 20
    log = server.stderr_text()
    assert "login source 127.0.0.1|5551234 locked" in log
    assert "logged in" not in log
    jobs = json.loads(server.cli("jobs", "list", "--json").stdout)
    assert any("mailbox.locked" in job["key"] for job in jobs), jobs  # the owner is told


def test_forwarding_a_message_with_a_spoken_comment(
    server_factory: ServerFactory, sipp: Sipp, speech: Speech, tmp_path: Path
) -> None:
    server = server_factory(extra_args=SERVER_ARGS)
    server.add_mailbox("1001", "Alice", pin="1234", pin_is_final=True)
    server.add_mailbox("1002", "Bob")
    _deposit(sipp, server, speech)
    # Listen, 8 forward (cuts the envelope), to 1002 #, # no more, 1 record a comment,
    # the beep, the comment, # to end it; # (cutting "forwarded") to leave.
    script = "1001#1234#,,,1,,8,1002#,#,1,,~#,,#"
    _dial_in_speaking(sipp, server, tmp_path, "forward", script, speech).assert_ok(server)
    [copy] = server.wait_for_messages("1002", 1)
    # The comment (with the second or two of silence before it), a pause, the message.
    least = speech.seconds + 0.5 + speech.seconds
    assert least - 0.5 < copy["duration_seconds"] < least + 3.0, copy
    assert copy["caller_number"] == "5551234"  # the original caller, not the forwarder
    [original] = server.messages("1001")
    assert original["folder"] in ("new", "old")  # still there


def test_recording_a_greeting_by_phone(
    server_factory: ServerFactory, sipp: Sipp, speech: Speech, tmp_path: Path
) -> None:
    server = server_factory(extra_args=SERVER_ARGS)
    server.add_mailbox("1001", "Alice", pin="1234", pin_is_final=True)
    # 0 options, 1 unavailable greeting, (instructions, beep), the greeting, # to end it,
    # 1 to accept, # to leave.
    script = "1001#1234#,,0,1,,,~#,,1,,#"
    _dial_in_speaking(sipp, server, tmp_path, "greeting", script, speech).assert_ok(server)
    box = json.loads(server.cli("mailbox", "show", "1001", "--json").stdout)
    assert "unavailable" in box["greetings"], box


def test_baresip_hears_the_counts_and_the_envelope(
    server_factory: ServerFactory,
    sipp: Sipp,
    speech: Speech,
    baresip_factory: Callable[..., Baresip],
    tmp_path: Path,
) -> None:
    require("baresip")
    server = server_factory(extra_args=SERVER_ARGS)
    server.add_mailbox("1001", "Alice", pin="1234", pin_is_final=True)
    _deposit(sipp, server, speech)
    silence = tmp_path / "silence.wav"
    from afterbeep.media.wav import encode_wav

    silence.write_bytes(encode_wav(None, np.zeros(8000 * 40, dtype=np.int16)))
    phone = baresip_factory(source_wav=silence, user="5550123", record=True)
    phone.dial(server.sip_uri("*98"))
    phone.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(1.0)
    phone.send_dtmf("1001#")
    time.sleep(0.5)
    phone.send_dtmf("1234#")
    time.sleep(9.0)  # "You have one new message", the main menu
    phone.send_dtmf("1")
    # "First message. Received today at … from …" (its length depends on the load), then
    # the message: it is marked heard as it starts, and lasts about 6.5 s.
    deadline = time.monotonic() + 40
    while server.messages("1001")[0]["folder"] != "old":
        assert time.monotonic() < deadline, server.describe()
        time.sleep(0.5)
    time.sleep(speech.seconds + 1.5)
    phone.hangup()
    phone.wait_event("CALL_CLOSED", timeout=10)
    [heard] = phone.recordings("dec")
    samples, rate = read_wav_any(heard)
    from afterbeep.transcribe.engine import WhisperTranscriber

    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    text = WhisperTranscriber().transcribe(pcm, rate, "en").lower()
    # Whisper tiny.en on a phone line: the recorded prompts come through word for word,
    # the synthesized sentences (espeak-ng) less so ("test caller" came back as "past
    # caller", "six seconds" as "6, 6, 6"); what is checked is that each part was said.
    squeezed = "".join(ch for ch in text if ch.isalnum())
    assert "enter your" in text, text  # the login prompts
    assert "new message" in text, text  # "You have one new message."
    assert "pound to exit" in text, text  # the main menu
    # Who called, read digit by digit ("five" is sometimes heard as "time").
    assert "onetwothreefour" in squeezed or "1234" in squeezed, text
    assert "call me" in text, text  # the message itself
    [message] = server.messages("1001")
    assert message["folder"] == "old"  # heard
