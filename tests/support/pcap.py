"""Read and write the classic libpcap format (link type 1, Ethernet/IPv4/UDP).

Used to take RTP test vectors out of SIPp's sample captures and to build the pcap files that
SIPp's ``play_pcap_audio`` sends.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")


def read_udp_payloads(path: Path) -> Iterator[tuple[float, bytes]]:
    """Yield (time, UDP payload) for each IPv4/UDP frame of an Ethernet capture."""
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    link = struct.unpack_from(endian + "I", data, 20)[0]
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(endian + "IIII", data, offset)
        offset += 16
        frame = data[offset : offset + incl]
        offset += incl
        ip = frame[14:] if link == 1 else frame[16:] if link == 113 else frame
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        udp_len = struct.unpack_from("!H", ip, ihl + 4)[0]
        yield sec + frac / (1e9 if nano else 1e6), ip[ihl + 8 : ihl + udp_len]


def _checksum(header: bytes) -> int:
    words: tuple[int, ...] = struct.unpack(f"!{len(header) // 2}H", header)
    total = sum(words)
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def write_rtp_pcap(
    path: Path,
    payload: bytes,
    payload_type: int,
    *,
    frame_bytes: int = 160,
    ssrc: int = 0x1234ABCD,
    src_port: int = 6000,
    dst_port: int = 6002,
) -> int:
    """Write G.711 ``payload`` as one RTP packet per 20 ms; returns the packet count."""
    out = bytearray(_GLOBAL.pack(0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    count = 0
    for index in range(0, len(payload) - frame_bytes + 1, frame_bytes):
        rtp = struct.pack("!BBHII", 0x80, payload_type, count & 0xFFFF, count * 160, ssrc)
        rtp += payload[index : index + frame_bytes]
        udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(rtp), 0) + rtp
        ip = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            count & 0xFFFF,
            0,
            64,
            17,
            0,
            bytes([127, 0, 0, 1]),
            bytes([127, 0, 0, 1]),
        )
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        usec = count * 20_000
        out += _RECORD.pack(usec // 1_000_000, usec % 1_000_000, len(frame), len(frame))
        out += frame
        count += 1
    path.write_bytes(bytes(out))
    return count
