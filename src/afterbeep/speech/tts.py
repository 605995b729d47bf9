"""Offline speech synthesis with espeak-ng, to telephone-band WAV.

espeak-ng is GPL, so it is run as a program, never linked: the text goes in as one argument
of an argument list (no shell, and after ``--`` so that a text starting with '-' is not read as
an option), the WAV comes back on stdout. Its 22,050 Hz output is resampled to 8 kHz with
``afterbeep.media.resample``, trimmed of the silence espeak-ng leaves around speech and
normalised to the level of the shipped recordings (-3 dBFS peak, as ``render_prompts`` does).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from afterbeep.media.resample import resample
from afterbeep.media.wav import WavError, encode_wav, read_wav

__all__ = ["VOICES", "Espeak", "Synthesizer", "TtsError", "telephone_wav"]

RATE = 8000
VOICES: Mapping[str, str] = {
    "en": "en-us",
    "de": "de",
    "it": "it",
    "fi": "fi",
    "el": "el",
    "ru": "ru",
}
_PEAK = 0.708 * 32767  # -3 dBFS
_QUIET = 200  # about -44 dBFS: below this, espeak-ng's lead-in and tail are silence
_MARGIN = RATE * 30 // 1000  # keep 30 ms around the speech so its edges are not clipped


class TtsError(RuntimeError):
    """The synthesizer is missing, failed, or produced no audio."""


class Synthesizer(Protocol):
    """Turns text into 8 kHz mono 16-bit PCM WAV bytes."""

    def voice_key(self, language: str) -> str:
        """Names the engine, voice and settings: a cached rendering is reused only for the
        same key (a new voice or speed renders again)."""
        ...

    def synthesize(self, text: str, language: str) -> bytes: ...

    async def synthesize_async(self, text: str, language: str) -> bytes: ...


def telephone_wav(data: bytes) -> bytes:
    """Any WAV from a synthesizer as trimmed, normalised 8 kHz mono 16-bit PCM WAV."""
    try:
        samples, rate = read_wav(data)
    except WavError as exc:
        raise TtsError(f"the synthesizer's output is not a WAV file: {exc}") from exc
    audio = resample(samples, rate, RATE)
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) >= _QUIET)
    if len(loud) == 0:
        raise TtsError("the synthesizer produced only silence")
    audio = audio[max(0, loud[0] - _MARGIN) : loud[-1] + _MARGIN]
    peak = float(np.max(np.abs(audio.astype(np.float64))))
    scaled = np.clip(np.rint(audio * (_PEAK / peak)), -32768, 32767).astype(np.int16)
    return encode_wav(None, scaled)


@dataclass(frozen=True, slots=True)
class Espeak:
    """espeak-ng, by language: ``Espeak().synthesize("Привет", "ru")``."""

    binary: str = "espeak-ng"
    speed: int = 155  # words per minute; espeak-ng's default 175 is hard to follow on a phone
    voices: Mapping[str, str] = field(default_factory=lambda: dict(VOICES))
    timeout: float = 30.0

    def voice(self, language: str) -> str:
        primary = language.replace("_", "-").split("-", 1)[0].lower()
        return self.voices.get(language, self.voices.get(primary, primary))

    def voice_key(self, language: str) -> str:
        return f"espeak-ng/{self.voice(language)}/{self.speed}"

    def command(self, text: str, language: str) -> list[str]:
        voice = self.voice(language)
        return [self.binary, "-v", voice, "-s", str(self.speed), "--stdout", "--", text]

    def synthesize(self, text: str, language: str) -> bytes:
        """Blocking: for tools and for a cache miss outside the event loop."""
        try:
            done = subprocess.run(
                self.command(text, language), capture_output=True, timeout=self.timeout
            )
        except FileNotFoundError as exc:
            raise TtsError(self._missing()) from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TtsError(f"espeak-ng failed: {exc}") from exc
        return self._result(done.returncode, done.stdout, done.stderr)

    async def synthesize_async(self, text: str, language: str) -> bytes:
        """The same without blocking the event loop (subprocess and resampling)."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command(text, language),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as exc:
            raise TtsError(self._missing()) from exc
        except OSError as exc:
            raise TtsError(f"espeak-ng failed to start: {exc}") from exc
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(), self.timeout)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise TtsError(f"espeak-ng took more than {self.timeout} s") from exc
        assert proc.returncode is not None  # communicate() waited for the exit
        return await asyncio.to_thread(self._result, proc.returncode, stdout, stderr)

    def _missing(self) -> str:
        return (
            f"espeak-ng not found ({self.binary!r}): install the espeak-ng package "
            "to speak prompts that have no recording"
        )

    def _result(self, returncode: int, stdout: bytes, stderr: bytes) -> bytes:
        if returncode != 0 or not stdout:
            detail = stderr.decode("utf-8", "replace").strip() or f"exit status {returncode}"
            raise TtsError(f"espeak-ng failed: {detail}")
        return telephone_wav(stdout)
