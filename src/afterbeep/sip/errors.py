"""SIP errors by direction, each carrying the status a server answers with (h11's habit)."""

from __future__ import annotations


class SipError(Exception):
    """Base of every error raised by the SIP core."""


class SipSyntaxError(SipError):
    """The peer sent something we cannot accept; answer ``status`` when the message allows it."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class LocalProtocolError(SipError):
    """We were asked to do something the protocol forbids (a bug in the caller)."""
