"""Audio processing, sans I/O: G.711, tones, silence detection, WAV and resampling.

``tones.silence`` (a run of zero samples) is not re-exported: the name would hide the
``silence`` (detection) submodule.
"""

from afterbeep.media.g711 import (
    SILENCE,
    alaw_decode,
    alaw_encode,
    decode,
    encode,
    transcode,
    ulaw_decode,
    ulaw_encode,
)
from afterbeep.media.resample import resample
from afterbeep.media.silence import SilenceDetector, frame_rms
from afterbeep.media.tones import beep, tone, warning_tone
from afterbeep.media.wav import (
    WavError,
    encode_wav,
    header_size,
    read_g711_wav,
    read_wav,
    to_telephone,
    wav_header,
)

__all__ = [
    "SILENCE",
    "SilenceDetector",
    "WavError",
    "alaw_decode",
    "alaw_encode",
    "beep",
    "decode",
    "encode",
    "encode_wav",
    "frame_rms",
    "header_size",
    "read_g711_wav",
    "read_wav",
    "resample",
    "to_telephone",
    "tone",
    "transcode",
    "ulaw_decode",
    "ulaw_encode",
    "warning_tone",
    "wav_header",
]
