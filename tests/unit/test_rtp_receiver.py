from __future__ import annotations

import itertools
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.pcap import read_udp_payloads

from afterbeep.rtp import RtpPacket, RtpReceiver, RtpStats, build_header

SIPP = Path("/usr/share/sip-tester")
needs_sipp = pytest.mark.skipif(
    not SIPP.is_dir(), reason="SIPp sample captures not installed (/usr/share/sip-tester)"
)
PCMU, PCMA, DTMF = 0, 8, 101
SILENCE = 0xFF


def stream(seq: int, ts: int, count: int, *, ssrc: int = 1, size: int = 160) -> list[bytes]:
    """``count`` contiguous packets; packet i's payload is ``size`` bytes of value i."""
    return [
        build_header(PCMU, seq + i, ts + i * size, ssrc) + bytes([i % 256]) * size
        for i in range(count)
    ]


def payloads(packets: list[bytes]) -> bytes:
    return b"".join(packet[12:] for packet in packets)


def feed(receiver: RtpReceiver, packets: list[bytes]) -> bytes:
    for packet in packets:
        assert receiver.receive(packet)
    return receiver.flush()


def shuffle_within(items: list[bytes], window: int, rng: random.Random) -> list[bytes]:
    """Each item may arrive after at most ``window - 1`` items that were sent after it."""
    keys = [index + rng.uniform(0, window) for index in range(len(items))]
    return [item for _, item in sorted(zip(keys, items, strict=True))]


# ---- the SIPp capture: 30 ms PCMA packets --------------------------------------------------


@pytest.fixture
def g711a() -> list[bytes]:
    if not SIPP.is_dir():
        pytest.skip("SIPp sample captures not installed (/usr/share/sip-tester)")
    return [data for _, data in read_udp_payloads(SIPP / "g711a.pcap")]


def test_capture_in_order(g711a: list[bytes]) -> None:
    packets = [RtpPacket.parse(data) for data in g711a]
    # The capture is gapless: each timestamp follows the previous payload.
    assert all(b.timestamp - a.timestamp == len(a.payload) for a, b in itertools.pairwise(packets))
    assert {len(p.payload) for p in packets} == {240}  # 30 ms: packet time is not assumed
    receiver = RtpReceiver(PCMA, DTMF, 0xD5)
    assert feed(receiver, g711a) == b"".join(p.payload for p in packets)
    assert receiver.stats == RtpStats(received=len(g711a))
    assert receiver.last_ssrc == 0xDEE0EE8F


def test_capture_reordered_duplicated_and_lossy(g711a: list[bytes]) -> None:
    rng = random.Random(4733)
    dropped = set(rng.sample(range(1, len(g711a) - 1), 12))
    kept = [data for index, data in enumerate(g711a) if index not in dropped]
    arrivals = shuffle_within(kept, 4, rng)
    duplicated = rng.sample(range(len(arrivals)), 15)
    for position in sorted(duplicated, reverse=True):
        arrivals.insert(position + rng.randint(1, 3), arrivals[position])

    receiver = RtpReceiver(PCMA, DTMF, 0xD5)
    audio = feed(receiver, arrivals)

    assert len(audio) == 240 * len(g711a)
    for index, data in enumerate(g711a):
        expected = b"\xd5" * 240 if index in dropped else RtpPacket.parse(data).payload
        assert audio[240 * index : 240 * (index + 1)] == expected, f"packet {index}"
    assert receiver.stats == RtpStats(
        received=len(arrivals), lost=len(dropped), late=0, duplicates=15, invalid=0
    )


# ---- ordering and loss ---------------------------------------------------------------------


def test_in_order_packets_are_released_without_delay() -> None:
    receiver = RtpReceiver(PCMU, None, SILENCE, reorder_window=4)
    packets = stream(100, 0, 8)
    for packet in packets[:4]:
        receiver.receive(packet)
    assert receiver.pop_audio() == b""  # the start of a stream waits for reordering
    receiver.receive(packets[4])
    assert receiver.pop_audio() == payloads(packets[:5])
    for packet in packets[5:]:
        receiver.receive(packet)
        assert receiver.pop_audio() == packet[12:]


def test_packet_later_than_the_window_is_dropped() -> None:
    receiver = RtpReceiver(PCMU, None, SILENCE, reorder_window=2)
    packets = stream(0, 0, 10)
    audio = feed(receiver, packets[:3] + packets[4:9] + [packets[3], packets[9]])
    assert audio == payloads(packets[:3]) + b"\xff" * 160 + payloads(packets[4:])
    assert receiver.stats.late == 1
    assert receiver.stats.lost == 0  # it did arrive


def test_flush_releases_held_packets_in_order() -> None:
    receiver = RtpReceiver(PCMU, None, SILENCE)
    packets = stream(7, 70, 3)
    for packet in (packets[2], packets[0], packets[1]):
        receiver.receive(packet)
    assert receiver.pop_audio() == b""
    assert receiver.flush() == payloads(packets)
    assert receiver.flush() == b""


@pytest.mark.parametrize(("seq", "ts"), [(65530, 1000), (100, 2**32 - 800), (65533, 2**32 - 321)])
def test_wrap_around(seq: int, ts: int) -> None:
    packets = stream(seq, ts, 40)
    sent = shuffle_within(packets[:20] + packets[21:], 3, random.Random(seq))
    receiver = RtpReceiver(PCMU, None, SILENCE)
    audio = feed(receiver, sent)
    assert audio == payloads(packets[:20]) + b"\xff" * 160 + payloads(packets[21:])
    assert receiver.stats == RtpStats(received=39, lost=1)


def test_timestamp_gap_is_filled_and_capped() -> None:
    first = stream(0, 0, 5)
    talkspurt = [
        build_header(PCMU, 5 + i, 800 + 1600 + 160 * i, 1) + b"\x01" * 160 for i in range(3)
    ]
    bogus = [build_header(PCMU, 8, 10**9, 1) + b"\x02" * 160]
    receiver = RtpReceiver(PCMU, None, SILENCE, max_gap_samples=4000)
    audio = feed(receiver, first + talkspurt + bogus)
    expected = payloads(first) + b"\xff" * 1600 + b"\x01" * 480 + b"\xff" * 4000 + b"\x02" * 160
    assert audio == expected
    assert receiver.stats.lost == 0


def test_timestamp_going_back_keeps_the_audio() -> None:
    packets = [build_header(PCMU, i, [0, 160, 80, 240][i], 1) + bytes([i]) * 160 for i in range(4)]
    receiver = RtpReceiver(PCMU, None, SILENCE)
    assert feed(receiver, packets) == payloads(packets)


def test_ssrc_change_continues_without_gap() -> None:
    first = stream(1000, 5000, 10, ssrc=1)
    second = stream(42, 123456789, 10, ssrc=2)
    receiver = RtpReceiver(PCMU, None, SILENCE)
    audio = feed(receiver, first[:4] + first[5:] + second)
    assert audio == payloads(first[:4]) + b"\xff" * 160 + payloads(first[5:]) + payloads(second)
    assert receiver.last_ssrc == 2
    assert receiver.stats == RtpStats(received=19, lost=1)


def test_sender_restart_with_the_same_ssrc_resyncs() -> None:
    first = stream(1000, 5000, 10)
    restarted = stream(40000, 99, 10)
    receiver = RtpReceiver(PCMU, None, SILENCE)
    for packet in first:
        assert receiver.receive(packet)
    # RFC 3550 A.1: one packet after a very large jump is not trusted; two in a row are.
    assert not receiver.receive(restarted[0])
    audio = feed(receiver, restarted[1:])
    assert audio == payloads(first) + payloads(restarted[1:])
    assert receiver.stats.invalid == 1


# ---- other payload types and bad input -----------------------------------------------------


def test_dtmf_and_comfort_noise_among_audio() -> None:
    audio = stream(0, 0, 10)
    events = [
        build_header(DTMF, 10 + i, 1600, 1, marker=i == 0) + struct.pack("!BBH", 5, e, d)
        for i, (e, d) in enumerate([(10, 160), (10, 320), (0x8A, 480), (0x8A, 480), (0x8A, 480)])
    ]
    noise = [build_header(13, 15, 2080, 1) + b"\x40"]
    after = [build_header(PCMU, 16 + i, 2400 + 160 * i, 1) + b"\x07" * 160 for i in range(6)]
    receiver = RtpReceiver(PCMU, DTMF, SILENCE)
    result = feed(receiver, audio + events + noise + after)
    assert receiver.pop_digits() == ["5"]
    assert result == payloads(audio) + b"\xff" * 800 + b"\x07" * 960
    assert receiver.stats == RtpStats(received=22)


def test_dtmf_is_reported_before_the_audio_is_released() -> None:
    receiver = RtpReceiver(PCMU, DTMF, SILENCE)
    receiver.receive(build_header(DTMF, 1, 0, 9, marker=True) + bytes.fromhex("0b0a0000"))
    assert receiver.pop_digits() == ["#"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x00\x00\x01",
        build_header(PCMU, 1, 1, 1)[:11],
        b"\x40" + build_header(PCMU, 1, 1, 1)[1:] + b"x",  # version 1
        build_header(96, 1, 1, 1) + b"x",  # payload type not negotiated
        b"\x80\xc8" + bytes(26),  # RTCP sender report (rtcp-mux)
        b"\xa0" + build_header(PCMU, 1, 1, 1)[1:] + b"ab\x00",  # padding count 0
        b"\xa0" + build_header(PCMU, 1, 1, 1)[1:] + b"ab\x09",  # padding past the header
        b"\x83" + build_header(PCMU, 1, 1, 1)[1:] + bytes(8),  # CSRC list truncated
        b"\x90" + build_header(PCMU, 1, 1, 1)[1:] + b"\x00\x00\x00\x05",  # extension truncated
    ],
)
def test_invalid_datagrams_are_counted_not_raised(data: bytes) -> None:
    receiver = RtpReceiver(PCMU, DTMF, SILENCE)
    assert receiver.receive(data) is False
    assert receiver.stats == RtpStats(invalid=1)
    assert receiver.last_ssrc is None


def test_header_extension_csrc_and_padding_are_skipped() -> None:
    packets = [
        bytes(RtpPacket(PCMU, i, 160 * i, 1, bytes([i]) * 160, csrc=(5,) * (i % 3),
                        extension_profile=0xBEDE if i % 2 else None,
                        extension_data=b"\x01\x02\x03\x04" * (i % 2),
                        padding=b"\x00\x00\x03" if i % 4 == 0 else b""))
        for i in range(8)
    ]  # fmt: skip
    receiver = RtpReceiver(PCMU, None, SILENCE)
    assert feed(receiver, packets) == b"".join(bytes([i]) * 160 for i in range(8))


# ---- properties ----------------------------------------------------------------------------


@settings(database=None, max_examples=300)
@given(st.lists(st.binary(max_size=60), max_size=20))
def test_receive_never_raises_on_arbitrary_bytes(datagrams: list[bytes]) -> None:
    receiver = RtpReceiver(PCMU, DTMF, SILENCE)
    for data in datagrams:
        assert receiver.receive(data) in (True, False)
    receiver.flush()
    stats = receiver.stats
    assert stats.received + stats.invalid == len(datagrams)


packet_fields = st.tuples(
    st.integers(0, 0xFFFF),  # sequence
    st.integers(0, 0xFFFFFFFF),  # timestamp
    st.sampled_from([PCMU, DTMF, 13, 96]),
    st.sampled_from([1, 2]),  # SSRC
    st.binary(max_size=200),
)


@settings(database=None, max_examples=300)
@given(st.lists(packet_fields, max_size=40))
def test_receive_never_raises_on_wild_rtp(fields: list[tuple[int, int, int, int, bytes]]) -> None:
    receiver = RtpReceiver(PCMU, DTMF, SILENCE, max_gap_samples=1000)
    popped = 0
    for seq, ts, pt, ssrc, payload in fields:
        receiver.receive(build_header(pt, seq, ts, ssrc) + payload)
        popped += len(receiver.pop_audio())
        receiver.pop_digits()
    popped += len(receiver.flush())
    assert popped == receiver.samples_written
    audio_bytes = sum(len(p) for _, _, pt, _, p in fields if pt == PCMU)
    assert popped <= audio_bytes + 1000 * len(fields)


@settings(database=None, max_examples=200)
@given(
    seq=st.integers(0, 0xFFFF),
    ts=st.integers(0, 0xFFFFFFFF),
    size=st.sampled_from([80, 160, 240]),
    drops=st.sets(st.integers(1, 48), max_size=10),
    seed=st.integers(0, 2**32),
)
def test_reordered_lossy_stream_lands_at_the_right_offsets(
    seq: int, ts: int, size: int, drops: set[int], seed: int
) -> None:
    packets = [build_header(PCMU, seq + i, ts + i * size, 1) + bytes([i]) * size for i in range(50)]
    rng = random.Random(seed)
    arrivals = shuffle_within([p for i, p in enumerate(packets) if i not in drops], 4, rng)
    for _ in range(5):
        position = rng.randrange(len(arrivals))
        arrivals.insert(min(len(arrivals), position + rng.randint(1, 3)), arrivals[position])
    receiver = RtpReceiver(PCMU, None, SILENCE)
    audio = feed(receiver, arrivals)
    expected = b"".join((b"\xff" if i in drops else bytes([i])) * size for i in range(len(packets)))
    assert audio == expected
    assert receiver.stats == RtpStats(received=len(arrivals), lost=len(drops), duplicates=5)
