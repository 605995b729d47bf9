from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from afterbeep.media import beep, tone, warning_tone
from afterbeep.media.tones import silence


def peak_hz(samples: npt.NDArray[np.int16], rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def test_beep_is_half_a_second_of_1khz() -> None:
    samples = beep()
    assert samples.dtype == np.int16
    assert len(samples) == 4000
    assert peak_hz(samples) == pytest.approx(1000, abs=2)
    assert np.max(np.abs(samples)) == pytest.approx(0.3 * 32767, rel=0.01)


@pytest.mark.parametrize(("freq", "rate"), [(440.0, 8000), (1400.0, 8000), (3000.0, 16000)])
def test_tone_frequency_and_duration(freq: float, rate: int) -> None:
    samples = tone(freq, 0.25, amplitude=0.5, rate=rate)
    assert len(samples) == rate // 4
    assert peak_hz(samples, rate) == pytest.approx(freq, abs=rate / len(samples))


def test_fades_have_no_click() -> None:
    samples = tone(1000, 0.1, amplitude=1.0).astype(np.int32)
    assert abs(samples[0]) < 50 and abs(samples[-1]) < 500
    # A sine cannot move faster than 2π·f·A per second; a hard edge would.
    max_step = 2 * np.pi * 1000 / 8000 * 32767
    assert np.max(np.abs(np.diff(samples))) <= max_step
    edge = np.abs(samples[:20]).max()
    assert edge < 0.5 * np.abs(samples[200:400]).max()  # still ramping up after 2.5 ms


def test_warning_tone_is_two_pips() -> None:
    samples = warning_tone()
    loud = np.abs(samples) > 1000
    starts = np.flatnonzero(np.diff(loud.astype(int)) == 1)
    # Two separate bursts, with silence between them.
    gaps = np.flatnonzero(np.diff(np.flatnonzero(loud)) > 400)
    assert len(gaps) == 1 and len(starts) >= 1
    assert peak_hz(samples) == pytest.approx(440, abs=8)


def test_silence() -> None:
    assert np.array_equal(silence(0.02), np.zeros(160, np.int16))
    assert len(silence(1.0, rate=16000)) == 16000


def test_amplitude_is_checked() -> None:
    with pytest.raises(ValueError, match="amplitude"):
        tone(1000, 0.1, amplitude=1.5)
