"""ITU-T G.711 µ-law and A-law, as lookup tables built once at import.

Decoding is a 256-entry table indexed by the code; encoding a 65536-entry table indexed by
the uint16 view of the int16 sample, so both are one NumPy gather per batch. The tables
follow the classic Sun reference implementation (``g711.c``), which is what ``audioop``
and most telephony stacks use: the values are the 16-bit scaled G.711 reconstruction levels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from afterbeep.domain import Codec

Samples = npt.NDArray[np.int16]

# The byte that decodes to zero: µ-law has a true zero (0xFF); A-law has no zero level,
# 0xD5 is the smallest positive one (+8) and is the conventional A-law silence.
SILENCE: dict[Codec, int] = {Codec.PCMU: 0xFF, Codec.PCMA: 0xD5}


def _ulaw_decode_table() -> Samples:
    # G.711 Table 2a: codes are transmitted inverted; 3-bit segment, 4-bit step, bias 33
    # (0x84 at 16-bit scale) removed after the shift.
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> Samples:
    # G.711 Table 1a: even bits are inverted (XOR 0x55); segment 0 and 1 share a step size.
    a = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (a >> 4) & 0x07
    t = ((a & 0x0F) << 4) + np.where(segment == 0, 8, 0x108)
    magnitude = np.where(segment > 1, t << np.maximum(segment - 1, 0), t)
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.int16)


def _all_int16() -> npt.NDArray[np.int32]:
    # Index i of an encode table is the uint16 bit pattern of the sample it encodes.
    return np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = _all_int16() >> 2  # 14-bit magnitude range
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    pcm = np.minimum(np.abs(pcm), 8159) + 33  # clip, then add the bias
    seg_end = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    seg = np.searchsorted(seg_end, pcm)
    code = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | ((pcm >> (seg + 1)) & 0x0F))
    return (code ^ mask).astype(np.uint8)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = _all_int16() >> 3  # 13-bit range
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    pcm = np.where(pcm >= 0, pcm, -pcm - 1)
    seg_end = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    seg = np.searchsorted(seg_end, pcm)
    step = np.where(seg < 2, pcm >> 1, pcm >> np.maximum(seg, 1)) & 0x0F
    code = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | step)
    return (code ^ mask).astype(np.uint8)


_ULAW_DECODE = _ulaw_decode_table()
_ALAW_DECODE = _alaw_decode_table()
_ULAW_ENCODE = _ulaw_encode_table()
_ALAW_ENCODE = _alaw_encode_table()
for _table in (_ULAW_DECODE, _ALAW_DECODE, _ULAW_ENCODE, _ALAW_ENCODE):
    _table.flags.writeable = False


def _as_index(samples: npt.ArrayLike) -> npt.NDArray[np.uint16]:
    return np.ascontiguousarray(samples, dtype=np.int16).view(np.uint16)


def ulaw_decode(data: bytes) -> Samples:
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_decode(data: bytes) -> Samples:
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(samples: npt.ArrayLike) -> bytes:
    return _ULAW_ENCODE[_as_index(samples)].tobytes()


def alaw_encode(samples: npt.ArrayLike) -> bytes:
    return _ALAW_ENCODE[_as_index(samples)].tobytes()


def decode(codec: Codec, data: bytes) -> Samples:
    return ulaw_decode(data) if codec is Codec.PCMU else alaw_decode(data)


def encode(codec: Codec, samples: npt.ArrayLike) -> bytes:
    return ulaw_encode(samples) if codec is Codec.PCMU else alaw_encode(samples)


def transcode(source: Codec, target: Codec, data: bytes) -> bytes:
    """Re-encode G.711 payload bytes from one law to the other (identity when equal)."""
    if source is target:
        return data
    return encode(target, decode(source, data))
