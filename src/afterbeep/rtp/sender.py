"""RTP send path: one header per 20 ms packet, cheap enough for 1,000 calls."""

from __future__ import annotations

from afterbeep.rtp.packet import HEADER


class RtpSender:
    """Numbers and timestamps outgoing packets of one stream.

    The caller chooses the random initial ``sequence``, ``timestamp`` and ``ssrc`` (RFC 3550
    §5.1: "The initial value of the sequence number SHOULD be random"), which keeps this
    class pure and deterministic under test.
    """

    __slots__ = ("_marker", "payload_type", "samples_per_packet", "sequence", "ssrc", "timestamp")

    def __init__(
        self,
        payload_type: int,
        ssrc: int,
        sequence: int,
        timestamp: int,
        samples_per_packet: int = 160,
    ) -> None:
        if not (0 <= payload_type <= 127 and 0 <= ssrc <= 0xFFFFFFFF and samples_per_packet > 0):
            raise ValueError("payload type, SSRC or packet size out of range")
        self.payload_type = payload_type
        self.ssrc = ssrc
        self.sequence = sequence & 0xFFFF  # of the next packet
        self.timestamp = timestamp & 0xFFFFFFFF  # of the next packet
        self.samples_per_packet = samples_per_packet
        self._marker = True

    def packet(self, payload: bytes) -> bytes:
        """Header + ``payload`` (one packet time of audio; pad a short last one)."""
        # RFC 3551 §4.1: "the marker bit ... is set ... for the first packet of a talkspurt
        # after a silence period"; the start of the stream is such a talkspurt too.
        second = (self.payload_type | 0x80) if self._marker else self.payload_type
        data = HEADER.pack(0x80, second, self.sequence, self.timestamp, self.ssrc) + payload
        self._marker = False
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + self.samples_per_packet) & 0xFFFFFFFF
        return data

    def skip(self, packets: int = 1) -> None:
        """Let ``packets`` packet times pass unsent: the RTP clock keeps following wall time,
        and the next packet starts a talkspurt (marker bit). The sequence number does not
        advance (RFC 3550 §5.1: it "increments by one for each RTP data packet sent")."""
        self.timestamp = (self.timestamp + self.samples_per_packet * packets) & 0xFFFFFFFF
        self._marker = True
