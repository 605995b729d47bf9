"""Who is asking: a browser session (cookie + CSRF token) or an API token (Bearer).

A cookie alone never authorizes a change: every unsafe request made with the session cookie
must carry the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``), so
another site cannot make a logged-in browser act. API tokens are not sent by browsers on
their own, so they need none.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

from fastapi import Request
from starlette.responses import Response

from afterbeep.domain import Viewer
from afterbeep.store.accounts import SESSION_LIFETIME
from afterbeep.store.repository import Store

SESSION_COOKIE = "afterbeep_session"
LOGIN_CSRF_COOKIE = "afterbeep_login"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Unauthenticated(Exception):
    """No valid session or token."""


class CsrfRejected(Exception):
    """A cookie-authenticated change without the session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Identity:
    viewer: Viewer
    csrf: str | None  # None: authenticated by API token
    session_token: str | None = None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def secure_request(request: Request) -> bool:
    return request.url.scheme == "https"


async def identify(request: Request, store: Store) -> Identity | None:
    cached: Identity | None = getattr(request.state, "identity", None)
    if cached is not None:
        return cached
    now = dt.datetime.now(dt.UTC)
    identity: Identity | None = None
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        viewer = await store.accounts.token_viewer(token.strip(), now)
        identity = None if viewer is None else Identity(viewer, None)
    elif (cookie := request.cookies.get(SESSION_COOKIE)) is not None:
        found = await store.accounts.session_viewer(cookie, now)
        identity = None if found is None else Identity(found[0], found[1], cookie)
    request.state.identity = identity
    return identity


async def require(request: Request, store: Store) -> Identity:
    """The identity of an authenticated request; CSRF-checked for cookie changes."""
    identity = await identify(request, store)
    if identity is None:
        raise Unauthenticated
    if identity.csrf is not None and request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            value = form.get("csrf")
            sent = value if isinstance(value, str) else None
        if sent is None or not hmac.compare_digest(sent, identity.csrf):
            raise CsrfRejected
    return identity


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_request(request),
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=secure_request(request), path="/"
    )
