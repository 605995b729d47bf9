"""The deposit flow: greet the caller, beep, record a message into the mailbox.

Written against the ``Call`` interface and the ``MessageStore`` port only, so the same flow
runs over SIP in production and over a scripted call in the unit tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from afterbeep.calls.call import Call, CallGone, StopReason
from afterbeep.domain import (
    CallerInfo,
    Codec,
    DiversionReason,
    GreetingKind,
    MailboxProfile,
    WarningMode,
)
from afterbeep.flows.lru import Lru
from afterbeep.flows.ports import MessageStore, RecordingSink
from afterbeep.flows.prompts import Prompts, beep, silence, warning_tone
from afterbeep.media.wav import WavError, to_telephone

log = logging.getLogger(__name__)

GREETINGS_KEPT = 64  # recorded greetings kept converted (~240 KB for 30 s of audio)


@dataclass(frozen=True, slots=True)
class DepositOptions:
    voicemail_numbers: tuple[str, ...] = ("voicemail", "vm")
    operator_uri: str | None = None
    reject_unknown_mailbox: bool = False
    answer_delay: float = 0.0  # seconds of ringing before answering


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Deposit:
    """Leaves messages. One instance serves every call; ``run`` handles one call."""

    def __init__(
        self,
        store: MessageStore,
        prompts: Prompts,
        options: DepositOptions,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._store = store
        self._prompts = prompts
        self._options = options
        self._now = now
        # Recorded greetings in each call's codec, least recently used first: reading and
        # converting a file on every call costs more than the rest of answering. Keys name
        # immutable content (a new recording gets a new key), so nothing goes stale.
        self._converted: Lru[tuple[str, Codec], bytes] = Lru(GREETINGS_KEPT)

    async def run(self, call: Call) -> None:
        info = call.info
        number, reason = self._target(call)
        mailbox = await self._store.find_mailbox(number) if number else None
        caller = CallerInfo(
            caller_number=info.caller_number,
            caller_name=info.caller_name,
            called_number=number or info.called,
            reason=reason,
            call_id=info.call_id,
        )
        if mailbox is None:
            await self._unknown_mailbox(call)
            return
        sink: RecordingSink | None = None
        await self._prompts.warm([mailbox.language])  # at once when already prepared
        try:
            if self._options.answer_delay:
                await asyncio.sleep(self._options.answer_delay)
            await call.answer()
            room = await self._store.recording_room(mailbox)
            if not room:
                await self._refuse_full(call, mailbox, caller)
                return
            if not await self._greet(call, mailbox, reason):
                return  # transferred to the operator
            await call.play(beep(call.codec))
            sink = self._store.start_recording(mailbox, caller, call.codec, self._now())
            result = await call.record(
                sink,
                max_seconds=room,
                silence_seconds=mailbox.max_silence_seconds,
                warn_before_end=warning_tone(call.codec),
            )
        except CallGone:
            # Hung up before the beep: nothing recorded, a missed call.
            if sink is not None:
                await self._store.discard_recording(sink)
            await self._store.record_missed_call(mailbox, caller, self._now())
            return
        except BaseException:
            # Shutting down or a bug: keep what was recorded rather than lose it.
            if sink is not None:
                await asyncio.shield(self._finish(sink, mailbox, caller))
            raise
        seconds = await self._finish(sink, mailbox, caller)
        log.info(
            "call %s: message for %s ended by %s, %.1f s",
            info.call_id, mailbox.number, result.reason.value, seconds,
        )  # fmt: skip
        if result.reason is not StopReason.HANGUP and not call.hung_up:
            try:
                if seconds >= mailbox.min_message_seconds:
                    await call.play(self._prompt(call, mailbox, "message_saved"))
            except CallGone:
                return
            await call.hangup()

    def _target(self, call: Call) -> tuple[str, DiversionReason]:
        """The mailbox number and why the call came: the Request-URI names the mailbox,
        unless it is a generic voicemail number and a diversion header names it."""
        info = call.info
        if info.diverted_from and (
            info.called in self._options.voicemail_numbers or not info.called
        ):
            return info.diverted_from, info.reason
        if info.called in self._options.voicemail_numbers:
            return "", info.reason
        return info.called, info.reason if info.diverted_from else DiversionReason.DIRECT

    async def _unknown_mailbox(self, call: Call) -> None:
        log.info("call %s: no mailbox for %r", call.info.call_id, call.info.called)
        if self._options.reject_unknown_mailbox:
            await call.reject(404)
            return
        # Answered like any other call, so SIP responses do not reveal which mailboxes exist.
        try:
            await call.answer()
            await call.play(self._prompts.get("no_such_mailbox", call.codec))
        except CallGone:
            return
        await call.hangup()

    async def _refuse_full(self, call: Call, mailbox: MailboxProfile, caller: CallerInfo) -> None:
        """No room for a message: say so, note the call, tell the owner (once)."""
        log.info("call %s: mailbox %s is full", call.info.call_id, mailbox.number)
        await self._store.record_refused_call(mailbox, caller, self._now())
        try:
            await call.play(self._prompt(call, mailbox, "mailbox_full"))
        except CallGone:
            return
        await call.hangup()

    async def _greet(self, call: Call, mailbox: MailboxProfile, reason: DiversionReason) -> bool:
        """Greeting, then the pre-record warning. False when the call left for the operator."""
        digit = await call.play(await self._greeting(call, mailbox, reason), stop_digits="#0")
        if digit == "0" and self._options.operator_uri:
            await call.play(self._prompt(call, mailbox, "transferring"))
            if await call.transfer(self._options.operator_uri):
                return False
            digit = await call.play(
                self._prompt(call, mailbox, "operator_unavailable"), stop_digits="#"
            )
        if digit == "#":
            return True  # '#' skips straight to the beep
        warning = await self._warning(call, mailbox)
        if warning:
            await call.play(warning, stop_digits="#")
        return True

    async def _greeting(
        self, call: Call, mailbox: MailboxProfile, reason: DiversionReason
    ) -> bytes:
        key = mailbox.active_greeting(reason, self._now())
        if key is not None:
            audio = await self._audio(call, key)
            if audio:
                return audio
        # The system greeting: "<name> is not available", or the extension read digit by digit.
        codec, language = call.codec, mailbox.language
        name_key = mailbox.greetings.get(GreetingKind.NAME)
        name = await self._audio(call, name_key) if name_key else b""
        if not name:
            name = self._prompts.get("person_at", codec, language) + self._prompts.say_digits(
                mailbox.number, codec, language
            )
        gap = silence(0.15, codec)
        return name + gap + self._prompts.get("not_available", codec, language)

    async def _warning(self, call: Call, mailbox: MailboxProfile) -> bytes:
        if mailbox.warning_mode is WarningMode.NONE:
            return b""
        custom = mailbox.greetings.get(GreetingKind.WARNING)
        if mailbox.warning_mode is WarningMode.CUSTOM and custom:
            audio = await self._audio(call, custom)
            if audio:
                return audio
        return self._prompt(call, mailbox, "leave_message")

    async def _audio(self, call: Call, key: str) -> bytes:
        """A stored recording in the call's codec; empty (and logged) if it cannot be read."""
        cache_key = (key, call.codec)
        audio = self._converted.get(cache_key)
        if audio is not None:
            return audio
        try:
            audio = to_telephone(await self._store.read_audio(key), call.codec)
        except (OSError, WavError) as exc:
            log.warning("call %s: cannot play %s: %s", call.info.call_id, key, exc)
            return b""
        self._converted.put(cache_key, audio)
        return audio

    def _prompt(self, call: Call, mailbox: MailboxProfile, name: str) -> bytes:
        return self._prompts.get(name, call.codec, mailbox.language)

    async def _finish(
        self, sink: RecordingSink, mailbox: MailboxProfile, caller: CallerInfo
    ) -> float:
        seconds = sink.bytes_written / 8000
        if seconds < mailbox.min_message_seconds:
            # Too short to be a message (a hang-up at the beep): a missed call instead.
            await self._store.discard_recording(sink)
            await self._store.record_missed_call(mailbox, caller, self._now())
        else:
            await self._store.commit_recording(sink)
        return seconds
