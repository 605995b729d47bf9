"""A scripted, in-memory ``Call`` for testing flows without SIP or RTP."""

from __future__ import annotations

from dataclasses import dataclass, field

from afterbeep.calls.call import CallGone, CallInfo, RecordResult, StopReason
from afterbeep.domain import Codec, DiversionReason
from afterbeep.flows.ports import RecordingSink


@dataclass
class ScriptedCall:
    """Plays nothing and records a given payload; the script says what the caller does.

    ``digits_during_play`` maps the index of a ``play`` call to the key pressed during it;
    ``hangup_during_play`` makes that play raise CallGone; ``speech`` is what the caller
    says after the beep and ``record_stop`` why the recording ends.

    ``keys`` is what the caller types, in order: a prompt that a key can interrupt is cut by
    the next key when it is one of its stop digits (the caller barges in); ``read_digit``
    takes the next key, ``_`` standing for a timeout; ``.`` lets one interruptible prompt
    play to its end (the caller listens before pressing the next key). When the keys run
    out the caller hangs up (CallGone), so a script always ends.
    """

    called: str = "1001"
    caller_number: str = "5550100"
    caller_name: str = "Bob"
    diverted_from: str | None = None
    reason: DiversionReason = DiversionReason.DIRECT
    codec_value: Codec = Codec.PCMU
    digits_during_play: dict[int, str] = field(default_factory=dict)
    hangup_during_play: int | None = None
    speech: bytes = b"\x55" * 8000 * 5
    record_stop: StopReason = StopReason.HANGUP
    transfer_accepted: bool = False
    # What happened, for assertions.
    played: list[bytes] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    record_limits: tuple[float, float] | None = None
    keys: str = ""
    source: str = "192.0.2.10"
    _gone: bool = False

    @property
    def info(self) -> CallInfo:
        return CallInfo(
            call_id="scripted-call",
            called=self.called,
            caller_number=self.caller_number,
            caller_name=self.caller_name,
            diverted_from=self.diverted_from,
            reason=self.reason,
            source=self.source,
        )

    @property
    def codec(self) -> Codec:
        return self.codec_value

    @property
    def hung_up(self) -> bool:
        return self._gone

    async def answer(self) -> None:
        self.actions.append("answer")

    async def reject(self, status: int) -> None:
        self.actions.append(f"reject {status}")
        self._gone = True

    async def play(self, audio: bytes, *, stop_digits: str = "") -> str | None:
        if self._gone:
            raise CallGone
        index = len(self.played)
        self.played.append(audio)
        self.actions.append("play")
        if self.hangup_during_play == index:
            self._gone = True
            raise CallGone
        digit = self.digits_during_play.get(index)
        if digit is None and stop_digits and self.keys[:1] == ".":
            self.keys = self.keys[1:]
            return None
        if digit is None and self.keys and self.keys[0] in stop_digits:
            digit, self.keys = self.keys[0], self.keys[1:]
        return digit if digit is not None and digit in stop_digits else None

    async def read_digit(self, seconds: float) -> str | None:
        if self._gone or not self.keys:
            self._gone = True
            raise CallGone
        self.keys = self.keys.lstrip(".")
        if not self.keys:
            self._gone = True
            raise CallGone
        key, self.keys = self.keys[0], self.keys[1:]
        self.actions.append(f"key {key}")
        return None if key == "_" else key

    async def record(
        self,
        sink: RecordingSink,
        *,
        max_seconds: float,
        silence_seconds: float,
        stop_digits: str = "#",
        warn_before_end: bytes | None = None,
    ) -> RecordResult:
        self.actions.append("record")
        self.record_limits = (max_seconds, silence_seconds)
        speech = self.speech[: int(max_seconds * 8000)]
        sink.write(speech)
        sink.flush()
        if self.record_stop is StopReason.HANGUP:
            self._gone = True
        digit = "#" if self.record_stop is StopReason.DIGIT else None
        return RecordResult(self.record_stop, len(speech) / 8000, digit)

    async def transfer(self, target: str) -> bool:
        self.actions.append(f"transfer {target}")
        if self.transfer_accepted:
            self._gone = True
        return self.transfer_accepted

    async def hangup(self) -> None:
        if not self._gone:
            self.actions.append("hangup")
        self._gone = True
