"""RTP fixed header (RFC 3550 §5.1): parse and build."""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
HEADER = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, sequence, timestamp, SSRC
_EXTENSION = struct.Struct("!HH")  # profile-defined, length in 32-bit words


class RtpError(ValueError):
    """The bytes are not a well-formed RTP packet."""


def build_header(
    payload_type: int, sequence: int, timestamp: int, ssrc: int, marker: bool = False
) -> bytes:
    """The 12-byte header of a plain packet (no CSRC, extension or padding): the send path."""
    second = (payload_type | 0x80) if marker else payload_type
    return HEADER.pack(0x80, second, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet. ``padding`` holds the padding octets, count octet included."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension_profile: int | None = None  # None: no header extension (X = 0)
    extension_data: bytes = b""
    padding: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < HEADER.size:
            raise RtpError(f"RTP packet of {len(data)} bytes is shorter than its header")
        first, second, sequence, timestamp, ssrc = HEADER.unpack_from(data)
        # RFC 3550 §5.1: "version (V): 2 bits. This field identifies the version of RTP.
        # The version defined by this specification is two (2)."
        if first >> 6 != RTP_VERSION:
            raise RtpError(f"RTP version {first >> 6}, expected 2")
        # "CSRC count (CC): 4 bits. The CSRC count contains the number of CSRC identifiers
        # that follow the fixed header."
        offset = HEADER.size + 4 * (first & 0x0F)
        if offset > len(data):
            raise RtpError("RTP packet truncated in its CSRC list")
        csrc = struct.unpack_from(f"!{first & 0x0F}I", data, HEADER.size)
        profile = None
        extension = b""
        # §5.3.1: "a 16-bit length field that counts the number of 32-bit words in the
        # extension, excluding the four-octet extension header".
        if first & 0x10:
            if offset + 4 > len(data):
                raise RtpError("RTP packet truncated in its header extension")
            profile, words = _EXTENSION.unpack_from(data, offset)
            extension = data[offset + 4 : offset + 4 + 4 * words]
            offset += 4 + 4 * words
            if offset > len(data):
                raise RtpError("RTP packet truncated in its header extension")
        end = len(data)
        # "padding (P): ... The last octet of the padding contains a count of how many
        # padding octets should be ignored, including itself."
        if first & 0x20:
            count = data[-1]
            if count == 0 or end - count < offset:
                raise RtpError(f"RTP padding count {count} does not fit the packet")
            end -= count
        return cls(
            payload_type=second & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=data[offset:end],
            marker=bool(second & 0x80),
            csrc=csrc,
            extension_profile=profile,
            extension_data=extension,
            padding=data[end:],
        )

    def __bytes__(self) -> bytes:
        if len(self.csrc) > 15:
            raise RtpError(f"{len(self.csrc)} CSRCs; at most 15 fit")
        if len(self.extension_data) % 4:
            raise RtpError("RTP header extension data must be a whole number of 32-bit words")
        if self.padding and self.padding[-1] != len(self.padding):
            raise RtpError("the last padding octet must count the padding octets")
        first = 0x80 | len(self.csrc)
        first |= 0x20 if self.padding else 0
        first |= 0x10 if self.extension_profile is not None else 0
        second = self.payload_type | (0x80 if self.marker else 0)
        try:
            parts = [
                HEADER.pack(first, second, self.sequence, self.timestamp, self.ssrc),
                struct.pack(f"!{len(self.csrc)}I", *self.csrc),
            ]
            if self.extension_profile is not None:
                words = len(self.extension_data) // 4
                parts += [_EXTENSION.pack(self.extension_profile, words), self.extension_data]
        except struct.error as exc:
            raise RtpError(f"RTP header field out of range: {exc}") from None
        parts += [self.payload, self.padding]
        return b"".join(parts)
