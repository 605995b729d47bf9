"""The deposit flow over a scripted call and an in-memory store."""

from __future__ import annotations

import datetime as dt

import pytest

from afterbeep.calls.call import StopReason
from afterbeep.calls.fake import ScriptedCall
from afterbeep.domain import (
    CallerInfo,
    Codec,
    DiversionReason,
    GreetingKind,
    MailboxProfile,
    WarningMode,
)
from afterbeep.flows.deposit import Deposit, DepositOptions
from afterbeep.flows.memory import MemoryRecording, MemoryStore
from afterbeep.flows.prompts import Prompts
from afterbeep.media import tones
from afterbeep.media.g711 import encode
from afterbeep.media.wav import encode_wav

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
CALLER = CallerInfo("5550100", "Bob", "1001", DiversionReason.DIRECT, "earlier-call")
PROMPTS = Prompts()


def mailbox(**changes: object) -> MailboxProfile:
    base: dict[str, object] = {"id": 1, "number": "1001", "name": "Alice"}
    base.update(changes)
    return MailboxProfile(**base)  # type: ignore[arg-type]


def greeting_wav(freq: float) -> bytes:
    return encode_wav(None, tones.tone(freq, 1.0))


def make(store: MemoryStore, **options: object) -> Deposit:
    return Deposit(store, PROMPTS, DepositOptions(**options), now=lambda: NOW)  # type: ignore[arg-type]


def beep(codec: Codec = Codec.PCMU) -> bytes:
    return encode(codec, tones.beep())


async def test_message_is_recorded_with_caller_and_reason() -> None:
    store = MemoryStore(mailboxes={"1001": mailbox()})
    call = ScriptedCall()
    await make(store).run(call)
    assert call.actions[:1] == ["answer"]
    assert beep() in call.played
    assert len(store.messages) == 1
    message = store.messages[0]
    assert bytes(message.audio) == call.speech
    assert message.caller.caller_number == "5550100"
    assert message.caller.caller_name == "Bob"
    assert message.caller.reason is DiversionReason.DIRECT
    assert message.started_at == NOW
    assert call.record_limits == (180, 10)


async def test_system_greeting_reads_the_extension_then_default_warning() -> None:
    store = MemoryStore(mailboxes={"1001": mailbox()})
    call = ScriptedCall()
    await make(store).run(call)
    expected_greeting = PROMPTS.get("person_at", Codec.PCMU)
    assert call.played[0].startswith(expected_greeting)
    assert PROMPTS.say_digits("1001", Codec.PCMU) in call.played[0]
    assert call.played[1] == PROMPTS.get("leave_message", Codec.PCMU)
    assert call.played[2] == beep()


async def test_busy_diversion_plays_busy_greeting_and_temporary_overrides() -> None:
    greetings = {GreetingKind.BUSY: "busy.wav", GreetingKind.UNAVAILABLE: "unavail.wav"}
    store = MemoryStore(
        mailboxes={"1001": mailbox(greetings=greetings)},
        audio={"busy.wav": greeting_wav(700), "unavail.wav": greeting_wav(900)},
    )
    call = ScriptedCall(called="voicemail", diverted_from="1001", reason=DiversionReason.BUSY)
    await make(store).run(call)
    assert call.played[0] == encode(Codec.PCMU, tones.tone(700, 1.0))
    assert store.messages[0].caller.reason is DiversionReason.BUSY
    assert store.messages[0].caller.called_number == "1001"

    temporary = {**greetings, GreetingKind.TEMPORARY: "temp.wav"}
    store.audio["temp.wav"] = greeting_wav(500)
    store.mailboxes["1001"] = mailbox(greetings=temporary)
    call = ScriptedCall(called="voicemail", diverted_from="1001", reason=DiversionReason.BUSY)
    await make(store).run(call)
    assert call.played[0] == encode(Codec.PCMU, tones.tone(500, 1.0))

    expired = mailbox(greetings=temporary, temporary_greeting_expires_at=NOW)
    store.mailboxes["1001"] = expired
    call = ScriptedCall(reason=DiversionReason.NO_ANSWER, diverted_from="1001")
    await make(store).run(call)
    assert call.played[0] == encode(Codec.PCMU, tones.tone(900, 1.0))


async def test_a_recorded_greeting_is_read_once_per_codec_and_plays_in_each() -> None:
    reads: list[str] = []

    class CountingStore(MemoryStore):
        async def read_audio(self, key: str) -> bytes:
            reads.append(key)
            return await super().read_audio(key)

    store = CountingStore(
        mailboxes={"1001": mailbox(greetings={GreetingKind.UNAVAILABLE: "unavail.wav"})},
        audio={"unavail.wav": greeting_wav(900)},
    )
    deposit = make(store)
    for codec in (Codec.PCMU, Codec.PCMU, Codec.PCMA, Codec.PCMA):
        call = ScriptedCall(codec_value=codec)
        await deposit.run(call)
        assert call.played[0] == encode(codec, tones.tone(900, 1.0))
    assert reads == ["unavail.wav", "unavail.wav"]  # once for µ-law, once for A-law


@pytest.mark.parametrize(
    ("mode", "expected"),
    [(WarningMode.NONE, 2), (WarningMode.DEFAULT, 3), (WarningMode.CUSTOM, 3)],
)
async def test_warning_modes(mode: WarningMode, expected: int) -> None:
    greetings = {GreetingKind.WARNING: "warn.wav"}
    store = MemoryStore(
        mailboxes={"1001": mailbox(warning_mode=mode, greetings=greetings)},
        audio={"warn.wav": greeting_wav(1200)},
    )
    call = ScriptedCall()
    await make(store).run(call)
    # greeting, [warning], beep
    assert len(call.played) == expected
    assert call.played[-1] == beep()
    if mode is WarningMode.CUSTOM:
        assert call.played[1] == encode(Codec.PCMU, tones.tone(1200, 1.0))


async def test_pound_during_greeting_skips_to_the_beep() -> None:
    store = MemoryStore(mailboxes={"1001": mailbox()})
    call = ScriptedCall(digits_during_play={0: "#"})
    await make(store).run(call)
    assert call.played[1] == beep()
    assert len(store.messages) == 1


async def test_zero_transfers_to_the_operator_when_configured() -> None:
    store = MemoryStore(mailboxes={"1001": mailbox()})
    call = ScriptedCall(digits_during_play={0: "0"}, transfer_accepted=True)
    await make(store, operator_uri="sip:operator@127.0.0.1").run(call)
    assert "transfer sip:operator@127.0.0.1" in call.actions
    assert "record" not in call.actions
    # Without an operator, 0 is ignored and the message is taken.
    call = ScriptedCall(digits_during_play={0: "0"})
    await make(store).run(call)
    assert not any(a.startswith("transfer") for a in call.actions)
    assert "record" in call.actions


async def test_failed_transfer_falls_back_to_the_message() -> None:
    store = MemoryStore(mailboxes={"1001": mailbox()})
    call = ScriptedCall(digits_during_play={0: "0"}, transfer_accepted=False)
    await make(store, operator_uri="sip:operator@127.0.0.1").run(call)
    assert PROMPTS.get("operator_unavailable", Codec.PCMU) in call.played
    assert len(store.messages) == 1


async def test_hangup_during_greeting_is_a_missed_call() -> None:
    store = MemoryStore(mailboxes={"1001": mailbox()})
    call = ScriptedCall(hangup_during_play=0)
    await make(store).run(call)
    assert store.messages == []
    assert len(store.missed) == 1
    assert store.missed[0][1].caller_number == "5550100"


async def test_too_short_message_is_discarded_and_counted_missed() -> None:
    store = MemoryStore(mailboxes={"1001": mailbox(min_message_seconds=3)})
    call = ScriptedCall(speech=b"\x55" * 8000 * 2)
    await make(store).run(call)
    assert store.messages == []
    assert len(store.discarded) == 1
    assert len(store.missed) == 1


async def test_pound_ends_the_recording_then_goodbye_and_hangup() -> None:
    store = MemoryStore(mailboxes={"1001": mailbox()})
    call = ScriptedCall(record_stop=StopReason.DIGIT)
    await make(store).run(call)
    assert len(store.messages) == 1
    assert call.played[-1] == PROMPTS.get("message_saved", Codec.PCMU)
    assert call.actions[-1] == "hangup"


async def test_unknown_mailbox_answers_then_hangs_up_or_rejects() -> None:
    store = MemoryStore()
    call = ScriptedCall(called="4040")
    await make(store).run(call)
    assert call.actions == ["answer", "play", "hangup"]
    assert call.played == [PROMPTS.get("no_such_mailbox", Codec.PCMU)]
    call = ScriptedCall(called="4040")
    await make(store, reject_unknown_mailbox=True).run(call)
    assert call.actions == ["reject 404"]


async def test_max_length_is_enforced_on_the_recording() -> None:
    store = MemoryStore(mailboxes={"1001": mailbox(max_message_seconds=3)})
    call = ScriptedCall(speech=b"\x55" * 8000 * 10, record_stop=StopReason.MAX_LENGTH)
    await make(store).run(call)
    assert len(store.messages[0].audio) == 3 * 8000


async def test_pcma_call_gets_prompts_in_pcma() -> None:
    store = MemoryStore(mailboxes={"1001": mailbox()})
    call = ScriptedCall(codec_value=Codec.PCMA)
    await make(store).run(call)
    assert call.played[-1] == beep(Codec.PCMA)
    assert store.messages[0].codec is Codec.PCMA


async def test_a_storage_quota_caps_the_message_then_refuses_callers() -> None:
    box = mailbox(max_storage_minutes=1, max_message_seconds=180)
    store = MemoryStore(mailboxes={"1001": box})
    store.messages.append(MemoryRecording(box, CALLER, Codec.PCMU, NOW, audio=bytearray(8000 * 50)))
    call = ScriptedCall()
    await make(store).run(call)
    assert call.record_limits[0] == pytest.approx(10)  # 60 s quota - 50 s held
    store.messages.append(MemoryRecording(box, CALLER, Codec.PCMU, NOW, audio=bytearray(8000 * 9)))
    refused = ScriptedCall()
    await make(store).run(refused)  # 1 s left: less than the shortest message
    assert refused.played == [PROMPTS.get("mailbox_full", Codec.PCMU)]


async def test_a_full_mailbox_says_so_records_nothing_and_tells_the_owner() -> None:
    store = MemoryStore(mailboxes={"1001": mailbox(max_messages=1)})
    await make(store).run(ScriptedCall())  # the one message it may hold
    assert len(store.messages) == 1

    call = ScriptedCall()
    await make(store).run(call)
    assert call.played == [PROMPTS.get("mailbox_full", Codec.PCMU)]
    assert beep() not in call.played  # no beep: nothing would be kept
    assert len(store.messages) == 1
    assert [(box.number, caller.caller_number) for box, caller, _ in store.refused] == [
        ("1001", "5550100")
    ]
    assert call.actions[-1] == "hangup"


async def test_star_during_the_greeting_never_leads_to_a_login() -> None:
    # The toll-fraud path of other systems: '*' while leaving a message reaches the menus
    # of the mailbox (and from there an outbound call). Here it does nothing.
    store = MemoryStore(mailboxes={"1001": mailbox()})
    call = ScriptedCall(digits_during_play={0: "*", 1: "*"}, keys="*1001#1234#")
    await make(store).run(call)
    assert len(store.messages) == 1  # the caller simply left a message
    assert all(not action.startswith("key") for action in call.actions)
    assert call.keys == "*1001#1234#"  # nothing read the keypad
