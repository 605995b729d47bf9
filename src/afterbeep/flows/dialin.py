"""Dial-in voicemail: the owner calls the access number, logs in with a PIN and handles the
messages with the keypad, with Comedian Mail's key map (``../shared/anchors.md``) so that
users who knew Asterisk feel at home.

Main menu: 1 listen, 2 change folder, 0 mailbox options, * help, # exit. After (or during) a
message: 5 repeat, 6 next, 4 previous, 7 delete/undelete, 8 forward, 9 save to a folder,
3 3 envelope, * help, # exit; while it plays: * rewind, # skip ahead, 0 pause, 2 restart.
Folders: 0 new, 1 old, 2 work, 3 family, 4 friends. Options: 1 unavailable greeting, 2 busy
greeting, 3 name, 4 temporary greeting, 5 PIN, 6 what callers hear before the beep.

Every prompt can be interrupted by a key (barge-in); a menu with no answer is repeated, then
the call ends; an invalid key is said to be invalid. Deleting moves a message to the
``deleted`` folder at once (a hang-up loses nothing and 7 again restores it); retention
removes it for good.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from afterbeep.calls.call import Call, CallGone, StopReason
from afterbeep.domain import (
    Codec,
    DiversionReason,
    Folder,
    GreetingKind,
    LoginResult,
    MailboxProfile,
    WarningMode,
)
from afterbeep.flows.ports import MailboxAccess
from afterbeep.flows.prompts import Prompts, beep
from afterbeep.media.g711 import transcode
from afterbeep.media.wav import WavError, encode_wav, read_g711_wav, to_telephone
from afterbeep.speech import phrases

if TYPE_CHECKING:
    from afterbeep.store.records import MessageRecord

log = logging.getLogger(__name__)

KEYS = "0123456789*#"
FOLDER_KEYS = {
    "0": Folder.NEW.value,
    "1": Folder.OLD.value,
    "2": Folder.WORK.value,
    "3": Folder.FAMILY.value,
    "4": Folder.FRIENDS.value,
}
SKIP_SECONDS = 3.0  # '*' and '#' during playback move this far
MIN_RECORDING = 0.5  # seconds: anything shorter is a slip of the finger, not a greeting


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class DialInOptions:
    access_numbers: tuple[str, ...] = ("*98", "voicemail")
    language: str = "en"  # before the mailbox is known
    login_attempts: int = 3  # wrong logins in one call before it ends
    menu_timeout: float = 6.0  # seconds to wait for a menu choice
    digit_timeout: float = 4.0  # seconds between the keys of a number
    menu_repeats: int = 3  # unanswered menus before hanging up
    min_pin_length: int = 4
    force_name_and_greeting: bool = True  # at first login, when they are missing
    max_greeting_seconds: int = 60
    max_comment_seconds: int = 60


class _Exit(Exception):
    """The owner pressed '#' (or stopped answering): say goodbye and hang up."""


@dataclass
class _Buffer:
    """A recording kept in memory (a greeting or a comment: a minute at most)."""

    audio: bytearray = field(default_factory=bytearray)
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def bytes_written(self) -> int:
        return len(self.audio)

    def write(self, payload: bytes) -> None:
        self.audio += payload

    def flush(self) -> None:
        pass


@dataclass
class _Session:
    call: Call
    mailbox: MailboxProfile
    folder: str = Folder.NEW.value
    typed: str = ""  # a key that cut a prompt short: the next menu's answer

    @property
    def language(self) -> str:
        return self.mailbox.language

    @property
    def codec(self) -> Codec:
        return self.call.codec


class DialIn:
    def __init__(
        self,
        store: MailboxAccess,
        prompts: Prompts,
        options: DialInOptions | None = None,
        *,
        now: Callable[[], dt.datetime] = _utcnow,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._prompts = prompts
        self.options = options or DialInOptions()
        self._now = now
        self._clock = clock

    def handles(self, called: str, diverted: bool) -> bool:
        """A call for the access number; a forwarded call to it is a deposit instead."""
        return called in self.options.access_numbers and not diverted

    async def run(self, call: Call) -> None:
        language = self.options.language
        try:
            await call.answer()
            mailbox = await self._login(call)
            if mailbox is None:
                return
            language = mailbox.language
            await self._prompts.warm([language])  # at once when already prepared
            session = _Session(call, mailbox)
            log.info("call %s: logged in to mailbox %s", call.info.call_id, mailbox.number)
            await self._welcome(session)
            await self._main_menu(session)
        except _Exit:
            try:
                await call.play(self._prompt(call, language, "vm_goodbye"))
            except CallGone:
                return
        except CallGone:
            return
        await call.hangup()

    # ---- login -----------------------------------------------------------------------------

    async def _login(self, call: Call) -> MailboxProfile | None:
        info = call.info
        source = f"{info.source}|{info.caller_number}"
        number: str | None = None
        own = await self._store.find_mailbox(info.caller_number) if info.caller_number else None
        if own is not None and own.caller_id_login:
            number = own.number  # calling from the mailbox's own phone: only the PIN
        failures = 0
        typed = ""  # a key that cut "incorrect" short begins the next answer
        while failures < self.options.login_attempts:
            language = own.language if own is not None else self.options.language
            if number is None:
                prompt = self._prompt(call, language, "vm_login")
                number, typed = await self._collect(call, prompt, typed=typed), ""
            prompt = self._prompt(call, language, "vm_password")
            pin, typed = await self._collect(call, prompt, typed=typed), ""
            if not number or not pin:
                failures += 1  # silence counts too: the call cannot wait for ever
                number = None
                continue
            login = await self._store.login(number, pin, source, self._now())
            if login.result is LoginResult.OK:
                mailbox = await self._store.find_mailbox(number)
                if mailbox is None:  # removed this very moment
                    break
                if login.must_change_pin:
                    session = _Session(call, mailbox)
                    await call.play(self._prompt(call, mailbox.language, "vm_must_change_pin"))
                    if not await self._change_pin(session):
                        raise _Exit
                return mailbox
            if login.result is LoginResult.SOURCE_LOCKED:
                log.warning("call %s: login source %s locked", info.call_id, source)
                await call.play(self._prompt(call, language, "vm_locked"))
                await call.hangup()
                return None
            failures += 1
            log.info("call %s: failed login to %r", info.call_id, number)
            incorrect = self._prompt(call, language, "vm_incorrect")
            typed = await call.play(incorrect, stop_digits=KEYS) or ""
            number = None  # a wrong PIN asks for the mailbox again, as a wrong mailbox does
        raise _Exit

    async def _welcome(self, s: _Session) -> None:
        mailbox = s.mailbox
        greetings = mailbox.greetings
        if self.options.force_name_and_greeting and (
            GreetingKind.NAME not in greetings or GreetingKind.UNAVAILABLE not in greetings
        ):
            await self._inform(s, "vm_first_login")
            if GreetingKind.NAME not in greetings:
                await self._record_greeting(s, GreetingKind.NAME, "vm_record_name")
            if GreetingKind.UNAVAILABLE not in greetings:
                await self._record_greeting(s, GreetingKind.UNAVAILABLE, "vm_record_unavailable")
        temporary = greetings.get(GreetingKind.TEMPORARY)
        if temporary and mailbox.active_greeting(DiversionReason.DIRECT, self._now()) == temporary:
            await self._inform(s, "vm_temp_on_reminder")
        counts = await self._store.folder_counts(mailbox.number)
        new, old = counts.get(Folder.NEW.value, 0), counts.get(Folder.OLD.value, 0)
        s.folder = Folder.NEW.value if new or not old else Folder.OLD.value
        await self._inform_text(s, phrases.message_counts(s.language, new, old))

    # ---- main menu -------------------------------------------------------------------------

    async def _main_menu(self, s: _Session) -> None:
        while True:
            key = await self._menu(s, "vm_main_menu")
            if key == "1":
                await self._listen(s)
            elif key == "2":
                await self._change_folder(s)
            elif key == "0":
                await self._options_menu(s)
            elif key == "*":
                await self._inform(s, "vm_playback_help")
            elif key == "#":
                raise _Exit
            else:
                await self._inform(s, "vm_invalid")

    async def _change_folder(self, s: _Session) -> None:
        key = await self._menu(s, "vm_choose_folder", allowed="01234")
        if key in FOLDER_KEYS:
            s.folder = FOLDER_KEYS[key]
            messages = await self._store.messages_to_hear(s.mailbox.number, s.folder)
            await self._inform_text(s, phrases.folder_summary(s.language, s.folder, len(messages)))

    # ---- listening -------------------------------------------------------------------------

    async def _listen(self, s: _Session) -> None:
        messages = await self._store.messages_to_hear(s.mailbox.number, s.folder)
        if not messages:
            await self._inform_text(s, phrases.folder_summary(s.language, s.folder, 0))
            return
        deleted: set[uuid.UUID] = set()
        index = 0
        key = await self._present(s, messages, index)
        while True:
            if key is None:
                key = await self._menu(s, "vm_message_menu")
            message = messages[index]
            if key == "5":
                key = await self._present(s, messages, index)
                continue
            if key == "6" or key == "4":
                step = 1 if key == "6" else -1
                if 0 <= index + step < len(messages):
                    index += step
                    key = await self._present(s, messages, index)
                else:
                    await self._inform(s, "vm_no_more_messages" if step > 0 else "vm_first_message")
                    key = None
                continue
            if key == "7" and message.id in deleted:
                await self._store.undelete_message(message.id)
                deleted.discard(message.id)
                await self._inform(s, "vm_undeleted")
                key = None
                continue
            if key in ("7", "9"):
                if key == "7":
                    await self._store.move_message(message.id, Folder.DELETED.value)
                    deleted.add(message.id)
                    await self._inform(s, "vm_deleted")
                else:
                    choice = await self._menu(
                        s, "vm_save_to_folder", allowed="01234", then="vm_choose_folder"
                    )
                    if choice not in FOLDER_KEYS:
                        key = None
                        continue
                    await self._store.move_message(message.id, FOLDER_KEYS[choice])
                    deleted.discard(message.id)
                    await self._inform(s, "vm_choice_saved")
                # Filed: on to the next message, as Comedian Mail's "nextaftercmd" does (unless
                # a key cut the confirmation short: that key is the next choice).
                if s.typed:
                    key, s.typed = s.typed[0], s.typed[1:]
                elif index + 1 < len(messages):
                    index += 1
                    key = await self._present(s, messages, index)
                else:
                    key = None
                continue
            if key == "8":
                await self._forward(s, message.id)
                key = None
                continue
            if key == "3":
                if await s.call.read_digit(self.options.menu_timeout) == "3":
                    await self._inform_text(s, self._envelope(s, message))
                else:
                    await self._inform(s, "vm_invalid")
                key = None
                continue
            if key == "*":
                key = await self._play(s, "vm_message_menu") or await self._play(
                    s, "vm_playback_help"
                )
                continue
            if key == "#":
                raise _Exit
            if key == "1":
                key = await self._present(s, messages, index)  # 'play' from within: again
                continue
            await self._inform(s, "vm_invalid")
            key = None

    async def _present(self, s: _Session, messages: list[MessageRecord], index: int) -> str | None:
        """Position, envelope, then the audio; the key that interrupted, if any."""
        message = messages[index]
        last = index == len(messages) - 1
        intro = phrases.message_position(s.language, index, last)
        key = await self._say(s, intro + " " + self._envelope(s, message), stop=KEYS)
        if key is not None and key not in "*#02":
            return key
        audio = await self._message_audio(s, message.id)
        if message.heard_at is None:
            await self._store.mark_heard(message.id, self._now())
        return await self._play_controlled(s, audio)

    async def _play_controlled(self, s: _Session, audio: bytes) -> str | None:
        """Play a message with the playback keys; a menu key ends it and is returned."""
        position = 0
        while position < len(audio):
            started = self._clock()
            key = await s.call.play(audio[position:], stop_digits=KEYS)
            if key is None:
                return None
            played = int((self._clock() - started) * 8000)
            here = min(len(audio), position + played)
            if key == "*":
                position = max(0, here - int(SKIP_SECONDS * 8000))
            elif key == "#":
                position = here + int(SKIP_SECONDS * 8000)
            elif key == "2":
                position = 0
            elif key == "0":
                if await self._play(s, "vm_paused") is None:
                    await s.call.read_digit(300.0)  # any key resumes
                position = here
            else:
                return key
        return None

    def _envelope(self, s: _Session, message: MessageRecord) -> str:
        return phrases.envelope(
            s.language,
            received_at=message.received_at,
            timezone=s.mailbox.timezone,
            now=self._now(),
            caller_number=message.caller_number,
            caller_name=message.caller_name,
            duration_seconds=message.duration_seconds,
        )

    async def _message_audio(self, s: _Session, message_id: uuid.UUID) -> bytes:
        try:
            wav = await self._store.message_audio(str(message_id))
            stored = read_g711_wav(wav)
            if stored is not None:
                return transcode(stored[0], s.codec, stored[1])
            return to_telephone(wav, s.codec)
        except (OSError, WavError) as exc:
            log.warning("call %s: cannot play message %s: %s", s.call.info.call_id, message_id, exc)
            return b""

    # ---- forwarding ------------------------------------------------------------------------

    async def _forward(self, s: _Session, message_id: uuid.UUID) -> None:
        targets: list[str] = []
        while True:
            number = await self._ask(s, "vm_forward_to")
            if not number:
                break
            if await self._store.find_mailbox(number) is None:
                await self._inform(s, "vm_no_such_mailbox")
                continue
            targets.append(number)
            if await self._menu(s, "vm_forward_another", allowed="1#") != "1":
                break
        if not targets:
            return
        comment: tuple[Codec, bytes] | None = None
        if await self._menu(s, "vm_forward_options", allowed="12") == "1":
            audio = await self._record(s, self.options.max_comment_seconds)
            if audio:
                comment = (s.codec, audio)
        await self._store.forward_message(str(message_id), targets, comment, self._now())
        log.info("call %s: forwarded %s to %s", s.call.info.call_id, message_id, targets)
        await self._inform(s, "vm_forwarded")

    # ---- mailbox options -------------------------------------------------------------------

    async def _options_menu(self, s: _Session) -> None:
        while True:
            key = await self._menu(s, "vm_options_menu")
            if key == "1":
                await self._record_greeting(s, GreetingKind.UNAVAILABLE, "vm_record_after_tone")
            elif key == "2":
                await self._record_greeting(s, GreetingKind.BUSY, "vm_record_after_tone")
            elif key == "3":
                await self._record_greeting(s, GreetingKind.NAME, "vm_record_name")
            elif key == "4":
                await self._temporary_greeting(s)
            elif key == "5":
                await self._change_pin(s)
            elif key == "6":
                await self._warning_choice(s)
            elif key == "*":
                return
            elif key == "#":
                raise _Exit
            else:
                await self._inform(s, "vm_invalid")

    async def _temporary_greeting(self, s: _Session) -> None:
        key = await self._menu(s, "vm_temp_menu", allowed="12")
        if key == "1":
            await self._record_greeting(s, GreetingKind.TEMPORARY, "vm_record_after_tone")
        elif key == "2":
            if GreetingKind.TEMPORARY in s.mailbox.greetings:
                await self._store.remove_greeting(s.mailbox.number, GreetingKind.TEMPORARY)
            await self._refresh(s)
            await self._inform(s, "vm_temp_off")

    async def _warning_choice(self, s: _Session) -> None:
        key = await self._menu(s, "vm_warning_menu", allowed="123")
        if key == "2":
            if not await self._record_greeting(s, GreetingKind.WARNING, "vm_record_after_tone"):
                return
            mode = WarningMode.CUSTOM
        elif key in ("1", "3"):
            mode = WarningMode.DEFAULT if key == "1" else WarningMode.NONE
        else:
            return
        await self._store.set_warning_mode(s.mailbox.number, mode)
        await self._refresh(s)
        await self._inform(s, "vm_choice_saved")

    async def _change_pin(self, s: _Session) -> bool:
        for _ in range(3):
            first = await self._ask(s, "vm_new_pin")
            if len(first) < self.options.min_pin_length or not first.isdigit() or len(first) > 16:
                await self._inform(s, "vm_invalid")
                continue
            again = await self._ask(s, "vm_repeat_pin")
            if again != first:
                await self._inform(s, "vm_pin_mismatch")
                continue
            await self._store.set_own_pin(s.mailbox.number, first)
            log.info("call %s: PIN of mailbox %s changed", s.call.info.call_id, s.mailbox.number)
            await self._inform(s, "vm_pin_changed")
            return True
        return False

    async def _record_greeting(self, s: _Session, kind: GreetingKind, prompt: str) -> bool:
        """Record, review (1 accept, 2 listen, 3 again) and store a greeting. A key during the
        instructions skips to the beep."""
        await self._play(s, prompt)
        audio = await self._record(s, self.options.max_greeting_seconds)
        while True:
            if not audio:
                await self._play(s, "vm_invalid")
                await self._play(s, prompt)
                audio = await self._record(s, self.options.max_greeting_seconds)
                continue
            key = await self._menu(s, "vm_review", allowed="123")
            if key == "1":
                wav = encode_wav(s.codec, bytes(audio))
                await self._store.set_greeting(s.mailbox.number, kind, wav)
                await self._refresh(s)
                await self._inform(s, "vm_saved_recording")
                return True
            if key == "2":
                await s.call.play(bytes(audio), stop_digits=KEYS)
            elif key == "3":
                await self._play(s, prompt)
                audio = await self._record(s, self.options.max_greeting_seconds)
            else:
                return False

    async def _record(self, s: _Session, max_seconds: float) -> bytes:
        """Beep, then what the owner says until '#', silence or ``max_seconds``."""
        await s.call.play(beep(s.codec))
        buffer = _Buffer()
        result = await s.call.record(
            buffer,
            max_seconds=max_seconds,
            silence_seconds=5.0,
            stop_digits="#",
        )
        if result.reason is StopReason.HANGUP or s.call.hung_up:
            raise CallGone
        if len(buffer.audio) < MIN_RECORDING * 8000:
            return b""
        return bytes(buffer.audio)

    async def _refresh(self, s: _Session) -> None:
        """Read the mailbox again after changing it (greetings, warning mode)."""
        fresh = await self._store.find_mailbox(s.mailbox.number)
        if fresh is not None:
            s.mailbox = fresh

    # ---- prompts and keys ------------------------------------------------------------------

    def _prompt(self, call: Call, language: str, name: str) -> bytes:
        return self._prompts.get(name, call.codec, language)

    async def _play(self, s: _Session, name: str, *, stop: str = KEYS) -> str | None:
        """Play a prompt; the key that cut it short (barge-in), if any."""
        return await s.call.play(self._prompt(s.call, s.language, name), stop_digits=stop)

    async def _say(self, s: _Session, text: str, *, stop: str = KEYS) -> str | None:
        audio = await self._prompts.speak(text, s.codec, s.language)
        return await s.call.play(audio, stop_digits=stop)

    async def _inform(self, s: _Session, name: str) -> None:
        """A prompt that asks nothing: a key cuts it short and answers what comes next."""
        s.typed += await self._play(s, name) or ""

    async def _inform_text(self, s: _Session, text: str) -> None:
        s.typed += await self._say(s, text) or ""

    async def _menu(
        self, s: _Session, name: str, *, allowed: str = KEYS, then: str | None = None
    ) -> str | None:
        """Play a menu (interruptible) and wait for a key; repeat it when nothing comes, end
        the call after ``menu_repeats`` silences. A key outside ``allowed`` returns None
        after "invalid" (the caller's choice is abandoned)."""
        for _ in range(self.options.menu_repeats):
            key: str | None = None
            if s.typed:
                key, s.typed = s.typed[0], s.typed[1:]
            else:
                key = await self._play(s, name)
            if key is None and then is not None:
                key = await self._play(s, then)
            if key is None:
                key = await s.call.read_digit(self.options.menu_timeout)
            if key is None:
                continue
            if key in allowed:
                return key
            await self._play(s, "vm_invalid")
            return None
        raise _Exit

    async def _ask(self, s: _Session, name: str) -> str:
        """A number asked for by prompt ``name`` (a key already typed skips the prompt)."""
        typed, s.typed = s.typed, ""
        return await self._collect(s.call, self._prompt(s.call, s.language, name), typed=typed)

    async def _collect(
        self, call: Call, prompt: bytes, max_digits: int = 20, typed: str = ""
    ) -> str:
        """A number typed on the keypad, ended by '#', a pause or ``max_digits``; ``typed``
        is a key already pressed (the prompt is then skipped)."""
        first = typed or await call.play(prompt, stop_digits=KEYS)
        if first is None:
            first = await call.read_digit(self.options.menu_timeout)
        digits = ""
        key = first
        while key is not None and key != "#" and len(digits) < max_digits:
            if key != "*":
                digits += key
            key = await call.read_digit(self.options.digit_timeout)
        return digits
