"""The dial-in menus, driven by a scripted keypad against the real store (SQLite).

What the caller heard is read from a prompt log: static prompts by name, spoken sentences by
text (the synthesizer is a stand-in that makes silence: espeak-ng itself is tested apart).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from afterbeep.calls.call import StopReason
from afterbeep.calls.fake import ScriptedCall
from afterbeep.domain import CallerInfo, Codec, DiversionReason, GreetingKind, WarningMode
from afterbeep.flows.dialin import DialIn, DialInOptions
from afterbeep.flows.prompts import Prompts
from afterbeep.media.wav import encode_wav
from afterbeep.store import Store, upgrade_database
from afterbeep.store.logins import LoginPolicy

NOW = dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.UTC)
CALLER = CallerInfo("+15550100", "Bob", "100", DiversionReason.NO_ANSWER, "c1")


class Silence:
    """A synthesizer that makes 0.1 s of silence per text (fast, deterministic)."""

    def voice_key(self, language: str) -> str:
        return "silence"

    def synthesize(self, text: str, language: str) -> bytes:
        return encode_wav(None, bytes(1600))

    async def synthesize_async(self, text: str, language: str) -> bytes:
        return self.synthesize(text, language)


class PromptLog(Prompts):
    def __init__(self) -> None:
        super().__init__(synthesizer=Silence())
        self.heard: list[str] = []
        self._by_audio: dict[bytes, str] = {}

    def get(self, name: str, codec: Codec, language: str = "en") -> bytes:
        self.heard.append(name)
        return super().get(name, codec, language)

    async def speak(
        self, text: str, codec: Codec, language: str, *, persist: bool = False
    ) -> bytes:
        self.heard.append(f"say: {text}")
        return await super().speak(text, codec, language, persist=persist)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'afterbeep.db'}"
    await upgrade_database(url)
    store = await Store.open(url, tmp_path / "data")
    try:
        yield store
    finally:
        await store.close()


async def _deposit(store: Store, number: str, seconds: float = 2.0, minutes_ago: int = 60) -> str:
    box = await store.find_mailbox(number)
    assert box is not None
    at = NOW - dt.timedelta(minutes=minutes_ago)
    recording = store.start_recording(box, CALLER, Codec.PCMU, at)
    recording.write(b"\x55" * int(8000 * seconds))
    return str(await store.commit_recording(recording))


async def _ready(store: Store, number: str = "100", **options: object) -> None:
    """A mailbox whose owner has logged in before (own PIN, name and greeting recorded)."""
    await store.add_mailbox(number, "Alice", pin="2468", **options)  # type: ignore[arg-type]
    wav = encode_wav(Codec.PCMU, b"\x55" * 8000)
    await store.set_greeting(number, GreetingKind.NAME, wav)
    await store.set_greeting(number, GreetingKind.UNAVAILABLE, wav)


def _flow(store: Store, prompts: PromptLog, **options: object) -> DialIn:
    return DialIn(store, prompts, DialInOptions(**options), now=lambda: NOW)  # type: ignore[arg-type]


async def test_login_counts_then_listen_to_a_new_message(store: Store) -> None:
    await _ready(store)
    message = await _deposit(store, "100")
    prompts = PromptLog()
    # '.' lets a prompt play to its end; '_' is a pause with no key.
    call = ScriptedCall(called="*98", caller_number="5550199", keys="100#2468#.1_#")
    await _flow(store, prompts).run(call)

    heard = prompts.heard
    assert heard[:2] == ["vm_login", "vm_password"]
    assert "say: You have one new message." in heard
    assert heard.index("vm_main_menu") > heard.index("say: You have one new message.")
    spoken = [h for h in heard if h.startswith("say: First message.")]
    assert (
        len(spoken) == 1
        and "From Bob, plus, one, five, five, five, zero, one, zero, zero" in spoken[0]
    ), heard
    assert heard[-1] == "vm_goodbye"
    assert call.actions[-1] == "hangup"
    record = await store.get_message(message)
    assert (record.folder, record.heard_at) == ("old", NOW)  # heard: old now


async def test_calling_from_the_mailbox_s_own_phone_asks_only_the_pin(store: Store) -> None:
    await _ready(store, "5550100")
    prompts = PromptLog()
    call = ScriptedCall(called="*98", caller_number="5550100", keys="2468##")
    await _flow(store, prompts).run(call)
    assert prompts.heard[0] == "vm_password" and "vm_login" not in prompts.heard
    assert "say: You have no messages." in prompts.heard


async def test_wrong_pins_sound_like_wrong_mailboxes_and_end_the_call(store: Store) -> None:
    await _ready(store)
    prompts = PromptLog()
    # A wrong PIN for a real mailbox, a PIN for a mailbox that does not exist, silence.
    call = ScriptedCall(called="*98", keys="100#1111#.999#2468#.__")
    await _flow(store, prompts).run(call)
    assert prompts.heard == [
        "vm_login", "vm_password", "vm_incorrect",
        "vm_login", "vm_password", "vm_incorrect",
        "vm_login", "vm_password",
        "vm_goodbye",
    ]  # fmt: skip
    assert call.actions[-1] == "hangup"


async def test_a_source_that_keeps_guessing_is_cut_off(store: Store) -> None:
    store.logins.policy = LoginPolicy(max_failures=3)
    await _ready(store)
    prompts = PromptLog()
    call = ScriptedCall(called="*98", keys="100#0000#100#0001#100#0002#")
    await _flow(store, prompts).run(call)
    assert prompts.heard[-1] == "vm_locked"
    assert call.actions[-1] == "hangup"
    # The next call from the same place and caller ID is refused at once, even the right PIN.
    again = PromptLog()
    await _flow(store, again).run(ScriptedCall(called="*98", keys="100#2468#"))
    assert again.heard[-1] == "vm_locked"


async def test_a_default_pin_must_be_changed_and_greetings_recorded_first(store: Store) -> None:
    await store.add_mailbox("100", "Alice", pin="1234", pin_must_change=True)
    prompts = PromptLog()
    keys = (
        "100#1234#"  # log in with the administrator's PIN
        "12#."  # too short
        "5790#5791#."  # mismatch
        "5790#5790#..."  # the new PIN; hear "changed", "welcome", "say your name"
        "1.."  # accept the recorded name; hear "saved", "record your greeting"
        "1.."  # accept the recorded greeting; hear "saved" and the counts
        "#"  # exit from the main menu
    )
    call = ScriptedCall(called="*98", keys=keys, record_stop=StopReason.DIGIT)
    await _flow(store, prompts).run(call)
    heard = prompts.heard
    assert heard[2] == "vm_must_change_pin"
    assert heard.count("vm_new_pin") == 3 and "vm_pin_mismatch" in heard
    assert "vm_pin_changed" in heard
    assert heard.index("vm_first_login") > heard.index("vm_pin_changed")
    assert heard.count("vm_saved_recording") == 2
    login = await store.login("100", "5790", "elsewhere|x", NOW)
    assert login.must_change_pin is False
    box = await store.find_mailbox("100")
    assert box is not None
    assert {GreetingKind.NAME, GreetingKind.UNAVAILABLE} <= set(box.greetings)


async def test_delete_undelete_next_and_save_to_a_folder(store: Store) -> None:
    await _ready(store)
    first = await _deposit(store, "100", minutes_ago=90)
    second = await _deposit(store, "100", minutes_ago=30)
    prompts = PromptLog()
    # Listen; 7 deletes the first and moves on to the second; 4 back; 7 restores it;
    # 6 next; 9 2 saves the second in Work; # exits.
    call = ScriptedCall(called="*98", keys="100#2468#1_7_4_7_6_92#")
    await _flow(store, prompts).run(call)
    heard = prompts.heard
    assert heard.count("vm_deleted") == 1 and heard.count("vm_undeleted") == 1
    assert "vm_choice_saved" in heard
    assert (await store.get_message(first)).folder == "old"  # heard, restored
    assert (await store.get_message(second)).folder == "work"


async def test_no_more_messages_and_the_first_message(store: Store) -> None:
    await _ready(store)
    await _deposit(store, "100")
    prompts = PromptLog()
    call = ScriptedCall(called="*98", keys="100#2468#1_6_4_#")
    await _flow(store, prompts).run(call)
    assert "vm_no_more_messages" in prompts.heard and "vm_first_message" in prompts.heard


async def test_forward_with_a_spoken_comment_to_two_mailboxes(store: Store) -> None:
    await _ready(store)
    await store.add_mailbox("200", "Bea")
    await store.add_mailbox("300", "Cid")
    message = await _deposit(store, "100", seconds=1.0)
    prompts = PromptLog()
    keys = "100#2468#1_" + "8" + "200#1" + "300##" + "1" + "#"
    call = ScriptedCall(
        called="*98", keys=keys, record_stop=StopReason.DIGIT, speech=b"\x00" * 8000
    )
    await _flow(store, prompts).run(call)
    assert "vm_forwarded" in prompts.heard
    for number in ("200", "300"):
        [copy] = await store.list_messages(number)
        assert copy.duration_seconds == pytest.approx(1.0 + 0.5 + 1.0)
    assert (await store.get_message(message)).mailbox == "100"


async def test_forwarding_to_an_unknown_mailbox_is_refused(store: Store) -> None:
    await _ready(store)
    await _deposit(store, "100")
    prompts = PromptLog()
    call = ScriptedCall(called="*98", keys="100#2468#1_8999##_#")
    await _flow(store, prompts).run(call)
    assert "vm_no_such_mailbox" in prompts.heard and "vm_forwarded" not in prompts.heard


async def test_options_record_a_greeting_and_choose_the_warning(store: Store) -> None:
    await _ready(store)
    prompts = PromptLog()
    # 0 options; 2 busy greeting, 2 listen, 1 accept; 6 warning, 3 beep only; * back; # exit.
    keys = "100#2468#." + "0" + "2." + "2.1." + "63." + "*" + "#"
    call = ScriptedCall(called="*98", keys=keys, record_stop=StopReason.DIGIT)
    await _flow(store, prompts).run(call)
    box = await store.find_mailbox("100")
    assert box is not None
    assert GreetingKind.BUSY in box.greetings
    assert box.warning_mode is WarningMode.NONE
    assert prompts.heard.count("vm_review") == 2  # after recording, after listening


async def test_temporary_greeting_on_then_off_with_a_reminder_at_login(store: Store) -> None:
    await _ready(store)
    prompts = PromptLog()
    call = ScriptedCall(called="*98", keys="100#2468#.041.1.*#", record_stop=StopReason.DIGIT)
    await _flow(store, prompts).run(call)
    box = await store.find_mailbox("100")
    assert box is not None and GreetingKind.TEMPORARY in box.greetings
    reminded = PromptLog()
    await _flow(store, reminded).run(ScriptedCall(called="*98", keys="100#2468#..042.*#"))
    assert "vm_temp_on_reminder" in reminded.heard and "vm_temp_off" in reminded.heard
    box = await store.find_mailbox("100")
    assert box is not None and GreetingKind.TEMPORARY not in box.greetings


async def test_a_key_cuts_any_prompt_short_and_answers_the_next_question(store: Store) -> None:
    await _ready(store)
    await _deposit(store, "100")
    prompts = PromptLog()
    # "1" while the counts are said: the main menu is skipped and the message plays.
    call = ScriptedCall(called="*98", keys="100#2468#1#")
    await _flow(store, prompts).run(call)
    heard = prompts.heard
    assert "vm_main_menu" not in heard
    assert any(h.startswith("say: First message.") for h in heard)


async def test_unanswered_menus_end_the_call(store: Store) -> None:
    await _ready(store)
    prompts = PromptLog()
    call = ScriptedCall(called="*98", keys="100#2468#___")
    await _flow(store, prompts, menu_repeats=3).run(call)
    assert prompts.heard.count("vm_main_menu") == 3 and prompts.heard[-1] == "vm_goodbye"


async def test_messages_in_german_are_counted_in_german(store: Store) -> None:
    await _ready(store, language="de")
    await _deposit(store, "100")
    await _deposit(store, "100")
    prompts = PromptLog()
    await _flow(store, prompts).run(ScriptedCall(called="*98", keys="100#2468##"))
    assert "say: Sie haben zwei neue Nachrichten." in prompts.heard


def test_only_undiverted_calls_to_the_access_number_are_dial_in() -> None:
    flow = DialIn(None, Prompts())  # type: ignore[arg-type]
    assert flow.handles("*98", diverted=False)
    assert flow.handles("voicemail", diverted=False)
    assert not flow.handles("voicemail", diverted=True)  # a PBX forwarding a caller
    assert not flow.handles("100", diverted=False)


async def test_playback_keys_rewind_skip_and_pause(store: Store) -> None:
    await _ready(store)
    await _deposit(store, "100", seconds=10.0)
    ticks = iter(range(0, 1000, 2))  # each look at the clock: two seconds later
    prompts = PromptLog()
    flow = DialIn(store, prompts, DialInOptions(), now=lambda: NOW, clock=lambda: next(ticks))
    # Hear the counts; 1; hear the envelope; during the message: * (at 2 s: back to 0),
    # # (at 2 s: on to 5 s), 0 pause, a key to resume; let the rest play; # to leave.
    call = ScriptedCall(called="*98", keys="100#2468#.1.*#0.5.#")
    await flow.run(call)
    audio = [p for p in call.played if p and set(p) == {0x55}]  # the message's own bytes
    whole = audio[0]
    assert len(whole) == 80000
    assert audio[1] == whole  # rewound to the start
    assert audio[2] == whole[5 * 8000 :]  # skipped ahead: 2 s played + 3 s
    assert audio[3] == whole[7 * 8000 :]  # paused at 7 s, resumed there
    assert "vm_paused" in prompts.heard
