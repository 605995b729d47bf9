"""A mailbox exported to a zip and imported again, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest

from afterbeep.domain import CallerInfo, Codec, GreetingKind
from afterbeep.media import tones
from afterbeep.media.wav import encode_wav
from afterbeep.store import InvalidValue, Store
from afterbeep.store.archive import export_mailbox, import_mailbox


async def _fill(store: Store, caller: CallerInfo, now: dt.datetime) -> list[str]:
    await store.add_mailbox(
        "100", "Alice", pin="1234", emails="alice@example.com", language="de",
        timezone="Europe/Berlin", max_messages=50, audio_format="mp3",
    )  # fmt: skip
    await store.set_greeting("100", GreetingKind.UNAVAILABLE, encode_wav(None, tones.beep()))
    profile = await store.find_mailbox("100")
    assert profile is not None
    ids = []
    for index, codec in enumerate((Codec.PCMU, Codec.PCMA)):
        recording = store.start_recording(profile, caller, codec, now + dt.timedelta(minutes=index))
        recording.write(bytes((index * 7 + i) % 256 for i in range(8000 * 3)))
        ids.append(str(await store.commit_recording(recording)))
    return ids


async def test_export_then_import_into_a_fresh_installation(
    store: Store, caller: CallerInfo, now: dt.datetime, tmp_path: Path
) -> None:
    ids = await _fill(store, caller, now)
    archive = tmp_path / "alice.zip"
    assert await export_mailbox(store, "100", archive) == 2

    with zipfile.ZipFile(archive) as zipped:
        manifest = json.loads(zipped.read("manifest.json"))
        assert "pin" not in json.dumps(manifest["mailbox"])  # no PIN, not even its hash
        assert sorted(zipped.namelist()) == sorted(
            ["manifest.json", "greetings/unavailable.wav"] + [f"messages/{i}.wav" for i in ids]
        )
    before = {m.id: m for m in await store.list_messages("100")}
    audio = {i: await store.message_audio(i) for i in ids}

    # Another installation: the same store, emptied of the mailbox.
    await store.remove_mailbox("100")
    result = await import_mailbox(store, archive)
    assert (result.mailbox, result.created, result.imported, result.skipped) == ("100", True, 2, 0)

    after = {m.id: m for m in await store.list_messages("100")}
    assert after.keys() == before.keys()
    for message_id, message in after.items():
        old = before[message_id]
        assert (message.caller_number, message.caller_name, message.received_at) == (
            old.caller_number, old.caller_name, old.received_at,
        )  # fmt: skip
        assert (message.codec, message.folder, message.reason) == (
            old.codec,
            old.folder,
            old.reason,
        )
        assert await store.message_audio(message_id) == audio[str(message_id)]
    mailbox = await store.get_mailbox("100")
    assert (mailbox.language, mailbox.timezone, mailbox.max_messages) == ("de", "Europe/Berlin", 50)
    assert mailbox.emails == ("alice@example.com",)
    assert mailbox.greetings == (GreetingKind.UNAVAILABLE,)
    assert not mailbox.has_pin  # the owner sets a new one

    again = await import_mailbox(store, archive)  # idempotent
    assert (again.created, again.imported, again.skipped) == (False, 0, 2)


async def test_import_into_another_mailbox_and_refuse_what_is_not_an_export(
    store: Store, caller: CallerInfo, now: dt.datetime, tmp_path: Path
) -> None:
    await _fill(store, caller, now)
    archive = tmp_path / "alice.zip"
    await export_mailbox(store, "100", archive)
    await store.add_mailbox("200", "Bob")
    await store.delete_message((await store.list_messages("100"))[0].id)
    result = await import_mailbox(store, archive, "200")
    # The deleted one comes back, into 200; the other still exists (same id) and is kept.
    assert (result.mailbox, result.created, result.imported, result.skipped) == (
        "200", False, 1, 1,
    )  # fmt: skip
    assert len(await store.list_messages("200")) == 1

    bogus = tmp_path / "bogus.zip"
    with zipfile.ZipFile(bogus, "w") as zipped:
        zipped.writestr("manifest.json", json.dumps({"format": "something-else"}))
    with pytest.raises(InvalidValue, match="not an afterbeep mailbox export"):
        await import_mailbox(store, bogus)
    (tmp_path / "text.zip").write_text("not a zip")
    with pytest.raises(InvalidValue, match="cannot read"):
        await import_mailbox(store, tmp_path / "text.zip")
