from __future__ import annotations

import struct
from pathlib import Path

import pytest
from tests.support.pcap import read_udp_payloads

from afterbeep.rtp import DtmfReceiver, RtpError, RtpPacket, RtpReceiver, TelephoneEvent
from afterbeep.rtp.dtmf import event_digit

SIPP = Path("/usr/share/sip-tester")
needs_sipp = pytest.mark.skipif(
    not SIPP.is_dir(), reason="SIPp sample captures not installed (/usr/share/sip-tester)"
)
KEYS = [(str(d), str(d)) for d in range(10)] + [("star", "*"), ("pound", "#")]


def event(code: int, end: bool = False, duration: int = 160) -> bytes:
    return struct.pack("!BBH", code, (0x80 if end else 0) | 10, duration)


def press(receiver: DtmfReceiver, code: int, timestamp: int, updates: int = 5) -> list[str]:
    """One key press as a sender emits it: updates, then the end packet three times."""
    out = [receiver.feed(timestamp, event(code, duration=160 * i), i == 0) for i in range(updates)]
    out += [receiver.feed(timestamp, event(code, True, 160 * updates), False) for _ in range(3)]
    return [digit for digit in out if digit is not None]


def test_parse_and_serialise() -> None:
    start = TelephoneEvent.parse(bytes.fromhex("010a0000"))
    assert start == TelephoneEvent(event=1, end=False, volume=10, duration=0)
    end = TelephoneEvent.parse(bytes.fromhex("0a8a08c0"))
    assert end == TelephoneEvent(event=10, end=True, volume=10, duration=2240)
    assert end.digit == "*"
    assert bytes(end) == bytes.fromhex("0a8a08c0")
    assert TelephoneEvent.parse(bytes.fromhex("0bca0001")).volume == 10  # R bit ignored
    with pytest.raises(RtpError):
        TelephoneEvent.parse(b"\x01\x0a")
    with pytest.raises(RtpError):
        bytes(TelephoneEvent(event=1, end=False, volume=64, duration=0))


def test_event_codes() -> None:
    assert [event_digit(code) for code in range(17)] == [*"0123456789*#ABCD", None]


@needs_sipp
@pytest.mark.parametrize(("name", "digit"), KEYS)
def test_capture_yields_its_digit_once(name: str, digit: str) -> None:
    receiver = DtmfReceiver()
    packets = [
        RtpPacket.parse(data) for _, data in read_udp_payloads(SIPP / f"dtmf_2833_{name}.pcap")
    ]
    assert len(packets) >= 4
    digits = [receiver.feed(p.timestamp, p.payload, p.marker) for p in packets]
    assert digits[0] == digit  # reported on the first packet: barge-in is immediate
    assert [d for d in digits if d is not None] == [digit]


@needs_sipp
@pytest.mark.parametrize(("name", "digit"), KEYS)
def test_capture_through_the_rtp_receiver(name: str, digit: str) -> None:
    receiver = RtpReceiver(8, 101, 0xD5)
    for _, data in read_udp_payloads(SIPP / f"dtmf_2833_{name}.pcap"):
        assert receiver.receive(data)
    assert receiver.pop_digits() == [digit]
    assert receiver.pop_digits() == []
    assert receiver.flush() == b""  # events are not audio


def test_repeated_key_is_reported_again() -> None:
    receiver = DtmfReceiver()
    assert press(receiver, 5, 1000) == ["5"]
    assert press(receiver, 5, 3000) == ["5"]
    assert press(receiver, 11, 5000) == ["#"]


def test_lost_first_packets_still_report_once() -> None:
    receiver = DtmfReceiver()
    assert receiver.feed(800, event(3, True, 800), False) == "3"
    assert receiver.feed(800, event(3, True, 800), False) is None


def test_late_packet_of_an_earlier_event_is_ignored() -> None:
    receiver = DtmfReceiver()
    assert press(receiver, 1, 1000) == ["1"]
    assert press(receiver, 2, 4000, updates=1) == ["2"]
    assert receiver.feed(1000, event(1, True, 800), False) is None


def test_timestamp_wrap() -> None:
    receiver = DtmfReceiver()
    assert press(receiver, 7, 0xFFFFFF00) == ["7"]
    assert press(receiver, 8, 0x00000100) == ["8"]


def test_long_press_segments_are_one_digit() -> None:
    receiver = DtmfReceiver()
    assert receiver.feed(1000, event(9, duration=0), True) == "9"
    assert receiver.feed(1000, event(9, duration=0xFFFF), False) is None
    # RFC 4733 §2.5.1.3: the next segment starts where the previous one ended.
    assert receiver.feed(1000 + 0xFFFF, event(9, duration=400), False) is None
    assert receiver.feed(1000 + 0xFFFF, event(9, True, 800), False) is None
    assert receiver.feed(1000 + 0xFFFF + 2000, event(9, duration=0), True) == "9"


def test_new_key_on_a_reused_timestamp_is_still_reported() -> None:
    receiver = DtmfReceiver()
    assert press(receiver, 1, 1000) == ["1"]
    assert press(receiver, 2, 1000) == ["2"]


def test_other_events_and_short_payloads() -> None:
    receiver = DtmfReceiver()
    assert receiver.feed(100, event(16), True) is None  # flash: not a digit
    assert receiver.feed(200, b"\x01", True) is None
    receiver.reset()
    assert receiver.feed(100, event(0), True) == "0"
