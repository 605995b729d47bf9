from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.pcap import read_udp_payloads

from afterbeep.rtp import RtpError, RtpPacket, build_header

SIPP = Path("/usr/share/sip-tester")
needs_sipp = pytest.mark.skipif(
    not SIPP.is_dir(), reason="SIPp sample captures not installed (/usr/share/sip-tester)"
)
CAPTURES = sorted(p.name for p in SIPP.glob("*.pcap")) if SIPP.is_dir() else []


@needs_sipp
@pytest.mark.parametrize("name", CAPTURES)
def test_every_captured_packet_round_trips(name: str) -> None:
    datagrams = [data for _, data in read_udp_payloads(SIPP / name)]
    assert datagrams
    for data in datagrams:
        assert bytes(RtpPacket.parse(data)) == data


@needs_sipp
def test_first_g711a_packet_fields() -> None:
    _, data = next(read_udp_payloads(SIPP / "g711a.pcap"))
    packet = RtpPacket.parse(data)
    assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc) == (
        8, 59133, 240, 0xDEE0EE8F
    )  # fmt: skip
    assert packet.marker and len(packet.payload) == 240
    assert packet.csrc == () and packet.extension_profile is None and packet.padding == b""


def test_all_header_parts_parse() -> None:
    # V=2 P=1 X=1 CC=2 | M=1 PT=0 | seq | ts | ssrc | 2 CSRC | ext 0xBEDE, 1 word | payload | pad
    data = (
        bytes([0b1011_0010, 0x80]) + struct.pack("!HII", 0xFFFF, 0xFFFFFFFF, 7)
        + struct.pack("!II", 11, 22) + struct.pack("!HH", 0xBEDE, 1) + b"\x10\xaa\x00\x00"
        + b"audio" + b"\x00\x00\x03"
    )  # fmt: skip
    packet = RtpPacket.parse(data)
    assert packet == RtpPacket(
        payload_type=0, sequence=0xFFFF, timestamp=0xFFFFFFFF, ssrc=7, payload=b"audio",
        marker=True, csrc=(11, 22), extension_profile=0xBEDE,
        extension_data=b"\x10\xaa\x00\x00", padding=b"\x00\x00\x03",
    )  # fmt: skip
    assert bytes(packet) == data


def test_empty_extension_and_payload() -> None:
    data = bytes([0x90, 96]) + struct.pack("!HII", 1, 2, 3) + struct.pack("!HH", 0x1000, 0)
    packet = RtpPacket.parse(data)
    assert packet.extension_profile == 0x1000 and packet.extension_data == b""
    assert packet.payload == b"" and bytes(packet) == data


def test_build_header_matches_the_packet() -> None:
    header = build_header(8, 70000, 2**32 + 5, 0xCAFEBABE, marker=True)
    assert header == bytes(RtpPacket(8, 70000 & 0xFFFF, 5, 0xCAFEBABE, marker=True))
    assert header == bytes.fromhex("80 88 1170 00000005 cafebabe")
    assert build_header(0, 1, 2, 3) == bytes.fromhex("80 00 0001 00000002 00000003")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x00\x00", "shorter than its header"),
        (bytes([0x40, 0]) + bytes(10), "version 1"),
        (bytes([0x00, 0]) + bytes(10), "version 0"),
        (bytes([0x81, 0]) + bytes(10), "CSRC"),
        (bytes([0x90, 0]) + bytes(10) + b"\x00\x00", "extension"),
        (bytes([0x90, 0]) + bytes(10) + b"\x00\x00\x00\x02" + bytes(4), "extension"),
        (bytes([0xA0, 0]) + bytes(10) + b"ab\x00", "padding"),
        (bytes([0xA0, 0]) + bytes(10) + b"ab\x04", "padding"),
    ],
)
def test_malformed_packets(data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        RtpPacket.parse(data)


def test_serialising_invalid_fields() -> None:
    with pytest.raises(RtpError, match="32-bit words"):
        bytes(RtpPacket(0, 0, 0, 0, extension_profile=1, extension_data=b"abc"))
    with pytest.raises(RtpError, match="padding"):
        bytes(RtpPacket(0, 0, 0, 0, padding=b"\x00\x05"))
    with pytest.raises(RtpError, match="CSRC"):
        bytes(RtpPacket(0, 0, 0, 0, csrc=tuple(range(16))))
    with pytest.raises(RtpError, match="out of range"):
        bytes(RtpPacket(0, 65536, 0, 0))


@settings(database=None, max_examples=500)
@given(st.binary(max_size=80))
def test_parse_either_parses_or_raises_rtp_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        return
    assert bytes(packet) == data


@settings(database=None)
@given(
    st.binary(min_size=1, max_size=1).map(lambda b: bytes([0x80 | (b[0] & 0x3F)]))
    | st.just(b"\x80"),
    st.binary(min_size=11, max_size=120),
)
def test_parse_version_2_datagrams(first: bytes, rest: bytes) -> None:
    data = first + rest
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        return
    assert bytes(packet) == data
    assert len(packet.csrc) == data[0] & 0x0F
