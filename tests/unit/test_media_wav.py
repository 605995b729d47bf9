from __future__ import annotations

import io
import struct
import wave

import numpy as np
import numpy.typing as npt
import pytest

from afterbeep.domain import Codec
from afterbeep.media import (
    WavError,
    alaw_encode,
    decode,
    encode,
    encode_wav,
    header_size,
    read_g711_wav,
    read_wav,
    to_telephone,
    tone,
    ulaw_encode,
    wav_header,
)

SAMPLES = np.array([0, 1, -1, 1000, -1000, 32767, -32768, 12345], dtype=np.int16)
PCM_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")


def with_wave(
    samples: npt.NDArray[np.int64], width: int, rate: int = 8000, channels: int = 1
) -> bytes:
    """A PCM file written by the stdlib ``wave`` module (an independent writer)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        if width == 1:
            raw = (samples + 128).astype(np.uint8).tobytes()
        elif width == 3:
            raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in samples)
        else:
            raw = samples.astype(f"<i{width}").tobytes()
        writer.writeframes(raw)
    return out.getvalue()


def riff(*chunks: tuple[bytes, bytes], declared: dict[bytes, int] | None = None) -> bytes:
    body = b"WAVE"
    for chunk_id, data in chunks:
        size = (declared or {}).get(chunk_id, len(data))
        body += chunk_id + struct.pack("<I", size) + data + (b"\x00" if len(data) & 1 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt(tag: int, channels: int, rate: int, bits: int, extra: bytes = b"") -> tuple[bytes, bytes]:
    align = channels * bits // 8
    return b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits) + extra


# ---- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize(("codec", "tag"), [(Codec.PCMU, 7), (Codec.PCMA, 6)])
def test_g711_header_layout(codec: Codec, tag: int) -> None:
    header = wav_header(codec, 8001)
    assert len(header) == header_size(codec) == 58
    assert header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt "
    (riff_size,) = struct.unpack_from("<I", header, 4)
    assert riff_size == 58 - 8 + 8001 + 1  # the pad byte after odd data counts
    assert struct.unpack_from("<IHHIIHHH", header, 16) == (18, tag, 1, 8000, 8000, 1, 8, 0)
    assert header[38:46] == b"fact" + struct.pack("<I", 4)
    assert struct.unpack_from("<I", header, 46) == (8001,)  # samples
    assert header[50:58] == b"data" + struct.pack("<I", 8001)


def test_header_size_is_constant() -> None:
    for codec in (None, Codec.PCMU, Codec.PCMA):
        assert {len(wav_header(codec, n)) for n in (0, 1, 160, 10**8)} == {header_size(codec)}
    assert header_size(None) == 44


def test_pcm_file_is_readable_by_stdlib_wave() -> None:
    data = encode_wav(None, SAMPLES, rate=16000)
    with wave.open(io.BytesIO(data)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (
            1,
            2,
            16000,
        )
        assert reader.readframes(100) == SAMPLES.astype("<i2").tobytes()


@pytest.mark.parametrize("codec", list(Codec))
def test_g711_file_round_trip(codec: Codec) -> None:
    payload = encode(codec, tone(440, 0.1)) + b"\x12"  # odd length: padded
    data = encode_wav(codec, payload)
    assert len(data) == header_size(codec) + len(payload) + 1
    assert read_g711_wav(data) == (codec, payload)
    samples, rate = read_wav(data)
    assert rate == 8000 and np.array_equal(samples, decode(codec, payload))
    assert encode_wav(codec, decode(codec, payload)) == data  # samples are encoded


def test_wav_header_rejects_impossible_sizes() -> None:
    with pytest.raises(WavError):
        wav_header(Codec.PCMU, 2**32)
    with pytest.raises(ValueError):
        wav_header(None, -1)


# ---- reading -------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "scale"), [(1, 1 / 256), (2, 1), (3, 256), (4, 65536)])
def test_read_integer_pcm(width: int, scale: float) -> None:
    values = np.array([0, 64, -64, 127, -128, 100, -3, 77], dtype=np.int64) * 256
    stored = np.floor(values * scale).astype(np.int64)
    samples, rate = read_wav(with_wave(stored, width, rate=22050))
    assert rate == 22050
    assert samples.dtype == np.int16
    assert samples.tolist() == values.tolist()


def test_read_24_bit_rounds_to_16_bits() -> None:
    data = with_wave(np.array([0x7FFFFF, -0x800000, 0x123456, -0x123456, 0x1234C0]), 3)
    samples, _ = read_wav(data)
    assert samples.tolist() == [32767, -32768, 0x1234, -0x1234, 0x1235]


def test_stereo_is_mixed_down() -> None:
    frames = np.array([[1000, 3000], [-2000, -2000], [32767, 32767], [5, -5]])
    samples, _ = read_wav(with_wave(frames.ravel(), 2, channels=2))
    assert samples.tolist() == [2000, -2000, 32767, 0]


def test_read_float() -> None:
    values = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0], dtype="<f4")
    data = riff(fmt(3, 1, 44100, 32), (b"data", values.tobytes()))
    samples, rate = read_wav(data)
    assert rate == 44100
    assert samples.tolist() == [0, 16384, -16384, 32767, -32768, 32767]


@pytest.mark.parametrize(("sub_tag", "bits"), [(1, 16), (3, 32), (7, 8)])
def test_read_extensible(sub_tag: int, bits: int) -> None:
    extension = struct.pack("<HHI", 22, bits, 0x3) + struct.pack("<H", sub_tag) + PCM_GUID_TAIL
    stereo = np.repeat(SAMPLES, 2)
    if sub_tag == 1:
        payload = stereo.astype("<i2").tobytes()
    elif sub_tag == 3:
        payload = (stereo / 32768).astype("<f4").tobytes()
    else:
        payload = ulaw_encode(stereo)
    data = riff(fmt(0xFFFE, 2, 8000, bits, extension), (b"data", payload))
    samples, _ = read_wav(data)
    expected = decode(Codec.PCMU, ulaw_encode(SAMPLES)) if sub_tag == 7 else SAMPLES
    assert samples.tolist() == expected.tolist()
    assert read_g711_wav(data) is None  # stereo: not the fast path


def test_unknown_chunks_and_odd_padding_are_skipped() -> None:
    payload = alaw_encode(SAMPLES)
    data = riff(
        (b"JUNK", b"abc"),  # odd size: followed by a pad byte
        fmt(6, 1, 8000, 8),
        (b"LIST", b"INFOISFT\x05\x00\x00\x00test\x00"),
        (b"data", payload),
        (b"id3 ", b"trailing"),
    )
    assert read_g711_wav(data) == (Codec.PCMA, payload)


@pytest.mark.parametrize("declared", [0, 0xFFFFFFFF, 10_000])
def test_data_size_of_a_crashed_writer(declared: int) -> None:
    payload = ulaw_encode(SAMPLES)
    data = riff(fmt(7, 1, 8000, 8), (b"data", payload), declared={b"data": declared})
    assert read_g711_wav(data) == (Codec.PCMU, payload)


def test_partial_last_frame_is_dropped() -> None:
    data = riff(fmt(1, 2, 8000, 16), (b"data", SAMPLES.astype("<i2").tobytes() + b"\x01\x02"))
    samples, _ = read_wav(data)
    pairs = SAMPLES.astype(np.float64).reshape(-1, 2).mean(axis=1)
    assert samples.tolist() == np.rint(pairs).astype(int).tolist()


def test_read_g711_wav_is_only_for_telephone_g711() -> None:
    assert read_g711_wav(encode_wav(None, SAMPLES)) is None
    wide = riff(fmt(7, 1, 16000, 8), (b"data", b"\xff" * 10))
    assert read_g711_wav(wide) is None
    assert read_wav(wide)[1] == 16000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a RIFF/WAVE"),
        (b"RIFX" + bytes(8), "not a RIFF/WAVE"),
        (riff((b"data", b"\x00\x00")), "before the fmt"),
        (riff(fmt(1, 1, 8000, 16)), "no data chunk"),
        (riff((b"LIST", b"abcd")), "no fmt chunk"),
        (riff(fmt(2, 1, 8000, 4), (b"data", b"\x00")), "unsupported WAV format"),
        (riff(fmt(1, 1, 8000, 12), (b"data", b"\x00")), "unsupported WAV format"),
        (riff((b"fmt ", b"\x01\x00"), (b"data", b"")), "too short"),
        (riff(fmt(1, 0, 8000, 16), (b"data", b"")), "0 channels"),
        (
            riff(
                fmt(0xFFFE, 1, 8000, 16, struct.pack("<HHI", 22, 16, 4) + bytes(16)), (b"data", b"")
            ),
            "sub-format",
        ),
        (riff(fmt(1, 1, 8000, 16)) + b"LIST\xff\x00\x00\x00", "past the end"),
    ],
)
def test_errors(data: bytes, message: str) -> None:
    with pytest.raises(WavError, match=message):
        read_wav(data)


def test_wav_error_is_a_value_error() -> None:
    assert issubclass(WavError, ValueError)


# ---- to_telephone --------------------------------------------------------------------------


def test_to_telephone_resamples_and_encodes() -> None:
    data = with_wave(tone(1000, 1.0, rate=16000).astype(np.int64), 2, rate=16000)
    payload = to_telephone(data, Codec.PCMU)
    assert len(payload) == 8000
    samples = decode(Codec.PCMU, payload).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) == 1000  # 1 Hz bins over one second


def test_to_telephone_stored_g711() -> None:
    payload = ulaw_encode(tone(440, 0.2))
    data = encode_wav(Codec.PCMU, payload)
    assert to_telephone(data, Codec.PCMU) == payload
    assert to_telephone(data, Codec.PCMA) == alaw_encode(decode(Codec.PCMU, payload))
