"""Nothing of one organization is visible to another: every API endpoint that names a
mailbox, message, user or token answers 404 to another organization's user (and to a
member for what they do not own), and changes nothing.

The endpoints are taken from the OpenAPI document, so a new endpoint without a case here
fails ``test_every_endpoint_is_covered``.
"""

from __future__ import annotations

import io
import wave

import pytest

from tests.web.conftest import Site


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x10" * 8000)
    return out.getvalue()


# (method, path template) -> request body (json dict, raw bytes, or None)
CASES: dict[tuple[str, str], object] = {
    ("get", "/api/v1/mailboxes/{number}"): None,
    ("patch", "/api/v1/mailboxes/{number}"): {"name": "Taken over"},
    ("delete", "/api/v1/mailboxes/{number}"): None,
    ("put", "/api/v1/mailboxes/{number}/pin"): {"pin": "918273"},
    ("get", "/api/v1/mailboxes/{number}/folders"): None,
    ("get", "/api/v1/mailboxes/{number}/messages"): None,
    ("get", "/api/v1/mailboxes/{number}/events"): None,
    ("get", "/api/v1/mailboxes/{number}/export"): None,
    ("put", "/api/v1/mailboxes/{number}/greetings/{kind}"): _wav(),
    ("get", "/api/v1/mailboxes/{number}/greetings/{kind}"): None,
    ("delete", "/api/v1/mailboxes/{number}/greetings/{kind}"): None,
    ("get", "/api/v1/messages/{message_id}"): None,
    ("patch", "/api/v1/messages/{message_id}"): {"folder": "saved", "heard": True},
    ("delete", "/api/v1/messages/{message_id}"): None,
    ("post", "/api/v1/messages/{message_id}/undelete"): None,
    ("get", "/api/v1/messages/{message_id}/audio"): None,
    ("post", "/api/v1/messages/{message_id}/forward"): {"to": ["2001"]},
    ("post", "/api/v1/messages/{message_id}/forward/recorded"): _wav(),
    ("get", "/api/v1/lists/{list_id}"): None,
    ("put", "/api/v1/lists/{list_id}/members"): {"members": []},
    ("delete", "/api/v1/lists/{list_id}"): None,
    ("delete", "/api/v1/users/{user_id}"): None,
    ("delete", "/api/v1/tokens/{token_id}"): None,
}


async def _targets(site: Site) -> dict[str, str]:
    """Default organization's things, named as the path parameters want them."""
    bob = await site.store.accounts.user_by_email("bob@example.com")
    tokens = await site.store.accounts.tokens(bob.id)
    await site.store.set_greeting("1001", "unavailable", _wav())
    alice = await site.store.accounts.viewer(
        (await site.store.accounts.user_by_email("alice@example.com")).id
    )
    team = (await site.store.accounts.lists(alice))[0]
    return {
        "list_id": str(team.id),
        "number": "1001",
        "kind": "unavailable",
        "message_id": site.messages["1001"][0],
        "user_id": str(bob.id),
        "token_id": str(tokens[0].id),
    }


async def test_every_endpoint_is_covered(site: Site) -> None:
    async with site.client() as client:
        doc = (await client.get("/api/v1/openapi.json")).json()
    named = {
        (method, path)
        for path, operations in doc["paths"].items()
        if "{" in path
        for method in operations
    }
    assert named == set(CASES)


async def _snapshot(site: Site) -> tuple[object, ...]:
    mailbox = await site.store.get_mailbox("1001")
    messages = await site.store.list_messages("1001")
    users = await site.store.accounts.users()
    bob = await site.store.accounts.user_by_email("bob@example.com")
    return (
        mailbox,
        [(m.id, m.folder, m.heard_at) for m in messages],
        users,
        await site.store.accounts.tokens(bob.id),
        await site.store.verify_pin("1001", "918273"),
        await site.store.accounts.lists(await site.store.accounts.viewer(bob.id)),
    )


@pytest.mark.parametrize("intruder", ["carol", "dave"])
async def test_another_organization_sees_nothing(site: Site, intruder: str) -> None:
    values = await _targets(site)
    before = await _snapshot(site)
    async with site.client(intruder) as client:
        for (method, template), body in CASES.items():
            path = template.format(**values)
            if isinstance(body, bytes):
                response = await client.request(method, path, content=body)
            else:
                response = await client.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"]["code"] == "not_found"
    assert await _snapshot(site) == before


async def test_a_member_sees_only_own_mailboxes(site: Site) -> None:
    """Bob owns 1001, not 1002 of the same organization."""
    values = await _targets(site)
    async with site.client("bob") as client:
        for (method, template), body in CASES.items():
            if "{number}" not in template and "{message_id}" not in template:
                continue
            path = template.format(**{**values, "number": "1002"}).replace(
                values["message_id"], site.messages["1002"][0]
            )
            if isinstance(body, bytes):
                response = await client.request(method, path, content=body)
            else:
                response = await client.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)


async def test_search_never_crosses_mailboxes(site: Site) -> None:
    async with site.client("carol") as client:
        found = (await client.get("/api/v1/mailboxes/2001/messages?q=Caller")).json()
    assert {m["mailbox"] for m in found["items"]} == {"2001"}
    assert len(found["items"]) == 3


async def test_provider_sees_every_organization(site: Site) -> None:
    async with site.client("pat") as client:
        for number in ("1001", "2001"):
            assert (await client.get(f"/api/v1/mailboxes/{number}")).status_code == 200
        message = await client.get(f"/api/v1/messages/{site.messages['2001'][0]}")
    assert message.status_code == 200


async def test_lists_of_users_and_lists_stay_in_the_organization(site: Site) -> None:
    async with site.client("carol") as client:
        users = (await client.get("/api/v1/users")).json()
        lists = (await client.get("/api/v1/lists")).json()
        tokens = (await client.get("/api/v1/tokens")).json()
    assert {u["organization"] for u in users} == {"acme"}
    assert lists == []
    assert [t["name"] for t in tokens] == ["test"]  # her own only


async def test_every_page_refuses_another_organization(site: Site) -> None:
    """The HTML routes that name a mailbox, message, user or list, walked from the app."""
    from starlette.routing import Route

    from afterbeep.web import pages
    from tests.web.test_pages import _csrf, _login

    values = await _targets(site)
    before = await _snapshot(site)
    routes = [
        (method, route.path)
        for route in pages.router.routes
        if isinstance(route, Route) and "{" in route.path
        for method in sorted(route.methods or ())
        if method != "HEAD"
    ]
    assert len(routes) >= 10
    async with site.client() as client:
        await _login(client, "carol@acme.example")
        csrf = _csrf((await client.get("/mailboxes/2001")).text)
        for method, template in routes:
            path = template.replace(":path", "").format(**values)
            form = {"csrf": csrf, "action": "delete", "to": "2001", "kind": "busy", "pin": "5555"}
            form |= {"name": "x", "timezone": "UTC", "members": "2001"}
            if method == "GET":
                response = await client.get(path)
            else:
                files = {"audio": ("a.wav", _wav())} if path.endswith("/greetings") else None
                response = await client.post(path, data=form, files=files)
            assert response.status_code == 404, (method, path, response.status_code)
    assert await _snapshot(site) == before
