"""WAV files in and out, as bytes (the store does the file I/O).

Messages are stored as 8 kHz mono G.711 WAV with a fixed-size header, so a recorder can
reserve the header, append audio as it arrives and patch the sizes at the end. Greetings and
prompts may arrive in any common WAV flavour; ``to_telephone`` turns them into G.711 payload.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from afterbeep.domain import Codec
from afterbeep.media.g711 import decode, encode, transcode
from afterbeep.media.resample import resample

__all__ = [
    "WavError",
    "encode_wav",
    "header_size",
    "read_g711_wav",
    "read_wav",
    "resample",
    "to_telephone",
    "wav_header",
]

PCM, IEEE_FLOAT, ALAW, MULAW, EXTENSIBLE = 1, 3, 6, 7, 0xFFFE
_TAG = {Codec.PCMU: MULAW, Codec.PCMA: ALAW}
_CODEC = {tag: codec for codec, tag in _TAG.items()}
# KSDATAFORMAT_SUBTYPE_* GUIDs are {tag}-0000-0010-8000-00AA00389B71; bytes 2.. as stored.
_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")
_SUPPORTED_BITS = {PCM: (8, 16, 24, 32), IEEE_FLOAT: (32, 64), ALAW: (8,), MULAW: (8,)}

_PCM_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")  # RIFF, fmt (16), data
_G711_HEADER = struct.Struct("<4sI4s4sIHHIIHHH4sII4sI")  # RIFF, fmt (18), fact, data


class WavError(ValueError):
    """The bytes are not a WAV file this module can read."""


@dataclass(frozen=True, slots=True)
class _Format:
    tag: int  # the real format: an EXTENSIBLE file's sub-format
    channels: int
    rate: int
    bits: int
    block_align: int


def header_size(codec: Codec | None) -> int:
    """Length of ``wav_header(codec, …)``: constant, so a writer can reserve it up front."""
    return _PCM_HEADER.size if codec is None else _G711_HEADER.size


def wav_header(codec: Codec | None, data_bytes: int, rate: int = 8000) -> bytes:
    """Header for a mono WAV of ``data_bytes`` audio bytes; ``None`` means 16-bit PCM.

    G.711 is a non-PCM format, so its fmt chunk carries cbSize and a fact chunk gives the
    sample count. The RIFF size counts the pad byte that must follow odd-sized data.
    """
    riff_size = header_size(codec) - 8 + data_bytes + (data_bytes & 1)
    if data_bytes < 0 or riff_size > 0xFFFFFFFF:
        raise WavError(f"{data_bytes} bytes of audio do not fit in a RIFF file")
    if codec is None:
        return _PCM_HEADER.pack(
            b"RIFF", riff_size, b"WAVE", b"fmt ", 16, PCM, 1, rate, rate * 2, 2, 16,
            b"data", data_bytes,
        )  # fmt: skip
    return _G711_HEADER.pack(
        b"RIFF", riff_size, b"WAVE", b"fmt ", 18, _TAG[codec], 1, rate, rate, 1, 8, 0,
        b"fact", 4, data_bytes, b"data", data_bytes,
    )  # fmt: skip


def encode_wav(
    codec: Codec | None, audio: bytes | npt.NDArray[np.int16], rate: int = 8000
) -> bytes:
    """A whole mono WAV file.

    ``audio`` is G.711 payload (bytes) or int16 samples to encode; for ``codec=None`` it is
    int16 samples or raw little-endian 16-bit PCM bytes.
    """
    if isinstance(audio, bytes):
        payload = audio
    elif codec is None:
        payload = np.asarray(audio, dtype="<i2").tobytes()
    else:
        payload = encode(codec, audio)
    pad = b"\x00" if len(payload) & 1 else b""
    return wav_header(codec, len(payload), rate) + payload + pad


def _parse_fmt(body: bytes) -> _Format:
    if len(body) < 16:
        raise WavError(f"fmt chunk of {len(body)} bytes is too short")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == EXTENSIBLE:
        if len(body) < 40:
            raise WavError("WAVE_FORMAT_EXTENSIBLE fmt chunk is too short")
        guid = body[24:40]
        if guid[2:] != _GUID_TAIL:
            raise WavError(f"unsupported WAVE_FORMAT_EXTENSIBLE sub-format {guid.hex()}")
        tag = struct.unpack_from("<H", guid)[0]
    if bits not in _SUPPORTED_BITS.get(tag, ()):
        raise WavError(f"unsupported WAV format: tag {tag:#06x} with {bits} bits per sample")
    if channels == 0 or rate == 0:
        raise WavError(f"invalid WAV format: {channels} channels at {rate} Hz")
    if block_align != channels * (bits // 8):
        raise WavError(f"block align {block_align} does not match {channels}×{bits} bits")
    return _Format(tag, channels, rate, bits, block_align)


def _parse(data: bytes) -> tuple[_Format, bytes]:
    """The format and the audio bytes (whole frames only) of a RIFF/WAVE file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    fmt: _Format | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        size = struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        end = body + size
        if chunk_id == b"data":
            if fmt is None:
                raise WavError("data chunk before the fmt chunk")
            if size == 0 or end > len(data):
                end = len(data)  # a writer that crashed before patching the size
            usable = (end - body) // fmt.block_align * fmt.block_align
            return fmt, data[body : body + usable]
        if end > len(data):
            raise WavError(f"{chunk_id!r} chunk runs past the end of the file")
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(data[body:end])
        offset = end + (size & 1)  # RIFF chunks are word-aligned
    raise WavError("no fmt chunk" if fmt is None else "no data chunk")


def _to_float(fmt: _Format, payload: bytes) -> npt.NDArray[np.float64]:
    """Samples scaled to the int16 range, before mixing down or rounding."""
    if fmt.tag == PCM and fmt.bits == 8:  # 8-bit PCM is unsigned
        return (np.frombuffer(payload, np.uint8).astype(np.float64) - 128.0) * 256.0
    if fmt.tag == PCM and fmt.bits == 24:
        raw = np.frombuffer(payload, np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        return np.where(value >= 1 << 23, value - (1 << 24), value) / 256.0
    if fmt.tag == PCM:
        return np.frombuffer(payload, f"<i{fmt.bits // 8}").astype(np.float64) / (
            1 << (fmt.bits - 16)
        )
    if fmt.tag == IEEE_FLOAT:
        return np.frombuffer(payload, f"<f{fmt.bits // 8}").astype(np.float64) * 32768.0
    return decode(_CODEC[fmt.tag], payload).astype(np.float64)


def read_wav(data: bytes) -> tuple[npt.NDArray[np.int16], int]:
    """Decode any supported WAV to mono int16 samples; returns (samples, sample rate)."""
    fmt, payload = _parse(data)
    if fmt.channels == 1 and fmt.bits == 16 and fmt.tag == PCM:
        return np.frombuffer(payload, "<i2").astype(np.int16), fmt.rate
    if fmt.channels == 1 and fmt.tag in _CODEC:
        return decode(_CODEC[fmt.tag], payload), fmt.rate
    samples = _to_float(fmt, payload).reshape(-1, fmt.channels).mean(axis=1)
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16), fmt.rate


def read_g711_wav(data: bytes) -> tuple[Codec, bytes] | None:
    """(codec, raw payload) of an 8 kHz mono G.711 WAV; None for any other valid WAV."""
    fmt, payload = _parse(data)
    if fmt.tag in _CODEC and fmt.channels == 1 and fmt.rate == 8000:
        return _CODEC[fmt.tag], payload
    return None


def to_telephone(data: bytes, codec: Codec) -> bytes:
    """Any readable WAV as 8 kHz mono G.711 payload of ``codec`` (greetings, prompts)."""
    stored = read_g711_wav(data)
    if stored is not None:
        return transcode(stored[0], codec, stored[1])
    samples, rate = read_wav(data)
    return encode(codec, resample(samples, rate, 8000))
