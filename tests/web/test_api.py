"""The REST API against a real store: what each role sees and may do."""

from __future__ import annotations

import datetime as dt
import io
import wave

import numpy as np
import pytest

from afterbeep.media.wav import read_g711_wav
from tests.web.conftest import Site


def _tone_wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()


async def test_no_token_no_data(site: Site) -> None:
    async with site.client() as client:
        response = await client.get("/api/v1/mailboxes")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_wrong_token_is_refused(site: Site) -> None:
    async with site.client() as client:
        response = await client.get(
            "/api/v1/mailboxes", headers={"Authorization": "Bearer abk_nottherealone"}
        )
    assert response.status_code == 401


async def test_each_role_sees_its_mailboxes(site: Site) -> None:
    seen = {}
    for user in ("alice", "bob", "carol", "dave", "pat"):
        async with site.client(user) as client:
            response = await client.get("/api/v1/mailboxes")
        assert response.status_code == 200
        seen[user] = [m["number"] for m in response.json()]
    assert seen == {
        "alice": ["1001", "1002"],
        "bob": ["1001"],
        "carol": ["2001"],
        "dave": [],
        "pat": ["1001", "1002", "2001"],
    }


async def test_listing_pages_newest_first(site: Site) -> None:
    async with site.client("bob") as client:
        first = (await client.get("/api/v1/mailboxes/1001/messages?limit=2")).json()
        rest = (
            await client.get(
                f"/api/v1/mailboxes/1001/messages?limit=2&cursor={first['next_cursor']}"
            )
        ).json()
    ids = [m["id"] for m in first["items"] + rest["items"]]
    assert ids == list(reversed(site.messages["1001"]))
    assert rest["next_cursor"] is None
    assert first["items"][0]["caller_name"] == "Caller 2"
    assert first["items"][0]["reason"] == "busy"


async def test_search_by_caller(site: Site) -> None:
    async with site.client("bob") as client:
        found = (await client.get("/api/v1/mailboxes/1001/messages?q=Caller 1")).json()
        by_number = (await client.get("/api/v1/mailboxes/1001/messages?q=49300002")).json()
    assert [m["caller_name"] for m in found["items"]] == ["Caller 1"]
    assert [m["caller_name"] for m in by_number["items"]] == ["Caller 2"]


async def test_play_with_range_marks_heard_delete_undelete(site: Site) -> None:
    message_id = site.messages["1001"][0]
    async with site.client("bob") as client:
        audio = await client.get(f"/api/v1/messages/{message_id}/audio")
        assert audio.status_code == 200
        assert read_g711_wav(audio.content) is not None
        part = await client.get(
            f"/api/v1/messages/{message_id}/audio", headers={"Range": "bytes=100-199"}
        )
        assert part.status_code == 206
        assert part.content == audio.content[100:200]
        heard = await client.patch(f"/api/v1/messages/{message_id}", json={"heard": True})
        assert heard.json()["folder"] == "old" and heard.json()["heard_at"]
        assert (await client.delete(f"/api/v1/messages/{message_id}")).status_code == 204
        assert (await client.get(f"/api/v1/messages/{message_id}")).json()["folder"] == "deleted"
        back = await client.post(f"/api/v1/messages/{message_id}/undelete")
        assert back.json()["folder"] == "old"
        mp3 = await client.get(f"/api/v1/messages/{message_id}/audio?format=mp3")
        assert mp3.headers["content-type"] == "audio/mpeg" and len(mp3.content) > 100
        assert (
            await client.delete(f"/api/v1/messages/{message_id}?permanent=true")
        ).status_code == 204
        assert (await client.get(f"/api/v1/messages/{message_id}")).status_code == 404


async def test_custom_folders(site: Site) -> None:
    message_id = site.messages["1001"][1]
    async with site.client("bob") as client:
        moved = await client.patch(f"/api/v1/messages/{message_id}", json={"folder": "clients"})
        assert moved.json()["folder"] == "clients"
        folders = (await client.get("/api/v1/mailboxes/1001/folders")).json()
        bad = await client.patch(f"/api/v1/messages/{message_id}", json={"folder": "../x"})
    assert folders["clients"] == 1 and folders["new"] == 2
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid"


async def test_forward_with_typed_comment_inside_the_organization(site: Site) -> None:
    message_id = site.messages["1001"][0]
    async with site.client("alice") as client:
        done = await client.post(
            f"/api/v1/messages/{message_id}/forward", json={"to": ["1002"], "comment": "FYI"}
        )
        assert done.status_code == 201
        (new_id,) = done.json()["ids"]
        copy = (await client.get(f"/api/v1/messages/{new_id}")).json()
        assert copy["mailbox"] == "1002" and copy["folder"] == "new"
        # The comment (0.5 s) and a 0.5 s gap come before the 2 s message.
        assert copy["duration_seconds"] == 3.0
        other = await client.post(f"/api/v1/messages/{message_id}/forward", json={"to": ["2001"]})
    assert other.status_code == 404  # acme's mailbox does not exist for default's users


async def test_greeting_upload_is_converted(site: Site) -> None:
    async with site.client("bob") as client:
        put = await client.put("/api/v1/mailboxes/1001/greetings/unavailable", content=_tone_wav())
        assert put.status_code == 204
        got = await client.get("/api/v1/mailboxes/1001/greetings/unavailable")
        with wave.open(io.BytesIO(got.content)) as w:
            assert (w.getframerate(), w.getnchannels()) == (8000, 1)
            assert abs(w.getnframes() - 8000) < 200
        junk = await client.put(
            "/api/v1/mailboxes/1001/greetings/busy", content=b"this is not audio" * 100
        )
        mailbox = (await client.get("/api/v1/mailboxes/1001")).json()
    assert junk.status_code == 422
    assert "cannot decode" in junk.json()["error"]["message"]
    assert mailbox["greetings"] == ["unavailable"]


async def test_settings_take_effect_for_the_next_call(site: Site) -> None:
    async with site.client("bob") as client:
        changed = await client.patch(
            "/api/v1/mailboxes/1001",
            json={"warning_mode": "none", "max_message_seconds": 60, "emails": ["b@x.example"]},
        )
        assert changed.status_code == 200
        bad = await client.patch("/api/v1/mailboxes/1001", json={"timezone": "Mars/Base"})
        assert bad.status_code == 422
    profile = await site.store.find_mailbox("1001")
    assert profile is not None
    assert (profile.warning_mode.value, profile.max_message_seconds) == ("none", 60)


async def test_members_cannot_administer(site: Site) -> None:
    async with site.client("bob") as client:
        add = await client.post("/api/v1/mailboxes", json={"number": "1009", "name": "X"})
        user = await client.post(
            "/api/v1/users",
            json={"email": "eve@example.com", "name": "Eve", "password": "x" * 12},
        )
        remove = await client.delete("/api/v1/mailboxes/1001")
    assert (add.status_code, user.status_code, remove.status_code) == (403, 403, 403)


async def test_admin_adds_mailbox_and_user_in_own_organization(site: Site) -> None:
    async with site.client("carol") as client:
        user = await client.post(
            "/api/v1/users",
            json={"email": "erin@acme.example", "name": "Erin", "password": "y" * 12},
        )
        assert user.status_code == 201 and user.json()["organization"] == "acme"
        added = await client.post(
            "/api/v1/mailboxes",
            json={"number": "2002", "name": "Erin", "owner_user_id": user.json()["id"]},
        )
        assert added.status_code == 201
        provider = await client.post(
            "/api/v1/users",
            json={"email": "x@acme.example", "name": "X", "password": "z" * 12, "role": "provider"},
        )
    assert provider.status_code == 403
    assert (await site.store.get_mailbox("2002")).organization_id != (
        await site.store.get_mailbox("1001")
    ).organization_id


async def test_tokens_can_be_listed_created_and_revoked(site: Site) -> None:
    async with site.client("dave") as client:
        created = (await client.post("/api/v1/tokens", json={"name": "script"})).json()
        listed = (await client.get("/api/v1/tokens")).json()
        assert [t["name"] for t in listed] == ["test", "script"]
        assert all(t["token"] is None for t in listed)
        assert (await client.delete(f"/api/v1/tokens/{created['id']}")).status_code == 204
        gone = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {created['token']}"}
        )
    assert gone.status_code == 401


async def test_export_is_a_zip_of_the_mailbox(site: Site) -> None:
    import zipfile

    async with site.client("bob") as client:
        response = await client.get("/api/v1/mailboxes/1001/export")
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert "manifest.json" in names
    assert sum(n.startswith("messages/") for n in names) == 3


async def test_openapi_document_is_served(site: Site) -> None:
    async with site.client() as client:
        doc = (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/mailboxes/{number}/messages" in doc["paths"]


async def test_broadcast_to_a_distribution_list(site: Site) -> None:
    async with site.client("alice") as client:
        (team,) = (await client.get("/api/v1/lists")).json()
        assert team["members"] == ["1001", "1002"]
        message_id = site.messages["1002"][0]
        done = await client.post(
            f"/api/v1/messages/{message_id}/forward", json={"lists": [team["id"]], "to": ["1001"]}
        )
        assert done.status_code == 201
        assert len(done.json()["ids"]) == 2  # 1001 once, though named twice; 1002 itself
        foreign = await client.post(
            "/api/v1/lists", json={"name": "outside", "members": ["1001", "2001"]}
        )
        assert foreign.status_code == 404  # 2001 is another organization's
        changed = await client.put(
            f"/api/v1/lists/{team['id']}/members", json={"members": ["1002"]}
        )
        assert changed.json()["members"] == ["1002"]
        nothing = await client.post(f"/api/v1/messages/{message_id}/forward", json={})
    assert nothing.status_code == 422
    async with site.client("bob") as client:
        assert (await client.get("/api/v1/lists")).json()[0]["name"] == "team"
        denied = await client.delete(f"/api/v1/lists/{team['id']}")
    assert denied.status_code == 403
    async with site.client("carol") as client:
        assert (await client.get("/api/v1/lists")).json() == []


async def test_values_no_column_can_hold_are_invalid_not_a_failure(site: Site) -> None:
    """Ids beyond the columns' range and NUL characters (PostgreSQL refuses them)."""
    async with site.client("alice") as client:
        answers = [
            await client.delete("/api/v1/users/9223372036854775808"),
            await client.get("/api/v1/lists/2147483648"),
            await client.post("/api/v1/tokens", json={"name": "a\u0000b"}),
            await client.get("/api/v1/mailboxes/1001/messages?q=%00"),
        ]
    for response in answers:
        assert response.status_code in (404, 422), response.text
        assert response.json()["error"]["code"] in ("not_found", "invalid")


async def test_search_finds_transcript_words_in_any_case_and_script(site: Site) -> None:
    await site.store.set_transcript(
        site.messages["1001"][0], "Привет, это ÄRGER wegen der Rechnung"
    )
    async with site.client("bob") as client:
        for words in ("привет", "ärger", "RECHNUNG"):
            found = (await client.get(f"/api/v1/mailboxes/1001/messages?q={words}")).json()
            assert [m["id"] for m in found["items"]] == [site.messages["1001"][0]], words
        none = (await client.get("/api/v1/mailboxes/1001/messages?q=100%25")).json()
    assert none["items"] == []  # % is a character to find, not a wildcard


async def test_sqlite_search_index_follows_the_messages(site: Site) -> None:
    if site.store.engine.dialect.name != "sqlite":
        pytest.skip("the FTS5 index is SQLite's (PostgreSQL has a pg_trgm index)")
    from sqlalchemy import text

    async def matches(word: str) -> int:
        async with site.store.engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT count(*) FROM messages_search WHERE messages_search MATCH :w"),
                {"w": f'"{word}"'},
            )
        return int(found or 0)

    message_id = site.messages["1001"][0]
    await site.store.set_transcript(message_id, "quarterly invoice overdue")
    assert await matches("invoice") == 1
    await site.store.set_transcript(message_id, "never mind")
    assert await matches("invoice") == 0
    assert await matches("caller 1") == 3  # one in each of three mailboxes
    await site.store.delete_message(site.messages["1002"][1])
    assert await matches("caller 1") == 2


async def test_check_fix_rebuilds_the_search_index(site: Site) -> None:
    if site.store.engine.dialect.name != "sqlite":
        pytest.skip("the trigram index is SQLite's")
    from sqlalchemy import text

    from afterbeep.store.retention import check

    async with site.store.engine.begin() as conn:  # as a renumbering VACUUM would leave it
        await conn.execute(
            text("INSERT INTO messages_search(messages_search) VALUES ('delete-all')")
        )
    async with site.client("bob") as client:
        assert (await client.get("/api/v1/mailboxes/1001/messages?q=caller")).json()["items"] == []
        await check(site.store, fix=True)
        found = (await client.get("/api/v1/mailboxes/1001/messages?q=caller")).json()
    assert len(found["items"]) == 3


async def test_forward_with_a_recorded_comment(site: Site) -> None:
    message_id = site.messages["1001"][0]
    async with site.client("alice") as client:
        done = await client.post(
            f"/api/v1/messages/{message_id}/forward/recorded?to=1002",
            content=_tone_wav(1.0),
        )
        assert done.status_code == 201, done.text
        (new_id,) = done.json()["ids"]
        copy = (await client.get(f"/api/v1/messages/{new_id}")).json()
        junk = await client.post(
            f"/api/v1/messages/{message_id}/forward/recorded?to=1002", content=b"no audio" * 30
        )
    assert copy["duration_seconds"] == 3.5  # 1 s comment, 0.5 s gap, 2 s message
    assert junk.status_code == 422


async def test_end_every_browser_session_through_the_api(site: Site) -> None:
    bob = await site.store.accounts.user_by_email("bob@example.com")
    now = dt.datetime.now(dt.UTC)
    token, _csrf = await site.store.accounts.open_session(bob.id, now)
    assert await site.store.accounts.session_viewer(token, now) is not None
    async with site.client("bob") as client:
        assert (await client.delete("/api/v1/sessions")).status_code == 204
    assert await site.store.accounts.session_viewer(token, now) is None


async def test_pages_split_messages_received_at_the_same_instant(site: Site) -> None:
    from tests.web.conftest import leave_message

    at = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    same = {await leave_message(site.store, "1002", "+1", f"Twin {i}", at) for i in range(5)}
    seen: list[str] = []
    url = "/api/v1/mailboxes/1002/messages?limit=2"
    cursor = None
    async with site.client("alice") as client:
        while True:
            page = (await client.get(url + (f"&cursor={cursor}" if cursor else ""))).json()
            seen += [m["id"] for m in page["items"]]
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 8  # 5 twins and the 3 earlier ones, none twice
    assert set(seen[:5]) == same


async def test_a_provider_sets_up_an_organization(site: Site) -> None:
    async with site.client("pat") as client:
        org = await client.post("/api/v1/organizations", json={"slug": "globex", "name": "Globex"})
        assert org.status_code == 201
        user = await client.post(
            "/api/v1/users",
            json={
                "email": "hank@globex.example",
                "name": "Hank",
                "password": "h" * 12,
                "role": "admin",
                "organization": "globex",
            },
        )
        assert user.status_code == 201 and user.json()["organization"] == "globex"
        mailbox = await client.post(
            "/api/v1/mailboxes",
            json={"number": "3001", "name": "Hank", "organization": "globex",
                  "owner_user_id": user.json()["id"]},
        )  # fmt: skip
        assert mailbox.status_code == 201
        slugs = [o["slug"] for o in (await client.get("/api/v1/organizations")).json()]
    assert slugs == ["acme", "default", "globex"]
    async with site.client("carol") as client:
        assert [o["slug"] for o in (await client.get("/api/v1/organizations")).json()] == ["acme"]
        denied = await client.post("/api/v1/organizations", json={"slug": "x", "name": "X"})
        elsewhere = await client.post(
            "/api/v1/mailboxes", json={"number": "3002", "name": "X", "organization": "globex"}
        )
        seen = [m["number"] for m in (await client.get("/api/v1/mailboxes")).json()]
    assert (denied.status_code, elsewhere.status_code) == (403, 404)
    assert seen == ["2001"]
