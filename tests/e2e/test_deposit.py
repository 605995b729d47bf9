"""Leaving messages on the running server with SIPp and baresip (real peers, real sockets)."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tests.e2e.conftest import Speech
from tests.support.audio import best_correlation, read_wav_any
from tests.support.baresip import Baresip
from tests.support.server import Server, ServerFactory
from tests.support.sipp import SippResult

Sipp = Callable[..., SippResult]


def assert_matches(server: Server, message: dict[str, Any], speech: Speech, tmp: Path) -> float:
    """The stored audio is the spoken message (cross-correlation, not just length)."""
    exported = server.export(message["id"], tmp / f"{message['id']}.wav")
    recorded, rate = read_wav_any(exported)
    sent, _ = read_wav_any(speech.wav)
    assert rate == 8000
    score, lag = best_correlation(recorded, sent)
    assert score > 0.9, f"stored audio does not match what was sent (score {score:.3f})"
    assert abs(lag) < 8000  # within the first second of the recording
    return score


def test_deposit_is_stored_with_caller_and_matching_audio(
    server: Server, sipp: Sipp, speech: Speech, tmp_path: Path
) -> None:
    keys = {**speech.sipp_keys(), "caller_user": "5550123", "caller_name": "Carol Caller"}
    sipp("deposit", server.sip_address, service="1001", keys=keys).assert_ok(server)
    (message,) = server.wait_for_messages("1001", 1, timeout=10)
    assert message["caller_number"] == "5550123"
    assert message["caller_name"] == "Carol Caller"
    assert message["called_number"] == "1001"
    assert message["reason"] == "direct"
    assert message["folder"] == "new"
    assert message["received_at"].endswith("+00:00")
    assert abs(message["duration_seconds"] - speech.seconds) < 1.5
    assert_matches(server, message, speech, tmp_path)


def test_pcma_diverted_busy_call_with_asserted_identity(
    server: Server, sipp: Sipp, speech: Speech, tmp_path: Path
) -> None:
    keys = {
        **speech.sipp_keys("PCMA"),
        "sdp_payloads": "8 101",
        "sdp_line1": "a=rtpmap:8 PCMA/8000",
        "sdp_line2": "a=rtpmap:101 telephone-event/8000",
        "pai_header": 'P-Asserted-Identity: "Dora" <sip:+15550199@127.0.0.1>',
        "diversion_header": "Diversion: <sip:1002@127.0.0.1>;reason=user-busy;counter=1",
    }
    sipp("deposit", server.sip_address, service="voicemail", keys=keys).assert_ok(server)
    (message,) = server.wait_for_messages("1002", 1, timeout=10)
    assert message["reason"] == "busy"
    assert message["caller_number"] == "+15550199"
    assert message["caller_name"] == "Dora"
    assert message["codec"] == "PCMA"
    assert server.messages("1001") == []
    assert_matches(server, message, speech, tmp_path)


def test_pound_ends_the_recording_and_the_server_hangs_up(
    server: Server, sipp: Sipp, speech: Speech
) -> None:
    result = sipp("deposit_hash", server.sip_address, service="1001", keys=speech.sipp_keys())
    result.assert_ok(server)
    assert result.received("BYE"), "the server did not hang up after '#'"
    (message,) = server.wait_for_messages("1001", 1, timeout=10)
    # Recording stopped at '#': not much longer than the audio that was sent.
    assert message["duration_seconds"] < speech.seconds + 1.5


def test_twenty_simultaneous_callers_leave_twenty_intact_messages(
    server: Server, sipp: Sipp, speech: Speech, tmp_path: Path
) -> None:
    result = sipp(
        "deposit",
        server.sip_address,
        service="1001",
        keys=speech.sipp_keys(),
        calls=20,
        limit=20,
        rate=50,
        timeout=90,
    )
    result.assert_ok(server)
    messages = server.wait_for_messages("1001", 20, timeout=20)
    assert len(messages) == 20
    assert len({m["id"] for m in messages}) == 20
    scores = [assert_matches(server, m, speech, tmp_path) for m in messages]
    assert min(scores) > 0.9


def test_cancel_before_answer_leaves_no_message(server_factory: ServerFactory, sipp: Sipp) -> None:
    server = server_factory(extra_args=["--answer-delay", "2"])
    server.add_mailbox("1001", "Alice")
    result = sipp("cancel", server.sip_address, service="1001")
    result.assert_ok(server)
    assert result.received("487"), "the INVITE was not answered 487 Request Terminated"
    time.sleep(0.5)
    assert server.messages("1001") == []
    missed = json.loads(server.cli("missed", "list", "1001", "--json").stdout)
    assert len(missed) == 1  # the caller hung up before the beep: a missed call


def test_lost_ack_is_recovered_by_200_retransmission(server: Server, sipp: Sipp) -> None:
    result = sipp("lost_ack", server.sip_address, service="1001")
    result.assert_ok(server)
    retransmissions = sum(
        c.retrans for c in result.message_counts() if c.message == "200" and c.direction == "recv"
    )
    assert retransmissions >= 1, f"no 200 retransmission seen: {result.message_counts()}"


def test_reinvite_hold_and_resume(server: Server, sipp: Sipp) -> None:
    sipp("reinvite_hold", server.sip_address, service="1001").assert_ok(server)


def test_options_is_answered(server: Server, sipp: Sipp) -> None:
    sipp("options", server.sip_address, service="1001").assert_ok(server)


def test_no_common_codec_gets_488(server: Server, sipp: Sipp) -> None:
    result = sipp("no_codec", server.sip_address, service="1001")
    result.assert_ok(server)
    assert result.received("488")


def test_deposit_over_tcp(server: Server, sipp: Sipp, speech: Speech, tmp_path: Path) -> None:
    sipp(
        "deposit", server.sip_address, service="1001", keys=speech.sipp_keys(), transport="t1"
    ).assert_ok(server)
    (message,) = server.wait_for_messages("1001", 1, timeout=10)
    assert_matches(server, message, speech, tmp_path)


def test_late_offer_invite(server: Server, sipp: Sipp, speech: Speech, tmp_path: Path) -> None:
    """An INVITE without SDP: we offer in the 200 and take the answer from the ACK."""
    sipp("late_offer", server.sip_address, service="1001", keys=speech.sipp_keys()).assert_ok(
        server
    )
    (message,) = server.wait_for_messages("1001", 1, timeout=10)
    assert_matches(server, message, speech, tmp_path)


def test_unknown_mailbox_is_answered_like_any_other(server: Server, sipp: Sipp) -> None:
    """No 404: a scanner cannot tell which mailboxes exist from the SIP responses."""
    result = sipp("unknown", server.sip_address, service="9999")
    result.assert_ok(server)
    assert server.messages() == []


def test_crash_mid_recording_keeps_what_was_recorded(
    server: Server, sipp: Sipp, speech: Speech
) -> None:
    outcome: list[SippResult] = []
    caller = threading.Thread(
        target=lambda: outcome.append(
            sipp("deposit", server.sip_address, service="1001", keys=speech.sipp_keys(),
                 timeout=30)
        )
    )  # fmt: skip
    caller.start()
    # Wait until a few seconds of the message have been recorded, then kill -9 the server.
    time.sleep(0.8 + 0.5 + 3.5)
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    caller.join(60)
    server.restart()  # the process is already dead: this only starts it again
    (message,) = server.wait_for_messages("1001", 1, timeout=10)
    assert 1.0 < message["duration_seconds"] < speech.seconds


def test_baresip_leaves_a_message(
    server: Server,
    baresip_factory: Callable[..., Baresip],
    speech: Speech,
    tmp_path: Path,
) -> None:
    silence = tmp_path / "silence.wav"
    silence.write_bytes(_silence_wav(30.0))
    phone = baresip_factory(source_wav=silence, user="5550777", display_name="Erin")
    phone.dial(server.sip_uri("1001"))
    phone.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(0.5)
    phone.send_dtmf("#")  # skip the greeting
    time.sleep(1.2)  # the beep
    phone.switch_source(speech.wav)  # baresip hangs up when the file ends
    phone.wait_event("CALL_CLOSED", timeout=speech.seconds + 15)
    (message,) = server.wait_for_messages("1001", 1, timeout=10)
    assert message["caller_number"] == "5550777"
    assert message["caller_name"] == "Erin"
    assert_matches(server, message, speech, tmp_path)


def _silence_wav(seconds: float) -> bytes:
    from afterbeep.media.wav import encode_wav

    return encode_wav(None, np.zeros(int(seconds * 8000), dtype=np.int16))


def test_zero_during_the_greeting_transfers_to_the_operator(
    server_factory: ServerFactory, sipp: Sipp
) -> None:
    server = server_factory(extra_args=["--operator-uri", "sip:operator@127.0.0.1"])
    server.add_mailbox("1001", "Alice")
    sipp("operator", server.sip_address, service="1001").assert_ok(server)
    assert server.messages("1001") == []
