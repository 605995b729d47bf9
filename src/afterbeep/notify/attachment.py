"""A stored message's audio, converted for an e-mail attachment.

Messages are stored as 8 kHz mono G.711 WAV, which many mail clients and phones will not
play; the attachment is either 16-bit PCM WAV (plays everywhere) or a small MP3. CPU-bound
and synchronous: callers run it in a worker thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lameenc
import numpy as np
import numpy.typing as npt

from afterbeep.domain import AudioFormat
from afterbeep.media.g711 import decode
from afterbeep.media.resample import resample
from afterbeep.media.wav import WavError, encode_wav, read_g711_wav, read_wav

__all__ = ["MP3_BIT_RATE_KBPS", "MP3_QUALITY", "Attachment", "make_attachment"]

RATE = 8000
# 16 kbit/s MPEG-2.5 Layer III at 8 kHz: a 30 s message is 60 KB (G.711 WAV: 240 KB, PCM
# WAV: 480 KB) and decodes with a 0.995 correlation to the G.711 audio, which is itself the
# quality ceiling. 8 kbit/s is audibly "watery"; 24 kbit/s adds 50 % size for nothing a
# telephone-band voice needs. Quality 5 (LAME's default speed/quality trade-off) encodes 30 s
# in ~20 ms; quality 2 took ~30-45 ms for no measurable gain at this bit rate.
MP3_BIT_RATE_KBPS = 16
MP3_QUALITY = 5


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]+")


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    data: bytes


def _samples(wav_bytes: bytes) -> npt.NDArray[np.int16]:
    """The message as 8 kHz mono int16; any other readable WAV is converted too."""
    try:
        stored = read_g711_wav(wav_bytes)
        if stored is not None:
            samples = decode(*stored)
        else:
            pcm, rate = read_wav(wav_bytes)
            samples = pcm if rate == RATE else resample(pcm, rate, RATE)
    except WavError as exc:  # a subclass already, but say what we were doing
        raise ValueError(f"cannot decode the message audio: {exc}") from exc
    if samples.size == 0:
        raise ValueError("cannot decode the message audio: it holds no samples")
    return samples


def _mp3(samples: npt.NDArray[np.int16]) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_in_sample_rate(RATE)
    encoder.set_out_sample_rate(RATE)  # keep 8 kHz: LAME would otherwise pick its own rate
    encoder.set_channels(1)
    encoder.set_bit_rate(MP3_BIT_RATE_KBPS)
    encoder.set_quality(MP3_QUALITY)
    return bytes(encoder.encode(samples.astype("<i2").tobytes())) + bytes(encoder.flush())


def make_attachment(wav_bytes: bytes, fmt: AudioFormat, basename: str) -> Attachment:
    """The stored WAV converted to ``fmt``, named ``basename`` plus the format's extension.

    Raises ``ValueError`` when the bytes are not audio this server can decode.
    """
    samples = _samples(wav_bytes)
    # The name ends up in a MIME parameter and on the user's disk: keep it plain.
    stem = _UNSAFE_NAME.sub("_", basename).strip("._") or "voicemail"
    if fmt is AudioFormat.MP3:
        return Attachment(f"{stem}.mp3", "audio", "mpeg", _mp3(samples))
    return Attachment(f"{stem}.wav", "audio", "wav", encode_wav(None, samples, RATE))
