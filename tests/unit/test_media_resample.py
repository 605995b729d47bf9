from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from afterbeep.media import resample


def sine(
    freq: float, rate: int, seconds: float = 1.0, amplitude: float = 10000.0
) -> npt.NDArray[np.int16]:
    t = np.arange(round(rate * seconds)) / rate
    return np.rint(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def rms(samples: npt.NDArray[np.int16]) -> float:
    middle = samples[len(samples) // 10 : -len(samples) // 10].astype(np.float64)
    return float(np.sqrt(np.mean(middle * middle)))


def peak_hz(samples: npt.NDArray[np.int16], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate", [11025, 16000, 22050, 44100, 48000])
def test_in_band_tone_keeps_frequency_and_level(rate: int) -> None:
    out = resample(sine(1000, rate), rate, 8000)
    assert out.dtype == np.int16
    assert len(out) == 8000
    assert peak_hz(out, 8000) == pytest.approx(1000, abs=2)
    assert rms(out) == pytest.approx(10000 / np.sqrt(2), rel=0.01)


def test_telephone_band_is_flat() -> None:
    out = resample(sine(3400, 44100), 44100, 8000)
    assert rms(out) == pytest.approx(10000 / np.sqrt(2), rel=0.05)


@pytest.mark.parametrize(
    ("rate", "freq"), [(44100, 6000), (48000, 5000), (22050, 4500), (16000, 7000)]
)
def test_out_of_band_tone_does_not_alias(rate: int, freq: float) -> None:
    # Naive decimation would fold these into the band at full level (6 kHz -> 2 kHz).
    out = resample(sine(freq, rate), rate, 8000)
    assert rms(out) < 10000 / np.sqrt(2) * 10 ** (-60 / 20)


def test_upsampling_round_trip() -> None:
    original = sine(700, 8000)
    up = resample(original, 8000, 48000)
    assert len(up) == 48000
    assert peak_hz(up, 48000) == pytest.approx(700, abs=2)
    back = resample(up, 48000, 8000)
    assert np.max(np.abs(back[100:-100].astype(int) - original[100:-100])) <= 2


def test_odd_rate_ratio() -> None:
    out = resample(sine(1000, 8001), 8001, 8000)
    assert len(out) == 8000
    assert rms(out) == pytest.approx(10000 / np.sqrt(2), rel=0.01)


def test_edge_cases() -> None:
    samples = sine(500, 8000, 0.01)
    same = resample(samples, 8000, 8000)
    assert np.array_equal(same, samples) and same is not samples
    assert len(resample(np.zeros(0, np.int16), 16000, 8000)) == 0
    assert len(resample(np.zeros(3, np.int16), 44100, 8000)) == 1
    loud = np.full(4000, 32767, np.int16)
    assert resample(loud, 16000, 8000)[500:1500].min() >= 32700  # clipped, not wrapped
    with pytest.raises(ValueError, match="positive"):
        resample(samples, 0, 8000)
