"""The visual voicemail pages: server-rendered HTML, forms that work without JavaScript,
and a little script (``static/app.js``) for playing, recording and live updates."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import uuid
import zoneinfo
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from afterbeep.domain import (
    AttachPolicy,
    AudioFormat,
    Folder,
    GreetingKind,
    Role,
    Viewer,
    WarningMode,
)
from afterbeep.store.accounts import TooManyAttempts
from afterbeep.store.errors import InvalidValue, StoreError
from afterbeep.store.records import MessageRecord
from afterbeep.web import api, schemas
from afterbeep.web.audio import to_telephone_wav
from afterbeep.web.auth import (
    LOGIN_CSRF_COOKIE,
    Identity,
    clear_session_cookie,
    client_address,
    identify,
    require,
    secure_request,
    set_session_cookie,
)
from afterbeep.web.context import context

TEMPLATES = Jinja2Templates(directory=Path(str(files("afterbeep.web") / "templates")))
router = APIRouter(include_in_schema=False)
STANDARD_FOLDERS = ("new", "old", "saved", "deleted")
REASONS = {
    "busy": "busy",
    "no-answer": "no answer",
    "unavailable": "unavailable",
    "unconditional": "forwarded",
    "unknown": "forwarded",
    "direct": "direct",
}


def _zone(viewer: Viewer) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(viewer.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _local(viewer: Viewer, when: dt.datetime | None) -> str:
    return "" if when is None else when.astimezone(_zone(viewer)).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    identity: Identity | None = getattr(request.state, "identity", None)
    values.setdefault("viewer", identity.viewer if identity else None)
    values.setdefault("csrf", identity.csrf if identity else None)
    return TEMPLATES.TemplateResponse(request, name, values, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)


def _back(number: str, folder: str | None = None, notice: str | None = None) -> RedirectResponse:
    query = {k: v for k, v in (("folder", folder), ("notice", notice)) if v}
    suffix = f"?{urlencode(query)}" if query else ""
    return RedirectResponse(f"/mailboxes/{number}{suffix}", status_code=303)


# -- logging in and out ------------------------------------------------------------------------


@router.get("/login")
async def login_form(request: Request) -> Response:
    if await identify(request, context(request).store) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(request)


def _login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, login_csrf=token, error=error)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_request(request),
        path="/login",
    )
    return response


@router.post("/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf, expected):
        return _login_page(request, "The form expired: please log in again.", 403)
    store = context(request).store
    now = dt.datetime.now(dt.UTC)
    try:
        viewer = await store.accounts.login(email, password, client_address(request), now)
    except TooManyAttempts:
        return _login_page(request, "Too many failed logins: wait a few minutes.", 429)
    if viewer is None:
        return _login_page(request, "Wrong e-mail address or password.", 401)
    token, _csrf = await store.accounts.open_session(viewer.user_id, now)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, request, token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    store = context(request).store
    who = await require(request, store)
    if who.session_token is not None:
        await store.accounts.close_session(who.session_token)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.post("/logout-everywhere")
async def logout_everywhere(request: Request) -> Response:
    store = context(request).store
    who = await require(request, store)
    await store.accounts.close_all_sessions(who.viewer.user_id)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response


# -- mailboxes and messages --------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    store = context(request).store
    who = await require(request, store)
    mailboxes = await store.accounts.mailboxes(who.viewer)
    if len(mailboxes) == 1:
        return RedirectResponse(f"/mailboxes/{mailboxes[0].number}", status_code=303)
    return render(request, "mailboxes.html", mailboxes=mailboxes)


@router.get("/mailboxes/{number}")
async def inbox(
    request: Request,
    number: str,
    folder: Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] = "new",
    q: Annotated[str, Query(max_length=200)] = "",
    since: Annotated[dt.date | None, Query()] = None,
    until: Annotated[dt.date | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    notice: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    store = context(request).store
    who = await require(request, store)
    mailbox = await store.accounts.mailbox(who.viewer, number)
    counts = await store.accounts.folders(who.viewer, number)
    searching = bool(q or since or until)
    zone = _zone(who.viewer)
    page = await store.accounts.messages(
        who.viewer,
        number,
        folder=None if searching else folder,
        search=q or None,
        since=None if since is None else dt.datetime.combine(since, dt.time(), zone),
        until=(
            None if until is None else dt.datetime.combine(until, dt.time(), zone) + dt.timedelta(1)
        ),
        before=cursor,
    )
    query = {"folder": folder, "q": q, "since": since or "", "until": until or ""}
    more = urlencode({**query, "cursor": page.next_cursor or ""})
    others = [m for m in await store.accounts.mailboxes(who.viewer) if m.number != number]
    return render(
        request,
        "inbox.html",
        mailbox=mailbox,
        counts=counts,
        folder=folder,
        q=q,
        since=since or "",
        until=until or "",
        searching=searching,
        more=more,
        rows=[_row(who.viewer, m) for m in page.messages],
        next_cursor=page.next_cursor,
        notice=notice,
        mailboxes=others,
        lists=await store.accounts.lists(who.viewer),
        folders=list(dict.fromkeys([*STANDARD_FOLDERS, "work", "family", "friends", *counts])),
    )


def _row(viewer: Viewer, message: MessageRecord) -> dict[str, Any]:
    transcript = message.transcript or ""
    return {
        "id": str(message.id),
        "caller_name": message.caller_name,
        "caller_number": message.caller_number,
        "when": _local(viewer, message.received_at),
        "iso": message.received_at.isoformat(),
        "duration": _duration(message.duration_seconds),
        "urgent": message.urgent,
        "reason": REASONS.get(message.reason.value, message.reason.value),
        "folder": message.folder,
        "heard": message.heard_at is not None,
        "transcript": transcript if len(transcript) <= 160 else transcript[:157] + "…",
    }


@router.post("/messages/{message_id}")
async def message_action(
    request: Request,
    message_id: uuid.UUID,
    action: Annotated[str, Form(pattern="^(delete|undelete|purge|move|heard)$")],
    folder: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    store = context(request).store
    who = await require(request, store)
    message = await store.accounts.message(who.viewer, message_id)
    now = dt.datetime.now(dt.UTC)
    if action == "delete":
        await store.move_message(message.id, Folder.DELETED.value)
    elif action == "undelete":
        await store.undelete_message(message.id)
    elif action == "purge":
        await store.delete_message(message.id)
    elif action == "heard":
        await store.mark_heard(message.id, now)
    else:
        await store.move_message(message.id, folder)
    return _back(message.mailbox, message.folder, f"{action}: done")


@router.post("/messages/{message_id}/forward")
async def forward(
    request: Request,
    message_id: uuid.UUID,
    to: Annotated[str, Form(max_length=2000)] = "",
    lists: Annotated[list[int] | None, Form()] = None,
    comment: Annotated[str, Form(max_length=500)] = "",
    recording: UploadFile | None = None,
) -> Response:
    store = context(request).store
    who = await require(request, store)
    message = await store.accounts.message(who.viewer, message_id)
    typed = [n.strip() for n in to.replace(";", ",").split(",") if n.strip()]
    numbers = await api.recipients(store.accounts, who, typed, lists or [])
    audio = await recording.read() if recording is not None else b""
    if audio:
        await api.forward_recorded(store, message, numbers, audio)
    else:
        body = schemas.Forward(to=numbers, comment=comment or None)
        await api.forward_message(message.id, body, who, context(request))
    return _back(message.mailbox, message.folder, f"forwarded to {', '.join(numbers)}")


# -- settings ----------------------------------------------------------------------------------


@router.get("/mailboxes/{number}/settings")
async def settings_page(
    request: Request, number: str, notice: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    store = context(request).store
    who = await require(request, store)
    mailbox = await store.accounts.mailbox(who.viewer, number)
    return render(
        request,
        "settings.html",
        mailbox=mailbox,
        notice=notice,
        kinds=[k.value for k in GreetingKind],
        warning_modes=[m.value for m in WarningMode],
        attach_policies=[p.value for p in AttachPolicy],
        expires=_local(who.viewer, mailbox.temporary_greeting_expires_at),
    )


def _settings_back(number: str, notice: str) -> RedirectResponse:
    return RedirectResponse(
        f"/mailboxes/{number}/settings?{urlencode({'notice': notice})}", status_code=303
    )


@router.post("/mailboxes/{number}/settings")
async def save_settings(
    request: Request,
    number: str,
    name: Annotated[str, Form(max_length=200)],
    emails: Annotated[str, Form(max_length=2000)] = "",
    language: Annotated[str, Form(max_length=16)] = "en",
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    max_message_seconds: Annotated[int, Form(ge=1, le=3600)] = 180,
    warning_mode: Annotated[WarningMode, Form()] = WarningMode.DEFAULT,
    attach_policy: Annotated[AttachPolicy, Form()] = AttachPolicy.ATTACH,
    audio_format: Annotated[AudioFormat, Form()] = AudioFormat.WAV,
    sms_number: Annotated[str, Form(max_length=64)] = "",
    notify_missed: Annotated[bool, Form()] = False,
    temporary_expires: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    store = context(request).store
    who = await require(request, store)
    await store.accounts.mailbox_id(who.viewer, number)
    body = schemas.MailboxSettings(
        name=name,
        emails=[e.strip() for e in emails.split(",") if e.strip()],
        language=language,
        timezone=timezone,
        max_message_seconds=max_message_seconds,
        warning_mode=warning_mode,
        attach_policy=attach_policy,
        audio_format=audio_format,
        sms_number=sms_number,
        notify_missed=notify_missed,
        temporary_greeting_expires_at=_parse_local(who.viewer, temporary_expires),
    )
    await api.apply_settings(store, number, body)
    return _settings_back(number, "settings saved")


def _parse_local(viewer: Viewer, value: str) -> dt.datetime | None:
    """A datetime-local field (the user's time zone); empty: no expiry."""
    if not value.strip():
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidValue(f"invalid time {value!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_zone(viewer))
    return when


@router.post("/mailboxes/{number}/greetings")
async def upload_greeting(
    request: Request, number: str, kind: Annotated[GreetingKind, Form()], audio: UploadFile
) -> Response:
    store = context(request).store
    who = await require(request, store)
    await store.accounts.mailbox_id(who.viewer, number)
    try:
        wav = await to_telephone_wav(await audio.read())
    except StoreError as exc:
        return _settings_back(number, f"greeting not changed: {exc}")
    await store.set_greeting(number, kind, wav)
    return _settings_back(number, f"{kind.value} greeting saved")


@router.post("/mailboxes/{number}/greetings/{kind}/delete")
async def delete_greeting(request: Request, number: str, kind: GreetingKind) -> Response:
    store = context(request).store
    who = await require(request, store)
    await store.accounts.mailbox_id(who.viewer, number)
    await store.remove_greeting(number, kind)
    return _settings_back(number, f"{kind.value} greeting removed")


@router.post("/mailboxes/{number}/pin")
async def change_pin(
    request: Request, number: str, pin: Annotated[str, Form(min_length=1, max_length=32)]
) -> Response:
    store = context(request).store
    who = await require(request, store)
    await store.accounts.mailbox_id(who.viewer, number)
    try:
        await store.set_own_pin(number, pin)
    except InvalidValue as exc:
        return _settings_back(number, f"PIN not changed: {exc}")
    return _settings_back(number, "PIN changed")


# -- administration ----------------------------------------------------------------------------


async def _administrator(request: Request) -> Identity:
    who = await require(request, context(request).store)
    if who.viewer.role is Role.MEMBER:
        raise api.Forbidden("only an administrator may do this")
    return who


def _admin_back(notice: str) -> RedirectResponse:
    return RedirectResponse(f"/admin?{urlencode({'notice': notice})}", status_code=303)


@router.get("/admin")
async def admin_page(
    request: Request, notice: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    who = await _administrator(request)
    accounts = context(request).store.accounts
    return render(
        request,
        "admin.html",
        notice=notice,
        users=await accounts.users(who.viewer),
        mailboxes=await accounts.mailboxes(who.viewer),
        lists=await accounts.lists(who.viewer),
        roles=[r.value for r in Role if r is not Role.PROVIDER or who.viewer.role is Role.PROVIDER],
    )


@router.post("/admin/users")
async def admin_add_user(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    role: Annotated[Role, Form()] = Role.MEMBER,
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
) -> Response:
    who = await _administrator(request)
    body = schemas.UserNew.model_construct(
        email=email, name=name, password=password, role=role, timezone=timezone
    )
    try:
        await api.add_user(body, who, context(request))
    except InvalidValue as exc:
        return _admin_back(f"user not added: {exc}")
    return _admin_back(f"added {email}")


@router.post("/admin/users/{user_id}/delete")
async def admin_remove_user(request: Request, user_id: int) -> Response:
    who = await _administrator(request)
    await api.remove_user(user_id, who, context(request))
    return _admin_back("user removed")


@router.post("/admin/mailboxes")
async def admin_add_mailbox(
    request: Request,
    number: Annotated[str, Form(min_length=1, max_length=64)],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    owner: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    who = await _administrator(request)
    body = schemas.MailboxNew(
        number=number, name=name, owner_user_id=int(owner) if owner.isdigit() else None
    )
    try:
        await api.add_mailbox(body, who, context(request))
    except InvalidValue as exc:
        return _admin_back(f"mailbox not added: {exc}")
    return _admin_back(f"added mailbox {number}")


@router.post("/admin/mailboxes/{number}/delete")
async def admin_remove_mailbox(request: Request, number: str) -> Response:
    who = await _administrator(request)
    await api.remove_mailbox(number, who, context(request))
    return _admin_back(f"removed mailbox {number}")


@router.post("/admin/lists")
async def admin_add_list(
    request: Request,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    members: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    who = await _administrator(request)
    numbers = [n.strip() for n in members.replace(";", ",").split(",") if n.strip()]
    await context(request).store.accounts.add_list(who.viewer, name, numbers)
    return _admin_back(f"added list {name}")


@router.post("/admin/lists/{list_id}/delete")
async def admin_remove_list(request: Request, list_id: int) -> Response:
    who = await _administrator(request)
    await api.remove_list(list_id, who, context(request))
    return _admin_back("list removed")


# -- your account ------------------------------------------------------------------------------


@router.get("/account")
async def account_page(
    request: Request, notice: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    await require(request, context(request).store)
    return render(request, "account.html", notice=notice)


@router.post("/account")
async def save_account(
    request: Request,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    timezone: Annotated[str, Form(max_length=64)],
    current_password: Annotated[str, Form(max_length=1024)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    store = context(request).store
    who = await require(request, store)
    body = schemas.MeChange.model_construct(
        name=name, timezone=timezone, password=password or None, current_password=current_password
    )
    try:
        await api.change_me(body, request, who, context(request))
    except InvalidValue as exc:
        return RedirectResponse(f"/account?{urlencode({'notice': f'not saved: {exc}'})}", 303)
    response = RedirectResponse(f"/account?{urlencode({'notice': 'saved'})}", status_code=303)
    if password:  # every session ended with the old password: this browser gets a new one
        token, _csrf = await store.accounts.open_session(
            who.viewer.user_id, dt.datetime.now(dt.UTC)
        )
        set_session_cookie(response, request, token)
    return response
