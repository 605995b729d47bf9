from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from afterbeep.media import SilenceDetector, frame_rms

RNG = np.random.default_rng(20240501)


def speech_like(seconds: float, dbfs: float = -20.0) -> npt.NDArray[np.int16]:
    """Noise with a 4 Hz syllable-like envelope, RMS about ``dbfs``."""
    n = round(seconds * 8000)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * np.arange(n) / 8000)
    noise = RNG.standard_normal(n) * envelope * 32768 * 10 ** (dbfs / 20)
    return np.clip(noise, -32768, 32767).astype(np.int16)


def quiet(seconds: float, dbfs: float = -60.0) -> npt.NDArray[np.int16]:
    """Steady background noise at ``dbfs``."""
    noise = RNG.standard_normal(round(seconds * 8000)) * 32768 * 10 ** (dbfs / 20)
    return np.clip(noise, -32768, 32767).astype(np.int16)


def test_frame_rms_known_values() -> None:
    samples = np.concatenate(
        [np.full(160, 1000), np.tile([300, -300], 80), np.zeros(160), np.full(50, 9)]
    ).astype(np.int16)
    assert frame_rms(samples).tolist() == pytest.approx([1000.0, 300.0, 0.0])
    assert frame_rms(samples[:100]).shape == (0,)


def test_speech_is_not_silence() -> None:
    detector = SilenceDetector()
    assert detector.feed(speech_like(1.0)) == 0.0
    assert detector.feed(speech_like(1.0)) == 0.0


def test_quiet_noise_accumulates_and_speech_resets() -> None:
    detector = SilenceDetector()
    assert detector.feed(quiet(1.0)) == pytest.approx(1.0)
    assert detector.feed(quiet(1.0)) == pytest.approx(2.0)
    assert detector.feed(np.concatenate([quiet(0.5), speech_like(0.2), quiet(0.3)])) == (
        pytest.approx(0.3)
    )
    detector.reset()
    assert detector.feed(quiet(0.4)) == pytest.approx(0.4)


def test_threshold_separates_levels() -> None:
    assert SilenceDetector(threshold_dbfs=-42).feed(quiet(1.0, dbfs=-45)) == pytest.approx(1.0)
    assert SilenceDetector(threshold_dbfs=-42).feed(quiet(1.0, dbfs=-38)) == 0.0


def test_batches_need_not_be_whole_frames() -> None:
    audio = np.concatenate([speech_like(0.5), quiet(1.5)])
    whole = SilenceDetector().feed(audio)
    detector = SilenceDetector()
    result = 0.0
    for start in range(0, len(audio), 1234):
        result = detector.feed(audio[start : start + 1234])
    assert result == pytest.approx(whole) == pytest.approx(1.5)


def test_other_rate() -> None:
    detector = SilenceDetector(rate=16000)
    assert detector.feed(np.zeros(16000, np.int16)) == pytest.approx(1.0)
