"""Test audio: speech from espeak-ng, G.711 payloads and RTP captures, and comparisons.

Everything here goes through ``sox`` (and ``espeak-ng`` for speech) rather than afterbeep's own
codecs, so a test that compares what it sent with what the server stored does not share a bug
with the code under test.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from tests.support.pcap import write_rtp_pcap

Codec = Literal["PCMU", "PCMA"]

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz, one G.711 byte per sample
PAYLOAD_TYPES: dict[str, int] = {"PCMU": 0, "PCMA": 8}
SOX_ENCODINGS: dict[str, str] = {"PCMU": "mu-law", "PCMA": "a-law"}
SILENCE_BYTES: dict[str, int] = {"PCMU": 0xFF, "PCMA": 0xD5}  # G.711 encodings of zero


class AudioToolError(RuntimeError):
    """sox or espeak-ng is missing or failed; the message carries its stderr."""


def _codec(codec: str) -> Codec:
    name = codec.upper()
    aliases = {"ULAW": "PCMU", "MULAW": "PCMU", "ALAW": "PCMA"}
    name = aliases.get(name, name)
    if name == "PCMU":
        return "PCMU"
    if name == "PCMA":
        return "PCMA"
    raise ValueError(f"unknown G.711 codec {codec!r} (use PCMU or PCMA)")


def _run(args: list[str]) -> bytes:
    if shutil.which(args[0]) is None:
        raise AudioToolError(f"{args[0]} is not installed (apt-get install -y sox espeak-ng)")
    if args[0] == "sox" and "--i" not in args:
        # No dither: the same input always gives the same bytes (tests compare them).
        args = ["sox", "-D", *args[1:]]
    result = subprocess.run(args, capture_output=True, check=False, timeout=120)
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace").strip()
        raise AudioToolError(f"{' '.join(args)} exited {result.returncode}: {stderr}")
    return result.stdout


def speech_wav(
    text: str,
    path: Path,
    voice: str = "en",
    *,
    words_per_minute: int = 160,
    gain_db: float = -6.0,
) -> Path:
    """Speak ``text`` with espeak-ng into an 8 kHz mono 16-bit WAV at ``path``.

    The result is normalised to ``gain_db`` dBFS peak so that G.711 neither clips nor drowns it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="afterbeep-tts-") as tmp:
        raw = Path(tmp) / "espeak.wav"
        _run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(raw), text])
        _run(
            [
                "sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
                "-e", "signed-integer", str(path), "gain", "-n", str(gain_db),
            ]
        )  # fmt: skip
    return path


def tone_wav(path: Path, frequency: float, seconds: float, *, amplitude: float = 0.5) -> Path:
    """A sine tone as an 8 kHz mono 16-bit WAV (written with numpy and ``wave``)."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    samples = amplitude * np.sin(2 * np.pi * frequency * t)
    return write_wav(path, samples)


def write_wav(path: Path, samples: npt.ArrayLike, rate: int = SAMPLE_RATE) -> Path:
    """Write float samples in -1..1 as a mono 16-bit PCM WAV."""
    data = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0)
    pcm = np.round(data * 32767).astype("<i2")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def wav_duration(path: Path) -> float:
    """Length in seconds of any audio file sox can read."""
    return float(_run(["sox", "--i", "-D", str(path)]).decode().strip())


def g711_payload(wav_path: Path, codec: str) -> bytes:
    """The raw G.711 bytes (8 kHz mono, one byte a sample) of ``wav_path``, encoded by sox."""
    name = _codec(codec)
    return _run(
        [
            "sox", str(wav_path), "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1",
            "-e", SOX_ENCODINGS[name], "-b", "8", "-",
        ]
    )  # fmt: skip


def make_rtp_pcap(wav_path: Path, pcap_path: Path, codec: str = "PCMU") -> int:
    """Write ``wav_path`` as a SIPp ``play_pcap_audio`` capture; returns the packet count.

    One RTP packet per 20 ms (PT 0 for PCMU, 8 for PCMA); the last frame is padded with G.711
    silence so that no audio is dropped. The audio lasts ``packets * 20`` ms.
    """
    name = _codec(codec)
    payload = g711_payload(wav_path, name)
    remainder = len(payload) % FRAME_SAMPLES
    if remainder:
        payload += bytes([SILENCE_BYTES[name]]) * (FRAME_SAMPLES - remainder)
    pcap_path = Path(pcap_path)
    pcap_path.parent.mkdir(parents=True, exist_ok=True)
    return write_rtp_pcap(pcap_path, payload, PAYLOAD_TYPES[name])


DTMF_EVENTS = {str(digit): digit for digit in range(10)} | {"*": 10, "#": 11}
DTMF_EVENTS |= {"A": 12, "B": 13, "C": 14, "D": 15}


def make_dtmf_pcap(
    pcap_path: Path,
    digits: str = "#",
    *,
    payload_type: int = 101,
    ssrc: int = 0x5EED4733,
    first_seq: int = 3000,
    first_timestamp: int = 480000,
    duration_ms: int = 160,
    gap_ms: int = 100,
    volume: int = 10,
) -> float:
    """Write RFC 4733 telephone-event packets for ``digits`` as a SIPp capture.

    Like sip-tester's ``dtmf_2833_*.pcap`` (an update every 20 ms, marker on the first packet,
    the end packet sent three times), but with the SSRC, sequence numbers and timestamps given
    here, so that a second '#' in a call is not mistaken for a replay of the first. A ','
    in ``digits`` is a second of silence (the caller listens). Returns the capture's length
    in seconds.
    """
    records: list[tuple[int, bytes]] = []  # (microseconds, RTP packet)
    seq, timestamp, now_us = first_seq, first_timestamp, 0
    step = SAMPLE_RATE // 50  # 160 timestamp units per 20 ms update
    for digit in digits:
        if digit == ",":
            timestamp += SAMPLE_RATE
            now_us += 1_000_000
            continue
        event = DTMF_EVENTS[digit.upper()]
        updates = max(1, duration_ms // 20)
        for index in range(updates):
            end = index == updates - 1
            duration = (index + 1) * step
            payload = struct.pack("!BBH", event, (0x80 if end else 0) | volume, duration)
            repeats = 3 if end else 1
            for _ in range(repeats):
                marker = 0x80 if index == 0 else 0
                header = struct.pack(
                    "!BBHII", 0x80, marker | payload_type, seq & 0xFFFF, timestamp, ssrc
                )
                records.append((now_us, header + payload))
            seq += 1
            now_us += 20_000
        timestamp += (updates + gap_ms // 20) * step
        now_us += gap_ms * 1000
    _write_udp_pcap(Path(pcap_path), records)
    return max(now_us, records[-1][0] + 20_000) / 1e6 if records else now_us / 1e6


def make_phone_pcap(
    pcap_path: Path,
    script: str,
    speech: bytes = b"",
    *,
    ssrc: int = 0x5EED1234,
    first_seq: int = 5000,
    first_timestamp: int = 160000,
) -> float:
    """What a phone sends on one PCMU stream, as a SIPp capture: keys as RFC 4733 events
    (PT 101), ',' a second of silence, '~' the G.711 µ-law ``speech`` (e.g. a spoken
    comment or greeting), each in 20 ms packets with one SSRC, sequence and clock. Returns
    the capture's length in seconds."""
    records: list[tuple[int, bytes]] = []
    seq, timestamp, now_us = first_seq, first_timestamp, 0
    step = FRAME_SAMPLES

    def audio(payload: bytes) -> None:
        nonlocal seq, timestamp, now_us
        for start in range(0, len(payload), step):
            frame = payload[start : start + step].ljust(step, b"\xff")
            header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, timestamp, ssrc)
            records.append((now_us, header + frame))
            seq, timestamp, now_us = seq + 1, timestamp + step, now_us + 20_000

    for token in script:
        if token == ",":
            audio(b"\xff" * SAMPLE_RATE)
        elif token == "~":
            audio(speech)
        else:
            event = DTMF_EVENTS[token.upper()]
            updates = 8  # 160 ms
            for index in range(updates):
                end = index == updates - 1
                payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, (index + 1) * step)
                marker = 0x80 if index == 0 else 0
                header = struct.pack("!BBHII", 0x80, marker | 101, seq & 0xFFFF, timestamp, ssrc)
                for _ in range(3 if end else 1):
                    records.append((now_us, header + payload))
                seq, now_us = seq + 1, now_us + 20_000
            timestamp += updates * step
            audio(b"\xff" * (5 * step))  # 100 ms between keys
    _write_udp_pcap(Path(pcap_path), records)
    return now_us / 1e6


def _write_udp_pcap(path: Path, records: list[tuple[int, bytes]]) -> None:
    """Classic pcap, Ethernet/IPv4/UDP 127.0.0.1:6000 -> 6002 (SIPp rewrites the addresses)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for count, (usec, data) in enumerate(records):
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(data), 0) + data
        ip = bytearray(
            struct.pack(
                "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), count & 0xFFFF, 0, 64, 17, 0,
                bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]),
            )
        )  # fmt: skip
        total = sum(struct.unpack("!10H", bytes(ip)))
        total = (total >> 16) + (total & 0xFFFF)
        total += total >> 16
        ip[10:12] = struct.pack("!H", ~total & 0xFFFF)
        frame = b"\x00" * 12 + b"\x08\x00" + bytes(ip) + udp
        out += struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame))
        out += frame
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))


def make_silence_pcap(pcap_path: Path, seconds: float, codec: str = "PCMU") -> int:
    """G.711 silence as a SIPp capture; returns the packet count."""
    name = _codec(codec)
    frames = max(1, round(seconds * 50))
    payload = bytes([SILENCE_BYTES[name]]) * (frames * FRAME_SAMPLES)
    return write_rtp_pcap(Path(pcap_path), payload, PAYLOAD_TYPES[name])


def read_wav_any(path: Path) -> tuple[npt.NDArray[np.float64], int]:
    """Decode any WAV sox understands (PCM16, µ-law, A-law, …) to mono floats in -1..1.

    Returns ``(samples, sample_rate)``. sox does the decoding, independent of afterbeep.
    """
    rate = int(float(_run(["sox", "--i", "-r", str(path)]).decode().strip()))
    raw = _run(
        [
            "sox", str(path), "-t", "raw", "-e", "signed-integer", "-b", "16",
            "-L", "-c", "1", "-",
        ]
    )  # fmt: skip
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    return samples, rate


def best_correlation(
    a: npt.ArrayLike, b: npt.ArrayLike, *, min_overlap: float = 0.5
) -> tuple[float, int]:
    """Peak normalised cross-correlation of ``b`` against ``a``, and the lag where it peaks.

    The lag is where ``b`` starts inside ``a``: ``a[lag : lag + len(b)]`` matches ``b`` (it is
    negative when ``b`` starts before ``a``). Each lag is normalised by the energy of both
    signals over the samples that overlap there, so leading or trailing silence in a recording
    does not lower the score; lags whose overlap is shorter than ``min_overlap`` times the
    shorter signal are ignored. The score is 1.0 for identical audio, about 0 for unrelated
    audio, and clipped to 0..1.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.size == 0 or y.size == 0:
        return 0.0, 0
    n = x.size + y.size - 1
    size = 1 << (n - 1).bit_length()
    spectrum = np.fft.rfft(x, size) * np.conj(np.fft.rfft(y, size))
    circular = np.fft.irfft(spectrum, size)
    # Lags -(len(y)-1) .. len(x)-1, in order.
    corr = np.concatenate((circular[size - (y.size - 1) :], circular[: x.size]))
    lags = np.arange(-(y.size - 1), x.size)
    x_start = np.maximum(lags, 0)
    x_end = np.minimum(lags + y.size, x.size)
    cx = np.concatenate(([0.0], np.cumsum(x * x)))
    energy = (cx[x_end] - cx[x_start]) * float(np.dot(y, y))
    overlap = x_end - x_start
    floor = 1e-12 * float(cx[-1]) * float(np.dot(y, y)) + 1e-30
    usable = (overlap >= max(1, int(min_overlap * min(x.size, y.size)))) & (energy > floor)
    if not usable.any():
        return 0.0, 0
    score = np.zeros_like(corr)
    score[usable] = corr[usable] / np.sqrt(energy[usable])
    best = int(np.argmax(score))
    return float(np.clip(score[best], 0.0, 1.0)), int(lags[best])


def rms_dbfs(samples: npt.ArrayLike) -> float:
    """RMS level in dBFS (-inf for digital silence)."""
    data = np.asarray(samples, dtype=np.float64)
    if data.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(data * data)))
    return 20 * float(np.log10(rms)) if rms > 0 else float("-inf")


def tone_power(samples: npt.ArrayLike, rate: int, frequency: float) -> float:
    """Fraction (0..1) of the signal's power within ±20 Hz of ``frequency`` (e.g. the beep)."""
    data = np.asarray(samples, dtype=np.float64)
    if data.size == 0:
        return 0.0
    spectrum = np.abs(np.fft.rfft(data * np.hanning(data.size))) ** 2
    freqs = np.fft.rfftfreq(data.size, 1 / rate)
    total = float(spectrum.sum())
    if total == 0:
        return 0.0
    band = (freqs > frequency - 20) & (freqs < frequency + 20)
    return float(spectrum[band].sum()) / total
