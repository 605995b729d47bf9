"""Self-checks of tests/support/audio.py: the e2e tests trust these helpers to judge audio."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from tests.support.audio import (
    FRAME_SAMPLES,
    best_correlation,
    g711_payload,
    make_rtp_pcap,
    read_wav_any,
    tone_power,
    tone_wav,
    write_wav,
)
from tests.support.pcap import read_udp_payloads

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")


def test_best_correlation_finds_a_known_lag() -> None:
    rng = np.random.default_rng(4475)
    reference = rng.standard_normal(4000)
    recording = np.concatenate((np.zeros(1234), reference, np.zeros(777)))
    recording += 0.01 * rng.standard_normal(recording.size)
    score, lag = best_correlation(recording, reference)
    assert lag == 1234
    assert score > 0.99


def test_best_correlation_negative_lag_and_unrelated_audio() -> None:
    rng = np.random.default_rng(1)
    signal = rng.standard_normal(3000)
    score, lag = best_correlation(signal[500:], signal)  # b starts 500 samples before a
    assert lag == -500
    # A sixth of b is missing from a: the score drops to about sqrt(5/6).
    assert score == pytest.approx(np.sqrt(2500 / 3000), abs=0.03)
    unrelated, _ = best_correlation(rng.standard_normal(3000), rng.standard_normal(3000))
    assert unrelated < 0.2
    assert best_correlation([], signal) == (0.0, 0)


def test_best_correlation_ignores_level_and_silence() -> None:
    rng = np.random.default_rng(2)
    reference = rng.standard_normal(2000)
    recording = np.concatenate((np.zeros(8000), 0.05 * reference, np.zeros(8000)))
    score, lag = best_correlation(recording, reference)
    assert lag == 8000
    assert score > 0.999


@needs_sox
@pytest.mark.parametrize(("codec", "payload_type"), [("PCMU", 0), ("PCMA", 8)])
def test_pcap_round_trip(tmp_path: Path, codec: str, payload_type: int) -> None:
    rng = np.random.default_rng(3)
    # 1.01 s: not a whole number of 20 ms frames, so the padding path runs too.
    samples = 0.3 * np.sin(2 * np.pi * 440 * np.arange(8080) / 8000)
    samples += 0.05 * rng.standard_normal(samples.size)
    wav = write_wav(tmp_path / "in.wav", samples)
    payload = g711_payload(wav, codec)
    assert len(payload) == 8080
    pcap = tmp_path / "in.pcap"
    count = make_rtp_pcap(wav, pcap, codec)
    packets = [data for _, data in read_udp_payloads(pcap)]
    assert count == len(packets) == 51
    seqs = []
    for packet in packets:
        assert packet[0] == 0x80
        assert packet[1] & 0x7F == payload_type
        assert len(packet) == 12 + FRAME_SAMPLES
        seqs.append(int.from_bytes(packet[2:4], "big"))
    assert seqs == list(range(count))
    sent = b"".join(packet[12:] for packet in packets)
    assert sent[: len(payload)] == payload
    assert len(set(sent[len(payload) :])) == 1  # G.711 silence padding


@needs_sox
@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_read_wav_any_decodes_g711_wav(tmp_path: Path, codec: str) -> None:
    """A G.711 WAV (what the server exports) decodes back close to the original."""
    import subprocess

    source = tone_wav(tmp_path / "tone.wav", 1000.0, 0.5, amplitude=0.4)
    encoded = tmp_path / f"tone-{codec}.wav"
    encoding = "mu-law" if codec == "PCMU" else "a-law"
    subprocess.run(
        ["sox", str(source), "-e", encoding, "-b", "8", str(encoded)], check=True, timeout=60
    )
    original, rate = read_wav_any(source)
    decoded, rate2 = read_wav_any(encoded)
    assert rate == rate2 == 8000
    assert decoded.size == original.size == 4000
    score, lag = best_correlation(decoded, original)
    assert lag == 0
    assert score > 0.99
    assert tone_power(decoded, rate, 1000.0) > 0.9
