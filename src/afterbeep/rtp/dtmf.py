"""RFC 4733 telephone-events (DTMF digits sent as RTP packets)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from afterbeep.rtp.packet import RtpError

_EVENT = struct.Struct("!BBH")
# RFC 4733 §3.2, Table 7: events 0-9 are the digits, 10 is *, 11 is #, 12-15 are A-D.
DIGITS = "0123456789*#ABCD"
_SEGMENT_MIN = 0xFFFF - 8000  # a segment this long (>7 s at 8 kHz) may be continued


def event_digit(event: int) -> str | None:
    """The DTMF character of an event code, or None for other events (tones, flash…)."""
    return DIGITS[event] if 0 <= event < len(DIGITS) else None


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """The RFC 4733 §2.3 payload: event, E bit, volume (−dBm0) and duration (samples)."""

    event: int
    end: bool
    volume: int
    duration: int

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        if len(payload) < _EVENT.size:
            raise RtpError(f"telephone-event payload of {len(payload)} bytes, expected 4")
        event, flags, duration = _EVENT.unpack_from(payload)
        # §2.3: E (1 bit), R (1 bit, reserved: "MUST be ignored by the receiver"), volume (6).
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    @property
    def digit(self) -> str | None:
        return event_digit(self.event)

    def __bytes__(self) -> bytes:
        if not (0 <= self.event <= 255 and 0 <= self.volume <= 63 and 0 <= self.duration <= 0xFFFF):
            raise RtpError(f"telephone-event field out of range: {self}")
        return _EVENT.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)


class DtmfReceiver:
    """Turns a stream of telephone-event packets into digits, each reported exactly once.

    A digit is reported on the first packet seen for its event, so the caller can barge in
    at once. Continuation packets, the retransmitted end packets and the later segments of
    a very long press carry no new event and are ignored.
    """

    __slots__ = ("_duration", "_event", "_timestamp")

    def __init__(self) -> None:
        self._timestamp: int | None = None
        self._event = -1
        self._duration = 0

    def reset(self) -> None:
        """Forget the current event (a new RTP source starts its own timestamps)."""
        self._timestamp = None
        self._event = -1
        self._duration = 0

    def feed(self, timestamp: int, payload: bytes, marker: bool) -> str | None:
        """One telephone-event packet; returns the digit when it starts a new event.

        ``marker`` (set on an event's first packet, §2.5.1.2) is not relied on: the first
        packet may be lost, and the timestamp identifies the event on its own.
        """
        if len(payload) < 4:
            return None
        previous = self._timestamp
        event = payload[0]
        duration = (payload[2] << 8) | payload[3]
        if previous is not None:
            # RFC 4733 §2.5.1.2-3 (paraphrased): every packet of an event, the end packet
            # and its §2.5.1.4 retransmissions included, carries the event's start time as
            # RTP timestamp; a new event has a later one (serial-number comparison). A
            # different key on the same timestamp breaks that rule, but is still a new key.
            delta = (timestamp - previous) & 0xFFFFFFFF
            if delta == 0 and event == self._event:
                self._duration = max(self._duration, duration)
                return None
            if delta >= 0x80000000:
                return None  # a late packet of an event already reported
            # §2.5.1.3: an event longer than the 16-bit duration field can count is sent as
            # segments with new timestamps; §2.3.3: "only the final packet for the final
            # segment will have the E bit set". Same key, previous segment near full length,
            # and no room for a gap between them: the same press continues.
            if event == self._event and self._duration >= _SEGMENT_MIN and delta <= 0xFFFF:
                self._timestamp = timestamp
                self._duration = duration
                return None
        self._timestamp = timestamp
        self._event = event
        self._duration = duration
        return event_digit(event)
