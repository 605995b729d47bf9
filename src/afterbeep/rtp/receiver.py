"""RTP receive path: datagrams in, continuous G.711 audio and DTMF digits out.

This runs for every packet of every call (50 packets/s × 1,000 calls in one process), so
``receive`` only unpacks the fixed header, does integer arithmetic and appends bytes: no
``RtpPacket``, no NumPy, no exceptions on bad input.

Audio is placed by RTP timestamp, not by packet count: lost packets and silence
suppression become ``silence_byte`` runs of the right length, and the packet time of the
sender (20 ms, 30 ms…) does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass

from afterbeep.rtp.dtmf import DtmfReceiver
from afterbeep.rtp.packet import HEADER

COMFORT_NOISE = 13  # RFC 3389 CN, static payload type: carries no audio we record
# RFC 3550 Appendix A.1: "MAX_DROPOUT = 3000; MAX_MISORDER = 100;"
MAX_DROPOUT = 3000
MAX_MISORDER = 100
_SEQ_MOD = 1 << 16
_WINDOW_BITS = 64  # how far back duplicates are told apart from late packets
_WINDOW_MASK = (1 << _WINDOW_BITS) - 1


@dataclass(frozen=True, slots=True)
class RtpStats:
    received: int = 0  # acceptable RTP packets, duplicates and late ones included
    lost: int = 0  # sequence numbers never received (RFC 3550 §6.4.1 cumulative lost)
    late: int = 0  # arrived after their place in the audio had been released
    duplicates: int = 0
    invalid: int = 0  # not RTP v2, truncated, unknown payload type


class RtpReceiver:
    """Reorders, de-duplicates and de-jitters one call's incoming RTP into audio bytes.

    Up to ``reorder_window`` packets are held so that a late packet can still take its
    place; when more are held, the oldest is released and anything older is dropped as
    late. A new SSRC (re-INVITE, transfer) or a sender restart starts a new stream that
    continues at the current write position, without a gap.
    """

    __slots__ = (
        "_anchor_pos", "_anchor_ts", "_audio", "_audio_pt", "_bad_seq", "_base_ext",
        "_digits", "_dtmf", "_dtmf_pt", "_duplicates", "_held", "_invalid", "_late",
        "_lost_before", "_max_ext", "_max_gap", "_received", "_released", "_seen",
        "_silence", "_ssrc", "_unique", "_window", "_written",
    )  # fmt: skip

    def __init__(
        self,
        audio_payload_type: int,
        dtmf_payload_type: int | None,
        silence_byte: int,
        *,
        reorder_window: int = 4,
        max_gap_samples: int = 8000,
    ) -> None:
        if reorder_window < 0 or max_gap_samples < 0:
            raise ValueError("reorder_window and max_gap_samples must not be negative")
        self._audio_pt = audio_payload_type
        self._dtmf_pt = -1 if dtmf_payload_type is None else dtmf_payload_type
        self._silence = bytes([silence_byte])
        self._window = reorder_window
        self._max_gap = max_gap_samples
        self._audio = bytearray()
        self._digits: list[str] = []
        self._dtmf = DtmfReceiver()
        self._written = 0  # samples appended since the start of the call
        self._received = self._late = self._duplicates = self._invalid = 0
        self._lost_before = 0  # lost in the streams that came before the current one
        self._ssrc: int | None = None
        self._start_stream(0)

    def _start_stream(self, sequence: int) -> None:
        # Extended sequence numbers (RFC 3550 A.1): a 16-bit number plus wrap count, kept as
        # one unbounded int. Starting one below the first packet makes it "in order".
        self._max_ext = sequence - 1
        self._base_ext = sequence
        self._unique = 0
        self._seen = 0  # bit i set: packet max_ext - i was received
        self._bad_seq = -1
        self._released: int | None = None  # highest extended sequence released
        self._held: dict[int, tuple[int, bytes] | None] = {}  # None: not audio (DTMF, CN)
        self._anchor_ts: int | None = None  # RTP timestamp of the last audio written
        self._anchor_pos = 0  # where that packet's first sample was written
        self._dtmf.reset()

    def receive(self, data: bytes) -> bool:
        """Take one datagram; False if it is not an acceptable RTP packet (never raises)."""
        size = len(data)
        if size < 12:
            self._invalid += 1
            return False
        first, second, seq, timestamp, ssrc = HEADER.unpack_from(data)
        start, end = 12, size
        if first != 0x80:  # anything but the plain V=2 header
            if first >> 6 != 2:
                self._invalid += 1
                return False
            start += (first & 0x0F) * 4
            if first & 0x10 and start + 4 <= size:
                start += 4 + 4 * ((data[start + 2] << 8) | data[start + 3])
            elif first & 0x10:
                start = size + 1
            if first & 0x20:
                end -= data[-1] or size  # a zero padding count is malformed
            if end < start:
                self._invalid += 1
                return False
        pt = second & 0x7F
        if pt != self._audio_pt and pt != self._dtmf_pt and pt != COMFORT_NOISE:
            self._invalid += 1
            return False
        if ssrc != self._ssrc:
            self._release_all()
            self._lost_before += self._stream_lost()
            self._ssrc = ssrc
            self._start_stream(seq)

        # RFC 3550 A.1 update_seq(): in order with a permissible gap, reordered or
        # duplicated within MAX_MISORDER, or a very large jump.
        delta = (seq - self._max_ext) & 0xFFFF
        if 0 < delta < MAX_DROPOUT:
            ext = self._max_ext + delta
            self._max_ext = ext
            self._seen = ((self._seen << delta) | 1) & _WINDOW_MASK
        elif delta == 0 or delta > _SEQ_MOD - MAX_MISORDER:
            back = (_SEQ_MOD - delta) & 0xFFFF
            ext = self._max_ext - back
            if ext < self._base_ext:  # reordered before the stream's first arrival
                self._base_ext = ext
            if back < _WINDOW_BITS:
                if self._seen >> back & 1:
                    self._received += 1
                    self._duplicates += 1
                    return True
                self._seen |= 1 << back
        # "the sequence number made a very large jump ... if (seq == s->bad_seq) {
        # /* Two sequential packets -- assume that the other side restarted without
        # telling us so just re-sync */"
        elif seq == self._bad_seq:
            self._release_all()
            self._lost_before += self._stream_lost()
            self._start_stream(seq)
            ext = seq
            self._max_ext = ext
            self._seen = 1
        else:
            self._bad_seq = (seq + 1) & 0xFFFF
            self._invalid += 1
            return False
        self._received += 1
        self._unique += 1

        if pt == self._audio_pt:
            item: tuple[int, bytes] | None = (timestamp, data[start:end])
        else:
            item = None
            if pt == self._dtmf_pt:
                digit = self._dtmf.feed(timestamp, data[start:end], second >= 0x80)
                if digit is not None:
                    self._digits.append(digit)
        released = self._released
        held = self._held
        if released is not None:
            if ext <= released:
                if item is not None:
                    self._late += 1
                return True
            if ext == released + 1 and not held:  # the common case: next in order
                self._released = ext
                if item is not None:
                    self._write(item[0], item[1])
                return True
        held[ext] = item
        if released is not None and ext == released + 1:
            self._drain(ext)
        elif len(held) > self._window:
            self._drain(min(held))
        return True

    def _drain(self, ext: int) -> None:
        """Release ``ext`` and the held packets that follow it without a hole."""
        held = self._held
        while ext in held:
            item = held.pop(ext)
            if item is not None:
                self._write(item[0], item[1])
            ext += 1
        self._released = ext - 1

    def _release_all(self) -> None:
        held = self._held
        for ext in sorted(held):
            item = held[ext]
            if item is not None:
                self._write(item[0], item[1])
            self._released = ext
        held.clear()

    def _write(self, timestamp: int, payload: bytes) -> None:
        if self._anchor_ts is not None:
            # Samples between the end of what is written and where this packet belongs,
            # from the signed 32-bit timestamp difference (wrap-around safe).
            since = ((timestamp - self._anchor_ts + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            gap = since - (self._written - self._anchor_pos)
            if gap > 0:
                gap = min(gap, self._max_gap)
                self._audio += self._silence * gap
                self._written += gap
            # gap < 0: the timestamp went back; keep the audio and re-anchor on it.
        self._anchor_ts = timestamp
        self._anchor_pos = self._written
        self._audio += payload
        self._written += len(payload)

    def _stream_lost(self) -> int:
        if self._ssrc is None:
            return 0
        # RFC 3550 §6.4.1: "the number of packets expected less the number of packets
        # actually received"; duplicates are not counted as received here.
        return max(0, self._max_ext - self._base_ext + 1 - self._unique)

    def pop_audio(self) -> bytes:
        """The audio released since the last call, one byte per sample."""
        audio = bytes(self._audio)
        self._audio.clear()
        return audio

    def pop_digits(self) -> list[str]:
        """DTMF digits received since the last call, in order."""
        digits, self._digits = self._digits, []
        return digits

    def flush(self) -> bytes:
        """Release every held packet (end of call) and return the remaining audio."""
        self._release_all()
        return self.pop_audio()

    @property
    def stats(self) -> RtpStats:
        return RtpStats(
            received=self._received,
            lost=self._lost_before + self._stream_lost(),
            late=self._late,
            duplicates=self._duplicates,
            invalid=self._invalid,
        )

    @property
    def last_ssrc(self) -> int | None:
        return self._ssrc

    @property
    def samples_written(self) -> int:
        """Samples of audio released since the start of the call (popped or not)."""
        return self._written
