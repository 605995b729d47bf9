"""G.711 against the values of the standard and against the stdlib's ``audioop``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from afterbeep.domain import Codec
from afterbeep.media import g711

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # deprecated since 3.11, removed in 3.13: an independent reference

ALL_CODES = bytes(range(256))
ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)


@pytest.mark.parametrize(
    ("code", "value"),
    [
        # µ-law: code bits are inverted on the line; 0x00/0x80 are the extremes (±8031
        # in 14-bit units, ±32124 at 16 bit), both 0xFF and 0x7F decode to zero.
        (0x00, -32124),
        (0x80, 32124),
        (0xFF, 0),
        (0x7F, 0),
        (0xFE, 8),  # u=0x01: (1·8 + 132) - 132
        (0xF0, 120),  # u=0x0F: top of segment 0 (15·8)
        (0xEF, 132),  # u=0x10: segment 1 starts at (132 << 1) - 132
        (0xDF, 396),  # u=0x20: segment 2 starts at (132 << 2) - 132
    ],
)
def test_ulaw_known_values(code: int, value: int) -> None:
    assert g711.ulaw_decode(bytes([code]))[0] == value


@pytest.mark.parametrize(
    ("code", "value"),
    [
        # A-law: even bits inverted (XOR 0x55), sign bit set = positive, no zero level.
        (0xD5, 8),
        (0x55, -8),
        (0xAA, 32256),  # 0xFF after the XOR: segment 7, step 15
        (0x2A, -32256),
        (0x80, 5504),  # 0xD5 after the XOR: segment 5, step 5 -> (5·16 + 264) << 4
        (0xC5, 264),  # 0x90: segment 1, step 0 -> 0x108
    ],
)
def test_alaw_known_values(code: int, value: int) -> None:
    assert g711.alaw_decode(bytes([code]))[0] == value


def test_decode_tables_match_audioop() -> None:
    assert g711.ulaw_decode(ALL_CODES).tobytes() == audioop.ulaw2lin(ALL_CODES, 2)
    assert g711.alaw_decode(ALL_CODES).tobytes() == audioop.alaw2lin(ALL_CODES, 2)


def test_encode_tables_match_audioop_for_every_sample() -> None:
    pcm = ALL_SAMPLES.astype("<i2").tobytes()
    assert g711.ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(pcm, 2)
    assert g711.alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(pcm, 2)


@pytest.mark.parametrize("codec", list(Codec))
def test_every_code_round_trips(codec: Codec) -> None:
    levels = g711.decode(codec, ALL_CODES)
    assert np.array_equal(g711.decode(codec, g711.encode(codec, levels)), levels)


@pytest.mark.parametrize("codec", list(Codec))
def test_encoding_picks_a_nearby_level(codec: Codec) -> None:
    levels = np.unique(g711.decode(codec, ALL_CODES).astype(np.int32))
    steps = np.diff(levels)
    decoded = g711.decode(codec, g711.encode(codec, ALL_SAMPLES)).astype(np.int32)
    error = np.abs(decoded - ALL_SAMPLES)
    # Within the clipping range, never more than one quantisation step away.
    inside = (levels[0] < ALL_SAMPLES) & (levels[-1] > ALL_SAMPLES)
    step_at = steps[np.clip(np.searchsorted(levels, ALL_SAMPLES) - 1, 0, len(steps) - 1)]
    assert np.all(error[inside] <= step_at[inside])


def test_silence_bytes_encode_zero() -> None:
    for codec, byte in g711.SILENCE.items():
        assert g711.encode(codec, np.zeros(1, np.int16)) == bytes([byte])
        assert abs(int(g711.decode(codec, bytes([byte]))[0])) <= 8
    assert g711.SILENCE == {Codec.PCMU: 0xFF, Codec.PCMA: 0xD5}


def test_encode_accepts_non_contiguous_and_lists() -> None:
    samples = np.array([0, 1000, -1000, 32767, -32768, 5], dtype=np.int16)
    assert g711.ulaw_encode(samples[::2]) == g711.ulaw_encode(samples[::2].copy())
    assert g711.alaw_encode([0, 1000]) == g711.alaw_encode(np.array([0, 1000], np.int16))


def test_dispatch_and_transcode() -> None:
    data = bytes(range(0, 256, 3))
    assert np.array_equal(g711.decode(Codec.PCMU, data), g711.ulaw_decode(data))
    assert np.array_equal(g711.decode(Codec.PCMA, data), g711.alaw_decode(data))
    assert g711.transcode(Codec.PCMA, Codec.PCMA, data) is data
    assert g711.transcode(Codec.PCMA, Codec.PCMU, data) == audioop.lin2ulaw(
        audioop.alaw2lin(data, 2), 2
    )
