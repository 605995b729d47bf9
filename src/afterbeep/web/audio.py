"""Audio that people upload or record in the browser, made into telephone audio.

ffmpeg decodes whatever a browser or a phone produces (WAV, MP3, Ogg/Opus, WebM from
MediaRecorder, M4A, FLAC, …) into 8 kHz mono 16-bit WAV; what it cannot decode is refused
with its reason. It reads a temporary file, not a pipe: MP4 keeps its index at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile

from afterbeep.media.wav import WavError, read_wav
from afterbeep.store.errors import InvalidValue

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MIN_SECONDS = 0.5
MAX_SECONDS = 600.0
TIMEOUT_SECONDS = 60.0


async def to_telephone_wav(data: bytes) -> bytes:
    """``data`` (any common audio format) as 8 kHz mono 16-bit PCM WAV."""
    if not data:
        raise InvalidValue("the upload is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidValue(f"the upload is larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB")
    fd, path = tempfile.mkstemp(prefix="afterbeep-upload-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        wav = await _ffmpeg(path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    try:
        samples, rate = read_wav(wav)
    except WavError as exc:
        raise InvalidValue(f"cannot decode the upload as audio: {exc}") from None
    seconds = len(samples) / rate
    if seconds < MIN_SECONDS:
        raise InvalidValue(f"the recording is too short ({seconds:.1f} s)")
    if seconds > MAX_SECONDS:
        raise InvalidValue(
            f"the recording is too long ({seconds:.0f} s; at most {MAX_SECONDS:.0f})"
        )
    return wav


async def _ffmpeg(path: str) -> bytes:
    try:
        process = await asyncio.create_subprocess_exec(
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", path,
            "-vn", "-ac", "1", "-ar", "8000", "-c:a", "pcm_s16le", "-f", "wav", "-",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    except FileNotFoundError:
        raise InvalidValue("audio uploads need ffmpeg, which is not installed") from None
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise InvalidValue("decoding the upload took too long") from None
    if process.returncode != 0 or not out:
        reason = err.decode(errors="replace").strip().splitlines()
        detail = reason[-1] if reason else "unknown format"
        raise InvalidValue(f"cannot decode the upload as audio: {detail}")
    return _fix_sizes(out)


def _fix_sizes(wav: bytes) -> bytes:
    """ffmpeg writing to a pipe cannot seek back to fill in the RIFF and data sizes."""
    if wav[:4] != b"RIFF" or (at := wav.find(b"data")) < 0:
        return wav
    body = len(wav) - (at + 8)
    return (
        wav[:4] + (len(wav) - 8).to_bytes(4, "little") + wav[8 : at + 4]
        + body.to_bytes(4, "little") + wav[at + 8 :]
    )  # fmt: skip
