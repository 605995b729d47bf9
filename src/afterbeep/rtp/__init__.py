"""RTP, sans I/O: packets, RFC 4733 DTMF events, the receive and send paths."""

from afterbeep.rtp.dtmf import DtmfReceiver, TelephoneEvent, event_digit
from afterbeep.rtp.packet import RtpError, RtpPacket, build_header
from afterbeep.rtp.receiver import RtpReceiver, RtpStats
from afterbeep.rtp.sender import RtpSender

__all__ = [
    "DtmfReceiver",
    "RtpError",
    "RtpPacket",
    "RtpReceiver",
    "RtpSender",
    "RtpStats",
    "TelephoneEvent",
    "build_header",
    "event_digit",
]
