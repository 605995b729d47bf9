"""Tones the server plays itself: the record beep and the "time is nearly up" warning."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE = 8000
FADE_SECONDS = 0.005  # long enough to avoid a click, short enough to keep the tone crisp

BEEP_HZ = 1000.0
BEEP_SECONDS = 0.5
WARNING_HZ = 440.0
WARNING_PIP_SECONDS = 0.15
WARNING_GAP_SECONDS = 0.1


def silence(seconds: float, rate: int = RATE) -> npt.NDArray[np.int16]:
    return np.zeros(round(seconds * rate), dtype=np.int16)


def tone(
    freq_hz: float, seconds: float, *, amplitude: float = 0.3, rate: int = RATE
) -> npt.NDArray[np.int16]:
    """A sine of ``amplitude`` × full scale, with raised-cosine fade in and out.

    Starting or stopping a sine at a non-zero slope is heard as a click; the 5 ms ramps
    bring it smoothly from and to zero.
    """
    if not 0.0 <= amplitude <= 1.0:
        raise ValueError(f"amplitude must be within [0, 1], not {amplitude}")
    n = round(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    wave = np.sin(2.0 * np.pi * freq_hz * t) * (amplitude * 32767.0)
    fade = min(round(FADE_SECONDS * rate), n // 2)
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade, dtype=np.float64) / fade)
        wave[:fade] *= ramp
        wave[n - fade :] *= ramp[::-1]
    return np.rint(wave).astype(np.int16)


def beep(rate: int = RATE) -> npt.NDArray[np.int16]:
    """The classic voicemail "record after the tone" beep: 1 kHz for half a second."""
    return tone(BEEP_HZ, BEEP_SECONDS, rate=rate)


def warning_tone(rate: int = RATE) -> npt.NDArray[np.int16]:
    """Two short 440 Hz pips: the recording is about to be cut off."""
    pip = tone(WARNING_HZ, WARNING_PIP_SECONDS, rate=rate)
    return np.concatenate([pip, silence(WARNING_GAP_SECONDS, rate), pip])
