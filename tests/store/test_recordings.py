from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import os
import uuid
from pathlib import Path

import pytest

from afterbeep.domain import CallerInfo, Codec, DiversionReason, Folder, MailboxProfile
from afterbeep.store import InvalidValue, NotFound, RecordingFile, Store, upgrade_database

from .helpers import parse_g711_wav, pending_files

SECOND = 8000  # bytes of G.711


async def _mailbox(store: Store, number: str = "100", **options: object) -> MailboxProfile:
    await store.add_mailbox(number, f"Box {number}", **options)  # type: ignore[arg-type]
    profile = await store.find_mailbox(number)
    assert profile is not None
    return profile


def _audio(seconds: float) -> bytes:
    """Recognisable G.711 bytes: a ramp, so a reordered or lost frame would show."""
    return bytes(i % 256 for i in range(int(seconds * SECOND)))


def _record(recording: RecordingFile, audio: bytes, frame: int = 160) -> None:
    """Write 20 ms frames, flushing about once a second as the deposit flow does."""
    for offset in range(0, len(audio), frame):
        recording.write(audio[offset : offset + frame])
        if (offset // frame) % 50 == 49:
            recording.flush()


async def test_commit_stores_the_message_and_a_playable_wav(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    profile = await _mailbox(store)
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    audio = _audio(3.5)
    _record(recording, audio)
    assert recording.bytes_written == len(audio)

    message_id = await store.commit_recording(recording)

    assert message_id == recording.id
    message = await store.get_message(message_id)
    assert message.mailbox == "100"
    assert message.folder == Folder.NEW
    assert (message.caller_number, message.caller_name) == ("+15551234567", "Ada Lovelace")
    assert message.called_number == "100"
    assert message.reason is DiversionReason.NO_ANSWER
    assert message.received_at == now
    assert message.received_at.tzinfo is dt.UTC
    assert message.duration_seconds == pytest.approx(3.5)
    assert message.codec is Codec.PCMU
    assert message.urgent is False
    assert message.heard_at is None
    assert message.call_id == caller.call_id
    assert message.audio_key == f"messages/{profile.id}/{message_id}.wav"

    wav = parse_g711_wav(await store.message_audio(message_id))
    assert (wav.format_tag, wav.channels, wav.sample_rate) == (7, 1, 8000)
    assert wav.fact_samples == len(audio)
    assert wav.payload == audio
    # Nothing left for recovery to find.
    assert not pending_files(store.blobs.root)
    assert await store.recover() == []


async def test_alaw_recordings_say_so(store: Store, caller: CallerInfo, now: dt.datetime) -> None:
    profile = await _mailbox(store)
    recording = store.start_recording(profile, caller, Codec.PCMA, now)
    recording.write(b"\xd5" * SECOND * 2)
    message = await store.get_message(await store.commit_recording(recording))
    assert message.codec is Codec.PCMA
    assert parse_g711_wav(await store.message_audio(message.id)).format_tag == 6


async def test_an_odd_length_is_padded(store: Store, caller: CallerInfo, now: dt.datetime) -> None:
    profile = await _mailbox(store)
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    recording.write(_audio(2) + b"\x01")
    message_id = await store.commit_recording(recording)
    data = await store.message_audio(message_id)
    assert len(data) % 2 == 0
    assert parse_g711_wav(data).payload == _audio(2) + b"\x01"


async def test_message_json(store: Store, caller: CallerInfo, now: dt.datetime) -> None:
    profile = await _mailbox(store)
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    recording.write(_audio(2))
    message = await store.get_message(await store.commit_recording(recording))
    data = message.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["id"] == str(message.id)
    assert data["mailbox"] == "100"
    assert data["received_at"] == "2026-03-01T12:30:15.250000+00:00"
    assert data["duration_seconds"] == 2.0
    assert data["folder"] == "new"
    assert data["reason"] == "no-answer"
    assert data["urgent"] is False
    assert data["codec"] == "PCMU"
    assert data["caller_number"] == "+15551234567"
    assert data["caller_name"] == "Ada Lovelace"
    assert data["called_number"] == "100"


async def test_discard_removes_everything(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    profile = await _mailbox(store)
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    recording.write(_audio(0.5))
    recording.flush()
    assert recording.path.exists() and recording.sidecar.exists()
    await store.discard_recording(recording)
    assert not recording.path.exists()
    assert not recording.sidecar.exists()
    assert await store.list_messages() == []


async def test_committing_twice_is_harmless(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    profile = await _mailbox(store)
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    recording.write(_audio(2))
    first = await store.commit_recording(recording)
    assert await store.commit_recording(recording) == first
    await store.discard_recording(recording)  # too late: the message is kept
    assert [m.id for m in await store.list_messages()] == [first]
    assert await store.message_audio(first)


async def test_listing_messages(store: Store, caller: CallerInfo, now: dt.datetime) -> None:
    alice = await _mailbox(store, "100")
    bob = await _mailbox(store, "200")
    ids = []
    for minutes, profile in [(0, alice), (5, bob), (10, alice)]:
        recording = store.start_recording(
            profile, caller, Codec.PCMU, now + dt.timedelta(minutes=minutes)
        )
        recording.write(_audio(2))
        ids.append(await store.commit_recording(recording))

    assert [m.id for m in await store.list_messages()] == [ids[2], ids[1], ids[0]]
    assert [m.id for m in await store.list_messages("100")] == [ids[2], ids[0]]
    assert [m.id for m in await store.list_messages("100", folder="new")] == [ids[2], ids[0]]
    assert await store.list_messages(folder="saved") == []
    with pytest.raises(NotFound):
        await store.list_messages("999")
    with pytest.raises(NotFound):
        await store.get_message(uuid.uuid4())
    with pytest.raises(InvalidValue, match="message id"):
        await store.get_message("not-a-uuid")
    assert (await store.get_message(str(ids[1]))).mailbox == "200"


async def test_missed_calls(store: Store, caller: CallerInfo, now: dt.datetime) -> None:
    alice = await _mailbox(store, "100")
    bob = await _mailbox(store, "200")
    await store.record_missed_call(alice, caller, now)
    await store.record_missed_call(bob, caller, now + dt.timedelta(minutes=1))
    calls = await store.list_missed_calls()
    assert [c.mailbox for c in calls] == ["200", "100"]
    assert calls[1].at == now
    assert calls[1].reason is DiversionReason.NO_ANSWER
    assert [c.mailbox for c in await store.list_missed_calls("100")] == ["100"]
    assert calls[0].to_json()["at"] == "2026-03-01T12:31:15.250000+00:00"


def _crash(recording: RecordingFile) -> None:
    """What a killed process leaves: flushed data in the file, no final header, fd gone."""
    fd = recording._fd
    assert fd is not None
    os.close(fd)  # the kernel closes it on exit; nothing is patched
    del recording
    gc.collect()


async def test_recovery_after_a_crash(
    database_url: str, data_dir: Path, caller: CallerInfo, now: dt.datetime
) -> None:
    await upgrade_database(database_url)
    store = await Store.open(database_url, data_dir)
    profile = await _mailbox(store)
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    audio = _audio(4)
    _record(recording, audio)
    recording.flush()
    recording.write(_audio(0.3))  # buffered, not flushed: lost in the crash
    message_id, path = recording.id, recording.path
    _crash(recording)
    await store.close()

    # The header still says "no data": the placeholder written at start.
    assert parse_g711_wav(path.read_bytes()[:58]).fact_samples == 0

    restarted = await Store.open(database_url, data_dir)
    try:
        assert await restarted.recover() == [message_id]
        message = await restarted.get_message(message_id)
        assert message.duration_seconds == pytest.approx(4.0)
        assert message.received_at == now
        assert message.caller_name == "Ada Lovelace"
        wav = parse_g711_wav(await restarted.message_audio(message_id))
        assert wav.payload == audio
        assert wav.fact_samples == len(audio)
        assert not pending_files(data_dir)

        assert await restarted.recover() == []  # idempotent
        assert len(await restarted.list_messages()) == 1
    finally:
        await restarted.close()


async def test_recovery_when_the_row_was_already_committed(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    """A crash between the commit and the sidecar's removal: only the sidecar goes."""
    profile = await _mailbox(store)
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    recording.write(_audio(3))
    sidecar_text = recording.sidecar.read_text()
    message_id = await store.commit_recording(recording)
    recording.sidecar.write_text(sidecar_text)  # as if the process died before removing it

    assert await store.recover() == []
    assert not recording.sidecar.exists()
    assert [m.id for m in await store.list_messages()] == [message_id]
    assert parse_g711_wav(await store.message_audio(message_id)).payload == _audio(3)


async def test_a_too_short_recovered_recording_becomes_a_missed_call(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    profile = await _mailbox(store, min_message_seconds=2)
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    recording.write(_audio(1.5))
    recording.flush()
    path = recording.path
    _crash(recording)

    assert await store.recover() == []
    assert await store.list_messages() == []
    assert not path.exists()
    calls = await store.list_missed_calls("100")
    assert [(c.call_id, c.at, c.caller_number) for c in calls] == [
        (caller.call_id, now, caller.caller_number)
    ]
    assert await store.recover() == []
    assert len(await store.list_missed_calls()) == 1


async def test_a_recording_whose_mailbox_is_gone_is_dropped(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    profile = await _mailbox(store)
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    recording.write(_audio(3))
    recording.flush()
    path, sidecar = recording.path, recording.sidecar
    _crash(recording)
    await store.remove_mailbox("100")

    assert await store.recover() == []
    assert not path.exists() and not sidecar.exists()


async def test_committing_after_the_mailbox_was_removed(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    profile = await _mailbox(store)
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    recording.write(_audio(3))
    await store.remove_mailbox("100")
    with pytest.raises(NotFound, match="removed during the call"):
        await store.commit_recording(recording)
    assert not recording.path.exists() and not recording.sidecar.exists()


async def test_calls_ending_together_share_commits_and_a_removed_mailbox_fails_only_its_own(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    kept, gone = await _mailbox(store, "100"), await _mailbox(store, "200")
    recordings = [store.start_recording(kept, caller, Codec.PCMU, now) for _ in range(30)]
    doomed = store.start_recording(gone, caller, Codec.PCMU, now)
    for index, recording in enumerate([*recordings, doomed]):
        recording.write(bytes([index]) * SECOND * 3)
    await store.remove_mailbox("200")

    outcomes = await asyncio.gather(
        *(store.commit_recording(r) for r in [*recordings, doomed]), return_exceptions=True
    )

    assert outcomes[:-1] == [r.id for r in recordings]
    assert isinstance(outcomes[-1], NotFound)
    stored = {m.id: m for m in await store.list_messages("100")}
    assert set(stored) == {r.id for r in recordings}
    for index, recording in enumerate(recordings):
        wav = parse_g711_wav(await store.message_audio(recording.id))
        assert wav.payload == bytes([index]) * SECOND * 3  # each row got its own audio
    assert not pending_files(store.blobs.root)
    assert await store.recover() == []


async def test_an_unreadable_sidecar_is_left_alone(store: Store) -> None:
    sidecar = store.blobs.root / "messages" / "1" / "x.pending.json"
    sidecar.parent.mkdir(parents=True)
    sidecar.write_text("{not json")
    assert await store.recover() == []
    assert sidecar.exists()


async def test_a_sidecar_key_may_not_leave_the_store(
    store: Store, caller: CallerInfo, now: dt.datetime
) -> None:
    profile = await _mailbox(store)
    recording = store.start_recording(profile, caller, Codec.PCMU, now)
    data = json.loads(recording.sidecar.read_text())
    _crash(recording)
    data["key"] = "../../outside.wav"
    recording.sidecar.write_text(json.dumps(data))
    assert await store.recover() == []
    assert recording.sidecar.exists()


async def test_start_recording_refuses_a_naive_time(store: Store, caller: CallerInfo) -> None:
    profile = await _mailbox(store)
    with pytest.raises(InvalidValue):
        store.start_recording(profile, caller, Codec.PCMU, dt.datetime(2026, 1, 1))
