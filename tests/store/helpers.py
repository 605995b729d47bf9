"""Reading back the WAV files the store writes (format tags 7 = µ-law, 6 = A-law)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class G711Wav:
    format_tag: int
    channels: int
    sample_rate: int
    riff_size: int
    fact_samples: int
    payload: bytes


def parse_g711_wav(data: bytes) -> G711Wav:
    """Parse strictly: the sizes in the header must agree with the file's length."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", "not a RIFF/WAVE file"
    (riff_size,) = struct.unpack_from("<I", data, 4)
    assert riff_size == len(data) - 8, f"RIFF size {riff_size} for a {len(data)}-byte file"
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset < len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        chunks[chunk_id] = data[offset + 8 : offset + 8 + size]
        assert len(chunks[chunk_id]) == size, f"chunk {chunk_id!r} runs past the end"
        offset += 8 + size + (size & 1)
    tag, channels, rate, byte_rate, align, bits, cb_size = struct.unpack(
        "<HHIIHHH", chunks[b"fmt "]
    )
    assert (byte_rate, align, bits, cb_size) == (rate, 1, 8, 0)
    (fact,) = struct.unpack("<I", chunks[b"fact"])
    return G711Wav(tag, channels, rate, riff_size, fact, chunks[b"data"])


def make_test_wav(payload: bytes = b"\xff" * 800) -> bytes:
    """A small µ-law WAV file, as an upload would be."""
    fmt = struct.pack("<HHIIHHH", 7, 1, 8000, 8000, 1, 8, 0)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(payload))
        + payload
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pending_files(root: Path) -> list[Path]:
    """The sidecars of recordings not yet committed."""
    return list(root.rglob("*.pending.json"))
