"""The pages: logging in (CSRF, rate limits, cookies), the inbox, forms, logging out."""

from __future__ import annotations

import re

import httpx

from tests.web.conftest import PASSWORD, Site


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/login")
    match = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert match
    return await client.post(
        "/login", data={"email": email, "password": password, "csrf": match.group(1)}
    )


def _csrf(page: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert match
    return match.group(1)


async def test_pages_need_a_login(site: Site) -> None:
    async with site.client() as client:
        response = await client.get("/mailboxes/1001")
    assert response.status_code == 303 and response.headers["location"] == "/login"


async def test_login_sets_a_safe_cookie_and_shows_the_inbox(site: Site) -> None:
    async with site.client() as client:
        response = await _login(client, "BOB@example.com ")
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain HTTP here; Secure over TLS
        home = await client.get("/", follow_redirects=True)
    assert str(home.url).endswith("/mailboxes/1001")
    assert "Caller 2" in home.text and "+49300002" in home.text
    assert "busy" in home.text
    assert "2026-12-01 09:02" in home.text  # Bob's time zone is UTC


async def test_login_form_without_its_token_is_refused(site: Site) -> None:
    async with site.client() as client:
        response = await client.post(
            "/login", data={"email": "bob@example.com", "password": PASSWORD, "csrf": "forged"}
        )
    assert response.status_code == 403
    assert "afterbeep_session" not in response.headers.get("set-cookie", "")


async def test_wrong_passwords_lock_the_account_for_a_while(site: Site) -> None:
    async with site.client() as client:
        for _ in range(4):
            assert (await _login(client, "bob@example.com", "wrong password")).status_code == 401
        assert (await _login(client, "bob@example.com", "wrong password")).status_code == 429
        locked = await _login(client, "bob@example.com")
    assert locked.status_code == 429  # even the right password waits out the lock
    assert "Too many failed logins" in locked.text


async def test_unknown_and_wrong_look_the_same(site: Site) -> None:
    async with site.client() as client:
        unknown = await _login(client, "nobody@example.com", "whatever password")
        wrong = await _login(client, "alice@example.com", "whatever password")
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong e-mail address or password" in unknown.text


async def test_changes_need_the_csrf_token(site: Site) -> None:
    message_id = site.messages["1001"][0]
    async with site.client() as client:
        await _login(client, "bob@example.com")
        page = await client.get("/mailboxes/1001")
        forged = await client.post(f"/messages/{message_id}", data={"action": "delete"})
        api_forged = await client.patch(f"/api/v1/messages/{message_id}", json={"heard": True})
        assert (forged.status_code, api_forged.status_code) == (403, 403)
        done = await client.post(
            f"/messages/{message_id}", data={"action": "delete", "csrf": _csrf(page.text)}
        )
        assert done.status_code == 303
        header = await client.patch(
            f"/api/v1/messages/{site.messages['1001'][1]}",
            json={"heard": True},
            headers={"X-CSRF-Token": _csrf(page.text)},
        )
    assert header.status_code == 200
    assert (await site.store.get_message(message_id)).folder == "deleted"


async def test_another_organizations_message_is_not_found(site: Site) -> None:
    async with site.client() as client:
        await _login(client, "carol@acme.example")
        page = await client.get("/mailboxes/2001")
        action = await client.post(
            f"/messages/{site.messages['1001'][0]}",
            data={"action": "delete", "csrf": _csrf(page.text)},
        )
        inbox = await client.get("/mailboxes/1001")
    assert action.status_code == inbox.status_code == 404
    assert (await site.store.get_message(site.messages["1001"][0])).folder == "new"


async def test_logout_everywhere_ends_every_session(site: Site) -> None:
    async with site.client() as first, site.client() as second:
        await _login(first, "bob@example.com")
        await _login(second, "bob@example.com")
        page = await first.get("/mailboxes/1001")
        out = await first.post("/logout-everywhere", data={"csrf": _csrf(page.text)})
        assert out.status_code == 303
        again = await second.get("/mailboxes/1001")
    assert again.status_code == 303 and again.headers["location"] == "/login"


async def test_settings_form_and_greeting_upload(site: Site) -> None:
    from tests.web.test_api import _tone_wav

    async with site.client() as client:
        await _login(client, "bob@example.com")
        page = await client.get("/mailboxes/1001/settings")
        csrf = _csrf(page.text)
        saved = await client.post(
            "/mailboxes/1001/settings",
            data={
                "csrf": csrf,
                "name": "Bob B.",
                "warning_mode": "none",
                "max_message_seconds": "90",
                "language": "de",
                "timezone": "Europe/Berlin",
                "attach_policy": "notify",
                "audio_format": "mp3",
                "temporary_expires": "2027-01-02T08:00",
            },
        )
        assert saved.status_code == 303
        upload = await client.post(
            "/mailboxes/1001/greetings",
            data={"csrf": csrf, "kind": "busy"},
            files={"audio": ("hello.wav", _tone_wav(), "audio/wav")},
        )
        bad = await client.post(
            "/mailboxes/1001/greetings",
            data={"csrf": csrf, "kind": "name"},
            files={"audio": ("x.mp3", b"garbage" * 50, "audio/mpeg")},
        )
        shown = await client.get(bad.headers["location"])
    record = await site.store.get_mailbox("1001")
    assert (record.name, record.warning_mode.value, record.max_message_seconds) == (
        "Bob B.",
        "none",
        90,
    )
    assert (record.language, record.timezone, record.notify_missed) == (
        "de",
        "Europe/Berlin",
        False,
    )
    assert record.temporary_greeting_expires_at is not None
    # In the user's time zone (UTC), not the mailbox's.
    assert record.temporary_greeting_expires_at.isoformat() == "2027-01-02T08:00:00+00:00"
    assert upload.status_code == 303
    assert [k.value for k in record.greetings] == ["busy"]
    assert "greeting not changed: cannot decode" in shown.text


async def test_administration_page(site: Site) -> None:
    async with site.client() as client:
        await _login(client, "bob@example.com")
        assert (await client.get("/admin")).status_code == 403  # a member
    async with site.client() as client:
        await _login(client, "carol@acme.example")
        page = await client.get("/admin")
        assert page.status_code == 200
        assert "dave@acme.example" in page.text and "bob@example.com" not in page.text
        assert ">provider<" not in page.text  # an admin cannot make providers
        csrf = _csrf(page.text)
        added = await client.post(
            "/admin/users",
            data={"csrf": csrf, "email": "erin@acme.example", "name": "Erin", "password": "p" * 12},
        )
        assert added.status_code == 303
        erin = await site.store.accounts.user_by_email("erin@acme.example")
        await client.post(
            "/admin/mailboxes",
            data={"csrf": csrf, "number": "2002", "name": "Erin", "owner": str(erin.id)},
        )
        await client.post(
            "/admin/lists", data={"csrf": csrf, "name": "all", "members": "2001, 2002"}
        )
        shown = await client.get("/admin")
    assert erin.organization == "acme"
    assert (await site.store.get_mailbox("2002")).owner_user_id == erin.id
    assert "2001, 2002" in shown.text


async def test_account_time_zone_and_password(site: Site) -> None:
    async with site.client() as client, site.client() as other:
        await _login(client, "bob@example.com")
        await _login(other, "bob@example.com")
        csrf = _csrf((await client.get("/account")).text)
        wrong = await client.post(
            "/account",
            data={
                "csrf": csrf,
                "name": "Bob",
                "timezone": "Asia/Tokyo",
                "current_password": "not it at all",
                "password": "a brand new password",
            },
        )
        assert "current password is wrong" in (await client.get(wrong.headers["location"])).text
        saved = await client.post(
            "/account",
            data={
                "csrf": csrf,
                "name": "Bob",
                "timezone": "Asia/Tokyo",
                "current_password": PASSWORD,
                "password": "a brand new password",
            },
        )
        assert saved.status_code == 303
        inbox = await client.get("/mailboxes/1001")  # this browser stays logged in
        assert "2026-12-01 18:02" in inbox.text  # 09:02 UTC in Tokyo
        assert (await other.get("/mailboxes/1001")).status_code == 303  # the other is out
    async with site.client() as client:
        assert (await _login(client, "bob@example.com", "a brand new password")).status_code == 303


async def test_search_by_date(site: Site) -> None:
    async with site.client() as client:
        await _login(client, "bob@example.com")
        hit = await client.get("/mailboxes/1001?since=2026-12-01&until=2026-12-01")
        miss = await client.get("/mailboxes/1001?since=2026-12-02")
    assert hit.text.count('class="message') == 3
    assert "No messages match" in miss.text


async def test_pages_forbid_framing_and_sniffing(site: Site) -> None:
    async with site.client() as client:
        page = await client.get("/login")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_forward_with_a_recorded_comment_and_a_new_folder(site: Site) -> None:
    from tests.web.test_api import _tone_wav

    message_id = site.messages["1001"][0]
    async with site.client() as client:
        await _login(client, "alice@example.com")
        csrf = _csrf((await client.get("/mailboxes/1001")).text)
        done = await client.post(
            f"/messages/{message_id}/forward",
            data={"csrf": csrf, "to": "1002"},
            files={"recording": ("comment.wav", _tone_wav(1.0), "audio/wav")},
        )
        assert done.status_code == 303
        moved = await client.post(
            f"/messages/{message_id}", data={"csrf": csrf, "action": "move", "folder": "clients"}
        )
        assert moved.status_code == 303
    copies = await site.store.list_messages("1002", folder="new")
    # 1 s of comment, 0.5 s of gap, then the 2 s message.
    assert [round(m.duration_seconds, 1) for m in copies if m.called_number == "1001"] == [3.5]
    assert (await site.store.get_message(message_id)).folder == "clients"
