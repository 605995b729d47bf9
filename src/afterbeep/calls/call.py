"""The Call interface the flows are written against.

``net.call.SipCall`` implements it over SIP and RTP; ``calls.fake.ScriptedCall`` implements
it in memory for the flows' unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from afterbeep.domain import Codec, DiversionReason
from afterbeep.flows.ports import RecordingSink


class CallGone(Exception):
    """The caller hung up (or the call was cancelled) while the flow was talking to it."""


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Who is calling whom, read from the SIP request."""

    call_id: str
    called: str  # the user part of the Request-URI
    caller_number: str
    caller_name: str
    diverted_from: str | None  # the mailbox a Diversion / History-Info header names
    reason: DiversionReason
    source: str = ""  # the signalling peer's address (for login lockouts)


class StopReason(StrEnum):
    DIGIT = "digit"
    HANGUP = "hangup"
    MAX_LENGTH = "max-length"
    SILENCE = "silence"


@dataclass(frozen=True, slots=True)
class RecordResult:
    reason: StopReason
    seconds: float  # audio recorded, trailing silence included
    digit: str | None = None


class Call(Protocol):
    @property
    def info(self) -> CallInfo: ...

    @property
    def codec(self) -> Codec:
        """The negotiated codec: prompts are encoded in it, messages stored in it."""

    @property
    def hung_up(self) -> bool: ...

    async def answer(self) -> None:
        """Answer (200 OK) and wait for the media path; CallGone if the caller left."""

    async def reject(self, status: int) -> None:
        """Refuse an unanswered call with a SIP status (404, 486, …)."""

    async def play(self, audio: bytes, *, stop_digits: str = "") -> str | None:
        """Play G.711 audio in ``codec``; return the digit that interrupted it, if any.

        Digits pressed before ``play`` starts and not consumed count too (type-ahead).
        Raises CallGone when the caller hangs up.
        """

    async def read_digit(self, seconds: float) -> str | None:
        """The next key pressed (type-ahead first), or None after ``seconds``.
        Raises CallGone when the caller hangs up."""

    async def record(
        self,
        sink: RecordingSink,
        *,
        max_seconds: float,
        silence_seconds: float,
        stop_digits: str = "#",
        warn_before_end: bytes | None = None,
    ) -> RecordResult:
        """Write what the caller says into ``sink`` until a stop digit, hang-up, the maximum
        length or ``silence_seconds`` of silence. ``warn_before_end`` is played a few seconds
        before the maximum length is reached. Never raises CallGone: a hang-up ends it."""

    async def transfer(self, target: str) -> bool:
        """Blind transfer (REFER) to ``target``; True when the peer accepted it."""

    async def hangup(self) -> None: ...
