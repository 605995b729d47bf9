from __future__ import annotations

import pytest

from afterbeep.rtp import RtpPacket, RtpReceiver, RtpSender


def test_numbering_and_marker() -> None:
    sender = RtpSender(payload_type=0, ssrc=0x11223344, sequence=65534, timestamp=2**32 - 160)
    first = RtpPacket.parse(sender.packet(b"\x01" * 160))
    second = RtpPacket.parse(sender.packet(b"\x02" * 160))
    third = RtpPacket.parse(sender.packet(b"\x03" * 160))
    assert (first.sequence, first.timestamp, first.marker) == (65534, 2**32 - 160, True)
    assert (second.sequence, second.timestamp, second.marker) == (65535, 0, False)
    assert (third.sequence, third.timestamp, third.marker) == (0, 160, False)
    assert first.ssrc == 0x11223344 and first.payload_type == 0
    assert first.payload == b"\x01" * 160


def test_skip_keeps_time_and_marks_the_talkspurt() -> None:
    sender = RtpSender(8, 1, sequence=10, timestamp=1000, samples_per_packet=240)
    sender.packet(b"a" * 240)
    sender.skip()
    sender.skip(2)
    resumed = RtpPacket.parse(sender.packet(b"b" * 240))
    assert (resumed.sequence, resumed.timestamp, resumed.marker) == (11, 1000 + 4 * 240, True)
    assert RtpPacket.parse(sender.packet(b"c" * 240)).marker is False


def test_receiver_reconstructs_what_was_sent() -> None:
    sender = RtpSender(0, 7, sequence=65500, timestamp=2**32 - 1000)
    receiver = RtpReceiver(0, None, 0xFF)
    for index in range(30):
        if index % 10 == 5:
            sender.skip()
        else:
            receiver.receive(sender.packet(bytes([index]) * 160))
    expected = b"".join((b"\xff" if i % 10 == 5 else bytes([i])) * 160 for i in range(30))
    assert receiver.flush() == expected
    assert receiver.stats.lost == 0  # skipped packets are not lost: none was sent


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        RtpSender(128, 1, 0, 0)
    with pytest.raises(ValueError):
        RtpSender(0, 2**32, 0, 0)
