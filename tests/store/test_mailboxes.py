from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from afterbeep.domain import (
    AttachPolicy,
    AudioFormat,
    CallerInfo,
    Codec,
    DiversionReason,
    GreetingKind,
    WarningMode,
)
from afterbeep.store import AlreadyExists, InvalidValue, NotFound, Store
from afterbeep.store.models import Mailbox

from .helpers import make_test_wav


async def test_add_and_read_back(store: Store) -> None:
    added = await store.add_mailbox(
        "100", "Alice", pin="1234", emails="alice@example.com, bob@example.com"
    )
    assert added.number == "100"
    assert added.name == "Alice"
    assert added.emails == ("alice@example.com", "bob@example.com")
    assert (added.attach_policy, added.audio_format) == (AttachPolicy.ATTACH, AudioFormat.WAV)
    assert (added.sms_number, added.notify_missed) == (None, True)
    assert added.has_pin
    assert (added.language, added.timezone) == ("en", "UTC")
    assert (added.max_message_seconds, added.min_message_seconds) == (180, 2)
    assert (added.max_silence_seconds, added.max_messages) == (10, 100)
    assert added.warning_mode is WarningMode.DEFAULT
    assert added.greetings == ()
    assert added.created_at.tzinfo is dt.UTC
    assert await store.get_mailbox("100") == added
    assert added.to_json()["number"] == "100"
    assert "pin_hash" not in added.to_json()


async def test_options_at_creation(store: Store) -> None:
    added = await store.add_mailbox(
        "200",
        "Bob",
        language="fr",
        timezone="Europe/Paris",
        max_message_seconds=60,
        min_message_seconds=0,
        warning_mode="none",
    )
    assert (added.language, added.timezone) == ("fr", "Europe/Paris")
    assert (added.max_message_seconds, added.min_message_seconds) == (60, 0)
    assert added.warning_mode is WarningMode.NONE


async def test_list_is_ordered_by_number(store: Store) -> None:
    for number in ("300", "100", "200"):
        await store.add_mailbox(number, f"Box {number}")
    assert [m.number for m in await store.list_mailboxes()] == ["100", "200", "300"]


async def test_a_duplicate_number_is_refused(store: Store) -> None:
    await store.add_mailbox("100", "Alice")
    with pytest.raises(AlreadyExists, match="mailbox 100 already exists"):
        await store.add_mailbox("100", "Someone else")
    assert len(await store.list_mailboxes()) == 1


async def test_the_pin_is_hashed_with_argon2(store: Store) -> None:
    await store.add_mailbox("100", "Alice", pin="4321")
    async with store._sessions() as session:
        pin_hash = await session.scalar(select(Mailbox.pin_hash).where(Mailbox.number == "100"))
    assert pin_hash is not None
    assert "4321" not in pin_hash
    assert pin_hash.startswith("$argon2")
    assert PasswordHasher().verify(pin_hash, "4321")
    assert await store.verify_pin("100", "4321")
    assert not await store.verify_pin("100", "1234")


@pytest.mark.parametrize("pin", ["123", "12a4", "١٢٣٤", "12 34", "", "1" * 17])
async def test_a_bad_pin_is_refused(store: Store, pin: str) -> None:
    with pytest.raises(InvalidValue, match="PIN"):
        await store.add_mailbox("100", "Alice", pin=pin)
    assert await store.list_mailboxes() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"language": "English!"}, "language"),
        ({"max_message_seconds": 0}, "max_message_seconds"),
        ({"min_message_seconds": 30, "max_message_seconds": 20}, "exceeds"),
        ({"warning_mode": "loud"}, "warning mode"),
        ({"max_messages": True}, "max_messages"),
        ({"colour": "red"}, "unknown mailbox setting"),
        ({"emails": "alice@example.com, not-an-address"}, "e-mail address"),
        ({"attach_policy": "fax"}, "attach policy"),
        ({"audio_format": "ogg"}, "audio format"),
        ({"sms_number": "call me"}, "SMS number"),
        ({"notify_missed": "yes"}, "notify_missed"),
    ],
)
async def test_bad_options_are_refused(
    store: Store, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidValue, match=message):
        await store.add_mailbox("100", "Alice", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("number", ["", "1 00", "../1", "a" * 65, "sip:100@host"])
async def test_a_bad_number_is_refused(store: Store, number: str) -> None:
    with pytest.raises(InvalidValue, match="mailbox number"):
        await store.add_mailbox(number, "Alice")


async def test_update(store: Store) -> None:
    await store.add_mailbox("100", "Alice", emails=["alice@example.com"])
    updated = await store.update_mailbox(
        "100",
        name="Alice Smith",
        emails=[],
        attach_policy="notify",
        sms_number="+4930123456",
        pin="9876",
        language="de",
        timezone="Europe/Berlin",
        max_message_seconds=120,
        min_message_seconds=3,
        max_silence_seconds=5,
        max_messages=20,
        warning_mode=WarningMode.CUSTOM,
    )
    assert updated.name == "Alice Smith"
    assert updated.emails == ()
    assert (updated.attach_policy, updated.sms_number) == (AttachPolicy.NOTIFY, "+4930123456")
    assert updated.has_pin and await store.verify_pin("100", "9876")
    assert (updated.language, updated.timezone) == ("de", "Europe/Berlin")
    assert (updated.max_message_seconds, updated.min_message_seconds) == (120, 3)
    assert (updated.max_silence_seconds, updated.max_messages) == (5, 20)
    assert updated.warning_mode is WarningMode.CUSTOM
    cleared = await store.update_mailbox("100", pin=None)
    assert not cleared.has_pin


async def test_update_checks_the_result_as_a_whole(store: Store) -> None:
    await store.add_mailbox("100", "Alice")
    with pytest.raises(InvalidValue, match="exceeds"):
        await store.update_mailbox("100", min_message_seconds=200)  # max is 180
    assert (await store.get_mailbox("100")).min_message_seconds == 2


async def test_missing_mailboxes(store: Store) -> None:
    with pytest.raises(NotFound, match="no mailbox 404"):
        await store.get_mailbox("404")
    with pytest.raises(NotFound):
        await store.update_mailbox("404", name="x")
    with pytest.raises(NotFound):
        await store.remove_mailbox("404")
    assert await store.find_mailbox("404") is None


async def test_greetings(store: Store) -> None:
    await store.add_mailbox("100", "Alice")
    wav = make_test_wav()
    key = await store.set_greeting("100", GreetingKind.BUSY, wav)
    assert key.startswith("greetings/")
    assert await store.read_audio(key) == wav
    assert (await store.get_mailbox("100")).greetings == (GreetingKind.BUSY,)

    replacement = make_test_wav(b"\x7f" * 1600)
    new_key = await store.set_greeting("100", "busy", replacement)
    assert new_key != key
    assert not store.blobs.exists(key)  # the old recording is gone
    assert await store.read_audio(new_key) == replacement

    await store.remove_greeting("100", GreetingKind.BUSY)
    assert not store.blobs.exists(new_key)
    assert (await store.get_mailbox("100")).greetings == ()
    with pytest.raises(NotFound, match="no busy greeting"):
        await store.remove_greeting("100", GreetingKind.BUSY)


async def test_a_greeting_must_be_a_wav_file(store: Store) -> None:
    await store.add_mailbox("100", "Alice")
    with pytest.raises(InvalidValue, match="WAV"):
        await store.set_greeting("100", GreetingKind.BUSY, b"ID3 an mp3 file")
    with pytest.raises(InvalidValue, match="greeting kind"):
        await store.set_greeting("100", "jingle", make_test_wav())


async def test_find_mailbox_gives_the_profile_and_its_active_greeting(
    store: Store, now: dt.datetime
) -> None:
    await store.add_mailbox("100", "Alice", max_message_seconds=60, warning_mode="none")
    assert (profile := await store.find_mailbox("100")) is not None
    assert profile.number == "100"
    assert profile.max_message_seconds == 60
    assert profile.warning_mode is WarningMode.NONE
    assert profile.active_greeting(DiversionReason.BUSY, now) is None  # system greeting

    unavailable = await store.set_greeting("100", GreetingKind.UNAVAILABLE, make_test_wav())
    busy = await store.set_greeting("100", GreetingKind.BUSY, make_test_wav())
    profile = await store.find_mailbox("100")
    assert profile is not None
    assert profile.greetings == {GreetingKind.UNAVAILABLE: unavailable, GreetingKind.BUSY: busy}
    assert profile.active_greeting(DiversionReason.BUSY, now) == busy
    assert profile.active_greeting(DiversionReason.NO_ANSWER, now) == unavailable

    temporary = await store.set_greeting("100", GreetingKind.TEMPORARY, make_test_wav())
    await store.update_mailbox("100", temporary_greeting_expires_at=now + dt.timedelta(hours=1))
    profile = await store.find_mailbox("100")
    assert profile is not None
    assert profile.temporary_greeting_expires_at == now + dt.timedelta(hours=1)
    assert profile.active_greeting(DiversionReason.BUSY, now) == temporary
    later = now + dt.timedelta(hours=2)
    assert profile.active_greeting(DiversionReason.BUSY, later) == busy


async def test_remove_deletes_rows_and_audio(
    store: Store, caller: CallerInfo, now: dt.datetime, data_dir: Path
) -> None:
    await store.add_mailbox("200", "Bob")
    await store.add_mailbox("100", "Alice")  # the newest: SQLite would reuse its id
    greeting = await store.set_greeting("100", GreetingKind.UNAVAILABLE, make_test_wav())
    profile = await store.find_mailbox("100")
    other = await store.find_mailbox("200")
    assert profile is not None and other is not None
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    recording.write(b"\xff" * 24000)
    message_id = await store.commit_recording(recording)
    message_key = (await store.get_message(message_id)).audio_key
    await store.record_missed_call(profile, caller, now)
    kept = store.start_recording(other, caller, Codec.PCMU, now)
    kept.write(b"\xff" * 24000)
    kept_id = await store.commit_recording(kept)

    await store.remove_mailbox("100")

    assert [m.number for m in await store.list_mailboxes()] == ["200"]
    assert not store.blobs.exists(greeting)
    assert not store.blobs.exists(message_key)
    assert [m.id for m in await store.list_messages()] == [kept_id]
    assert await store.list_missed_calls() == []
    with pytest.raises(NotFound):
        await store.get_message(message_id)
    # A new mailbox never takes the removed one's id (blob keys and recordings use it).
    again = await store.add_mailbox("100", "Alice again")
    assert again.id != profile.id


async def test_message_counts(store: Store, caller: CallerInfo, now: dt.datetime) -> None:
    await store.add_mailbox("100", "Alice")
    profile = await store.find_mailbox("100")
    assert profile is not None
    for _ in range(2):
        recording = store.start_recording(profile, caller, Codec.PCMA, now)
        recording.write(b"\xd5" * 16000)
        await store.commit_recording(recording)
    record = await store.get_mailbox("100")
    assert (record.new_messages, record.total_messages) == (2, 2)


async def test_profile_cache_sees_changes_made_through_the_store(store: Store) -> None:
    await store.add_mailbox("7001", "Cache")
    first = await store.find_mailbox("7001")
    assert first is not None and first.max_message_seconds == 180
    await store.update_mailbox("7001", max_message_seconds=60)
    second = await store.find_mailbox("7001")
    assert second is not None and second.max_message_seconds == 60
    await store.remove_mailbox("7001")
    assert await store.find_mailbox("7001") is None


async def test_removing_a_user_leaves_the_mailbox_without_owner(store: Store) -> None:
    user = await store.accounts.add_user("a@x.example", "A", "long enough secret", "member")
    await store.add_mailbox("100", "A")
    await store.accounts.set_owner("100", user.id)
    assert (await store.get_mailbox("100")).owner_user_id == user.id
    await store.accounts.remove_user(user.id)
    assert (await store.get_mailbox("100")).owner_user_id is None
    assert (await store.get_mailbox("100")).name == "A"
