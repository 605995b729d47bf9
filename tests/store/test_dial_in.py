"""What dial-in needs from the store, on SQLite and PostgreSQL: logins with persistent lockout,
folders, heard/deleted/undeleted, forwarding with a spoken comment, the owner's own PIN."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pytest

from afterbeep.domain import CallerInfo, Codec, Folder, LoginResult, MailboxProfile
from afterbeep.media.g711 import decode, encode
from afterbeep.media.wav import read_g711_wav
from afterbeep.store import Store
from afterbeep.store.errors import NotFound
from afterbeep.store.logins import LoginPolicy

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
SOURCE = "192.0.2.7|+15550100"


async def _box(store: Store, number: str, **options: object) -> MailboxProfile:
    await store.add_mailbox(number, f"Box {number}", **options)  # type: ignore[arg-type]
    profile = await store.find_mailbox(number)
    assert profile is not None
    return profile


async def _message(
    store: Store, box: MailboxProfile, caller: CallerInfo, at: dt.datetime, audio: bytes
) -> str:
    recording = store.start_recording(box, caller, Codec.PCMU, at)
    recording.write(audio)
    return str(await store.commit_recording(recording))


async def _events(store: Store) -> list[dict[str, object]]:
    return [job.payload for job in await store.jobs.claim(100, dt.timedelta(seconds=30))]


async def test_a_right_pin_logs_in_and_a_default_pin_must_be_changed(store: Store) -> None:
    await _box(store, "100", pin="1234", pin_must_change=True)
    assert (await store.login("100", "9999", SOURCE, NOW)).result is LoginResult.WRONG
    login = await store.login("100", "1234", SOURCE, NOW)
    assert (login.result, login.number, login.must_change_pin) == (LoginResult.OK, "100", True)
    await store.set_own_pin("100", "86420")
    assert (await store.login("100", "1234", SOURCE, NOW)).result is LoginResult.WRONG
    login = await store.login("100", "86420", SOURCE, NOW)
    assert (login.result, login.must_change_pin) == (LoginResult.OK, False)


async def test_no_pin_and_unknown_mailboxes_never_log_in(store: Store) -> None:
    await _box(store, "100")  # no PIN: no dial-in
    assert (await store.login("100", "", SOURCE, NOW)).result is LoginResult.WRONG
    assert (await store.login("100", "0000", SOURCE, NOW)).result is LoginResult.WRONG
    assert (await store.login("999", "1234", SOURCE, NOW)).result is LoginResult.WRONG


async def test_failures_lock_the_mailbox_for_growing_delays_and_tell_the_owner(
    store: Store,
) -> None:
    store.logins.policy = LoginPolicy(max_failures=3, first_lock=60, max_lock=3600)
    await _box(store, "100", pin="1234", emails="owner@example.com")
    await _events(store)
    # Three wrong PINs from three sources (a distributed guess): the mailbox locks.
    for n in range(3):
        result = await store.login("100", "0000", f"198.51.100.{n}|x", NOW)
        assert result.result is LoginResult.WRONG
    # Locked: even the right PIN fails, and looks like any other failure.
    assert (await store.login("100", "1234", SOURCE, NOW)).result is LoginResult.WRONG
    [event] = [e for e in await _events(store) if e["event"] == "mailbox.locked"]
    subject = await store.event_subject(event)
    assert subject is not None and subject.count == 3 and subject.lock_seconds == 60
    assert subject.mailbox.emails == ("owner@example.com",)

    later = NOW + dt.timedelta(seconds=61)  # the lock is over
    assert (await store.login("100", "1234", SOURCE, later)).result is LoginResult.OK
    for n in range(3):  # success reset the count; three more failures: a longer lock
        await store.login("100", "0000", f"203.0.113.{n}|y", later)
    after_first_length = later + dt.timedelta(seconds=61)
    assert (await store.login("100", "1234", SOURCE, after_first_length)).result is (
        LoginResult.WRONG
    )  # the second lock lasts 120 s
    at_end = later + dt.timedelta(seconds=121)
    assert (await store.login("100", "1234", SOURCE, at_end)).result is LoginResult.OK


async def test_one_source_sweeping_mailboxes_is_stopped(store: Store) -> None:
    store.logins.policy = LoginPolicy(max_failures=4, first_lock=300)
    for number in ("100", "101", "102", "103", "104"):
        await _box(store, number, pin="1234")
    results = [
        (await store.login(number, "0000", SOURCE, NOW)).result
        for number in ("100", "101", "102", "103")
    ]
    assert results == [LoginResult.WRONG] * 3 + [LoginResult.SOURCE_LOCKED]
    # From this source nothing is even checked now, not even a right PIN …
    assert (await store.login("104", "1234", SOURCE, NOW)).result is LoginResult.SOURCE_LOCKED
    # … while the owner calling from elsewhere is not affected (no mailbox had 4 failures).
    assert (await store.login("100", "1234", "192.0.2.99|+1", NOW)).result is LoginResult.OK


async def test_lockouts_survive_a_restart(
    store: Store, database_url: str, data_dir: object
) -> None:
    store.logins.policy = LoginPolicy(max_failures=2, first_lock=600)
    await _box(store, "100", pin="1234")
    for _ in range(2):
        await store.login("100", "0000", SOURCE, NOW)
    again = await Store.open(database_url, data_dir)  # type: ignore[arg-type]
    try:
        result = await again.login("100", "1234", "192.0.2.99|+1", NOW + dt.timedelta(seconds=5))
        assert result.result is LoginResult.WRONG
    finally:
        await again.close()


async def test_old_failures_are_forgotten(store: Store) -> None:
    store.logins.policy = LoginPolicy(max_failures=3, forget_after=600)
    await _box(store, "100", pin="1234")
    for minutes in (0, 20, 40):  # never two within ten minutes
        at = NOW + dt.timedelta(minutes=minutes)
        await store.login("100", "0000", f"198.51.100.{minutes}|x", at)
    at = NOW + dt.timedelta(minutes=41)
    assert (await store.login("100", "1234", SOURCE, at)).result is LoginResult.OK


async def test_folders_heard_delete_undelete(store: Store, caller: CallerInfo) -> None:
    box = await _box(store, "100")
    first = await _message(store, box, caller, NOW, bytes(8000))
    second = await _message(store, box, caller, NOW + dt.timedelta(minutes=1), bytes(8000))
    assert await store.folder_counts("100") == {"new": 2}
    assert [str(m.id) for m in await store.messages_to_hear("100", "new")] == [first, second]

    await store.mark_heard(first, NOW)
    assert await store.folder_counts("100") == {"new": 1, "old": 1}
    heard = await store.get_message(first)
    assert heard.folder == "old" and heard.heard_at == NOW

    await store.move_message(first, Folder.WORK.value)
    await store.move_message(first, Folder.DELETED.value)
    assert await store.folder_counts("100") == {"new": 1, "deleted": 1}
    assert await store.undelete_message(first) == "work"  # back where it was
    await store.move_message(second, Folder.DELETED.value)
    assert await store.undelete_message(second) == "new"
    assert await store.folder_counts("100") == {"new": 1, "work": 1}


async def test_forwarding_puts_the_comment_before_the_message_and_notifies(
    store: Store, caller: CallerInfo
) -> None:
    source = await _box(store, "100")
    await _box(store, "200", emails="two@example.com")
    await _box(store, "300")
    tone = encode(Codec.PCMU, (np.sin(np.arange(8000) / 3) * 8000).astype(np.int16))
    original = await _message(store, source, caller, NOW, tone)
    await _events(store)
    comment = encode(Codec.PCMA, np.full(4000, 1000, dtype=np.int16))  # another codec

    created = await store.forward_message(
        original, ["200", "300", "200"], (Codec.PCMA, comment), NOW
    )
    assert len(created) == 2  # each mailbox once
    copy = await store.get_message(created[0])
    assert (copy.mailbox, copy.folder, copy.caller_number) == ("200", "new", caller.caller_number)
    assert copy.duration_seconds == pytest.approx(2.0)  # 0.5 s comment + 0.5 s gap + 1 s
    stored = read_g711_wav(await store.message_audio(copy.id))
    assert stored is not None and stored[0] is Codec.PCMU
    samples = decode(Codec.PCMU, stored[1])
    assert abs(int(np.median(samples[:4000])) - 1000) < 40  # the comment, transcoded
    assert stored[1][-8000:] == tone  # then the original, unchanged
    events = await _events(store)
    assert sorted(str(e["message_id"]) for e in events if e["event"] == "message.created") == (
        sorted(str(c) for c in created)
    )
    # The original stays where it was.
    assert (await store.get_message(original)).mailbox == "100"


async def test_every_change_of_a_mailbox_s_counts_is_announced(
    store: Store, caller: CallerInfo
) -> None:
    changed: list[int] = []
    store.on_counts_changed(changed.append)
    box = await _box(store, "100")
    other = await _box(store, "200")
    message = await _message(store, box, caller, NOW, bytes(8000))
    await store.mark_heard(message, NOW)
    await store.move_message(message, Folder.DELETED.value)
    await store.undelete_message(message)
    await store.forward_message(message, ["200"], None, NOW)
    await store.delete_message(message)
    assert changed == [box.id] * 4 + [other.id, box.id]


async def test_forwarding_never_crosses_into_another_organization(
    store: Store, caller: CallerInfo
) -> None:
    from afterbeep.store.models import Mailbox, Organization

    source = await _box(store, "100")
    async with store._session() as session:
        other = Organization(slug="other", name="Other Ltd")
        session.add(other)
        await session.flush()
        session.add(Mailbox(number="900", name="Theirs", organization_id=other.id))
        await session.commit()
    message = await _message(store, source, caller, NOW, bytes(8000))
    with pytest.raises(NotFound):
        await store.forward_message(message, ["900"], None, NOW)
    assert await store.list_messages("900") == []


@pytest.mark.postgres
async def test_changes_made_by_another_process_are_heard_on_postgresql(
    store: Store, caller: CallerInfo, database_url: str, data_dir: object
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; with SQLite one process serves")
    import asyncio

    heard: list[int] = []
    store.on_counts_changed(heard.append)
    listening = asyncio.get_running_loop().create_task(store.listen_for_changes())
    other = await Store.open(database_url, data_dir)  # type: ignore[arg-type]  # the CLI, a node
    try:
        box = await _box(store, "100")
        message = await _message(store, box, caller, NOW, bytes(8000))
        await asyncio.sleep(0.5)  # the listener connects
        heard.clear()
        await other.mark_heard(message, NOW)
        for _ in range(50):
            if heard:
                break
            await asyncio.sleep(0.05)
        assert heard == [box.id]
        # A transaction that does not commit tells nobody.
        heard.clear()
        with pytest.raises(NotFound):
            await other.move_message(uuid.uuid4(), "work")
        await asyncio.sleep(0.3)
        assert heard == []
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await other.close()
