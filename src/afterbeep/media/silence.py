"""Energy-based silence detection, used to end a recording after a long pause."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FULL_SCALE = 32768.0


def frame_rms(samples: npt.NDArray[np.int16], frame: int = 160) -> npt.NDArray[np.float64]:
    """RMS of each whole ``frame`` of samples (160 = 20 ms at 8 kHz); a partial tail is ignored."""
    count = len(samples) // frame
    blocks = np.asarray(samples[: count * frame], dtype=np.float64).reshape(count, frame)
    return np.sqrt(np.mean(blocks * blocks, axis=1)) if count else np.zeros(0)


class SilenceDetector:
    """Tracks how long the audio has been quiet, one 20 ms frame at a time.

    A frame is silent when its RMS is below ``threshold_dbfs`` (relative to a full-scale
    square wave). Samples that do not fill a whole frame are kept for the next batch, so
    the result does not depend on how the stream is cut into batches.
    """

    def __init__(self, threshold_dbfs: float = -42.0, rate: int = 8000) -> None:
        self.threshold_dbfs = threshold_dbfs
        self.rate = rate
        self._frame = rate // 50
        self._threshold_rms = FULL_SCALE * math.pow(10.0, threshold_dbfs / 20.0)
        self._pending = np.zeros(0, dtype=np.int16)
        self._silent_frames = 0

    def feed(self, samples: npt.NDArray[np.int16]) -> float:
        """Add a batch; returns the length in seconds of the trailing run of silent frames."""
        if len(self._pending):
            samples = np.concatenate([self._pending, samples])
        whole = len(samples) - len(samples) % self._frame
        self._pending = np.array(samples[whole:], dtype=np.int16)
        loud = np.flatnonzero(frame_rms(samples[:whole], self._frame) >= self._threshold_rms)
        count = whole // self._frame
        if len(loud):
            self._silent_frames = count - 1 - int(loud[-1])
        else:
            self._silent_frames += count
        return self.silent_seconds

    @property
    def silent_seconds(self) -> float:
        return self._silent_frames * self._frame / self.rate

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.int16)
        self._silent_frames = 0
