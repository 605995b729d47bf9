"""The stored G.711 message converted to a WAV or MP3 attachment.

The stored file is built from sox's G.711 encoding (tests/support/audio.py) and the results are
read back with the stdlib ``wave`` module and with sox, so the checks do not share code with
the conversion under test.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from io import BytesIO
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from afterbeep.domain import AudioFormat, Codec
from afterbeep.media.g711 import decode
from afterbeep.media.wav import encode_wav
from afterbeep.notify.attachment import Attachment, make_attachment
from tests.support.audio import SAMPLE_RATE, best_correlation, g711_payload, write_wav

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")


def _speech_like(seconds: float) -> npt.NDArray[np.float64]:
    """A voiced sound: a harmonic series whose pitch glides 80-180 Hz, syllable-rate AM."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = 130 + 50 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 25))
    envelope = (0.5 + 0.5 * np.sin(2 * np.pi * 3.5 * t)) ** 2
    return 0.25 * voiced * envelope


def _stored(tmp_path: Path, codec: Codec, seconds: float = 3.0) -> bytes:
    """A message as the store keeps it: sox-encoded G.711 in afterbeep's WAV header."""
    source = write_wav(tmp_path / "source.wav", _speech_like(seconds))
    return encode_wav(codec, g711_payload(source, codec.value))


def _wav_samples(attachment: Attachment) -> npt.NDArray[np.int16]:
    with wave.open(BytesIO(attachment.data), "rb") as reader:
        assert reader.getnchannels() == 1
        assert reader.getsampwidth() == 2
        assert reader.getframerate() == SAMPLE_RATE
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, "<i2").astype(np.int16)


@needs_sox
@pytest.mark.parametrize("codec", [Codec.PCMU, Codec.PCMA])
def test_wav_attachment_holds_the_decoded_samples(tmp_path: Path, codec: Codec) -> None:
    stored = _stored(tmp_path, codec)
    attachment = make_attachment(stored, AudioFormat.WAV, "voicemail-20240305-1402")
    assert (attachment.filename, attachment.maintype, attachment.subtype) == (
        "voicemail-20240305-1402.wav",
        "audio",
        "wav",
    )
    payload = g711_payload(tmp_path / "source.wav", codec.value)
    np.testing.assert_array_equal(_wav_samples(attachment), decode(codec, payload))


def _sox_decode(tmp_path: Path, mp3: bytes) -> npt.NDArray[np.float64]:
    path = tmp_path / "message.mp3"
    path.write_bytes(mp3)
    raw = subprocess.run(
        ["sox", str(path), "-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1", "-"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return np.frombuffer(raw, "<i2").astype(np.float64)


@needs_sox
@pytest.mark.parametrize("codec", [Codec.PCMU, Codec.PCMA])
def test_mp3_attachment_sounds_like_the_message(tmp_path: Path, codec: Codec) -> None:
    stored = _stored(tmp_path, codec, seconds=5.0)
    attachment = make_attachment(stored, AudioFormat.MP3, "voicemail")
    assert (attachment.filename, attachment.maintype, attachment.subtype) == (
        "voicemail.mp3",
        "audio",
        "mpeg",
    )
    # 16 kbit/s for 5 s is 10 kB, plus a frame or two of encoder delay.
    assert 9_000 < len(attachment.data) < 12_000
    decoded = _sox_decode(tmp_path, attachment.data)
    original = decode(codec, g711_payload(tmp_path / "source.wav", codec.value))
    score, lag = best_correlation(decoded, original)
    assert score > 0.95
    assert 0 <= lag < 2 * 1152  # MP3 encoder/decoder delay: a frame or two, never negative


@needs_sox
def test_mp3_keeps_the_telephone_sample_rate(tmp_path: Path) -> None:
    attachment = make_attachment(_stored(tmp_path, Codec.PCMU), AudioFormat.MP3, "m")
    path = tmp_path / "m.mp3"
    path.write_bytes(attachment.data)
    rate = subprocess.run(
        ["sox", "--i", "-r", str(path)], capture_output=True, check=True, text=True, timeout=60
    ).stdout
    assert rate.strip() == "8000"


def test_other_wav_flavours_are_converted() -> None:
    # A 16 kHz PCM WAV (not how messages are stored, but readable): resampled to 8 kHz.
    t = np.arange(16000) / 16000
    pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    attachment = make_attachment(encode_wav(None, pcm, 16000), AudioFormat.WAV, "m")
    samples = _wav_samples(attachment)
    assert abs(samples.size - 8000) <= 1
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    assert abs(int(np.argmax(spectrum)) * SAMPLE_RATE / samples.size - 440) < 5


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a wav file at all",
        b"RIFF\x04\x00\x00\x00WAVE",  # no chunks
        encode_wav(Codec.PCMU, b""),  # a header and no audio
    ],
)
@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_undecodable_audio_raises_value_error(data: bytes, fmt: AudioFormat) -> None:
    with pytest.raises(ValueError, match="cannot decode the message audio"):
        make_attachment(data, fmt, "voicemail")


def test_filename_is_sanitized() -> None:
    stored = encode_wav(Codec.PCMA, bytes([0xD5]) * 800)
    attachment = make_attachment(stored, AudioFormat.WAV, "../../etc/pass\r\nwd +1 555")
    assert attachment.filename == "etc_pass_wd_+1_555.wav"
    assert make_attachment(stored, AudioFormat.WAV, "..").filename == "voicemail.wav"
