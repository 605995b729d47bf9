"""The REST API under ``/api/v1``: everything the pages do, as JSON.

Each handler first resolves what it touches through ``store.accounts`` with the caller's
``Viewer``: a mailbox or message outside the caller's scope is 404, as if it did not exist.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from afterbeep.domain import AudioFormat, Folder, GreetingKind, Role
from afterbeep.media.g711 import encode
from afterbeep.media.wav import read_wav
from afterbeep.notify.attachment import make_attachment
from afterbeep.store.accounts import Accounts, ListRecord
from afterbeep.store.errors import InvalidValue, NotFound
from afterbeep.store.records import MessageRecord
from afterbeep.store.repository import MailboxChanges, Store
from afterbeep.web import schemas
from afterbeep.web.audio import MAX_UPLOAD_BYTES, to_telephone_wav
from afterbeep.web.auth import Identity, client_address, require
from afterbeep.web.context import WebContext, context

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorBody} for code in (400, 401, 403, 404, 409, 422, 429)
}
router = APIRouter(prefix="/api/v1", responses=ERRORS)


class Forbidden(Exception):
    """The caller sees the thing but their role may not change it."""


async def identity(request: Request) -> Identity:
    return await require(request, context(request).store)


Who = Annotated[Identity, Depends(identity)]
Ctx = Annotated[WebContext, Depends(context)]


def _admin(who: Identity) -> None:
    if who.viewer.role is Role.MEMBER:
        raise Forbidden("only an administrator may do this")


@router.get("/me", response_model=schemas.Me, summary="Who the caller is")
async def me(who: Who) -> schemas.Me:
    v = who.viewer
    return schemas.Me(
        id=v.user_id,
        email=v.email,
        name=v.name,
        role=v.role,
        organization_id=v.organization_id,
        timezone=v.timezone,
    )


@router.patch("/me", response_model=schemas.Me, summary="Change your name, time zone, password")
async def change_me(body: schemas.MeChange, request: Request, who: Who, ctx: Ctx) -> schemas.Me:
    accounts = ctx.store.accounts
    if body.password is not None:
        now = dt.datetime.now(dt.UTC)
        checked = await accounts.login(
            who.viewer.email, body.current_password or "", client_address(request), now
        )
        if checked is None or checked.user_id != who.viewer.user_id:
            raise InvalidValue("the current password is wrong")
    await accounts.update_user(
        who.viewer.user_id, name=body.name, timezone=body.timezone, secret=body.password
    )
    request.state.identity = None
    return await me(Identity(await accounts.viewer(who.viewer.user_id), None))


# -- mailboxes ---------------------------------------------------------------------------------


@router.get("/mailboxes", response_model=list[schemas.Mailbox])
async def list_mailboxes(who: Who, ctx: Ctx) -> list[schemas.Mailbox]:
    return [schemas.Mailbox.of(r) for r in await ctx.store.accounts.mailboxes(who.viewer)]


@router.post("/mailboxes", response_model=schemas.Mailbox, status_code=201)
async def add_mailbox(body: schemas.MailboxNew, who: Who, ctx: Ctx) -> schemas.Mailbox:
    _admin(who)
    store, accounts = ctx.store, ctx.store.accounts
    slug = await _organization(accounts, who, body.organization)
    if body.owner_user_id is not None:
        owner = await accounts.user(body.owner_user_id, who.viewer)  # one the caller sees
        if owner.organization != slug:
            raise NotFound(f"no user {body.owner_user_id} in organization {slug}")
    record = await store.add_mailbox(
        body.number, body.name, organization=slug, emails=", ".join(body.emails)
    )
    if body.owner_user_id is not None:
        await accounts.set_owner(record.number, body.owner_user_id)
    return schemas.Mailbox.of(await accounts.mailbox(who.viewer, record.number))


async def _organization(accounts: Accounts, who: Identity, slug: str | None) -> str:
    """The organization a new mailbox or user goes to: the caller's own, or for a provider
    the one named."""
    for org in await accounts.organizations(who.viewer):
        if org.slug == slug or (slug is None and org.id == who.viewer.organization_id):
            return org.slug
    raise NotFound(f"no organization {slug}")


@router.get("/organizations", response_model=list[schemas.Organization])
async def list_organizations(who: Who, ctx: Ctx) -> list[schemas.Organization]:
    """A provider's every organization; anyone else's own."""
    return [
        schemas.Organization(slug=o.slug, name=o.name)
        for o in await ctx.store.accounts.organizations(who.viewer)
    ]


@router.post("/organizations", response_model=schemas.Organization, status_code=201)
async def add_organization(
    body: schemas.OrganizationNew, who: Who, ctx: Ctx
) -> schemas.Organization:
    if who.viewer.role is not Role.PROVIDER:
        raise Forbidden("only a provider administrator may add organizations")
    record = await ctx.store.accounts.add_organization(body.slug, body.name)
    return schemas.Organization(slug=record.slug, name=record.name)


@router.get("/mailboxes/{number}", response_model=schemas.Mailbox)
async def get_mailbox(number: str, who: Who, ctx: Ctx) -> schemas.Mailbox:
    return schemas.Mailbox.of(await ctx.store.accounts.mailbox(who.viewer, number))


@router.patch("/mailboxes/{number}", response_model=schemas.Mailbox)
async def change_mailbox(
    number: str, body: schemas.MailboxSettings, who: Who, ctx: Ctx
) -> schemas.Mailbox:
    await ctx.store.accounts.mailbox_id(who.viewer, number)
    await apply_settings(ctx.store, number, body)
    return schemas.Mailbox.of(await ctx.store.accounts.mailbox(who.viewer, number))


async def apply_settings(store: Store, number: str, body: schemas.MailboxSettings) -> None:
    given = body.model_dump(exclude_unset=True)
    changes: MailboxChanges = {}
    for field, value in given.items():
        if field == "emails":
            changes["emails"] = ", ".join(value or ())
        elif field == "sms_number":
            changes["sms_number"] = value or None
        elif value is None and field != "temporary_greeting_expires_at":
            raise InvalidValue(f"{field} cannot be null")
        else:
            changes[field] = value  # type: ignore[literal-required]
    if changes:
        await store.update_mailbox(number, **changes)


@router.delete("/mailboxes/{number}", status_code=204)
async def remove_mailbox(number: str, who: Who, ctx: Ctx) -> Response:
    await ctx.store.accounts.mailbox_id(who.viewer, number)
    _admin(who)
    await ctx.store.remove_mailbox(number)
    return Response(status_code=204)


@router.put("/mailboxes/{number}/pin", status_code=204)
async def change_pin(number: str, body: schemas.PinChange, who: Who, ctx: Ctx) -> Response:
    await ctx.store.accounts.mailbox_id(who.viewer, number)
    await ctx.store.set_own_pin(number, body.pin)
    return Response(status_code=204)


@router.get("/mailboxes/{number}/folders", response_model=dict[str, int])
async def folders(number: str, who: Who, ctx: Ctx) -> dict[str, int]:
    return await ctx.store.accounts.folders(who.viewer, number)


@router.get("/mailboxes/{number}/messages", response_model=schemas.MessagePage)
async def list_messages(
    number: str,
    who: Who,
    ctx: Ctx,
    folder: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] = None,
    q: Annotated[str | None, Query(max_length=200, description="caller or words")] = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> schemas.MessagePage:
    page = await ctx.store.accounts.messages(
        who.viewer,
        number,
        folder=folder,
        search=q,
        since=_aware(since),
        until=_aware(until),
        before=cursor,
        limit=limit,
    )
    return schemas.MessagePage(
        items=[schemas.Message.of(m) for m in page.messages], next_cursor=page.next_cursor
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.utcoffset() is None else value


@router.get("/mailboxes/{number}/events", response_class=StreamingResponse)
async def events(number: str, who: Who, ctx: Ctx) -> StreamingResponse:
    """Server-sent events: ``changed`` whenever the mailbox's messages change."""
    mailbox_id = await ctx.store.accounts.mailbox_id(who.viewer, number)
    return StreamingResponse(
        ctx.hub.stream(mailbox_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/mailboxes/{number}/export",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}},
    summary="The mailbox as a zip: audio plus JSON metadata, to keep on external media",
)
async def export(number: str, who: Who, ctx: Ctx) -> FileResponse:
    from afterbeep.store.archive import export_mailbox

    await ctx.store.accounts.mailbox_id(who.viewer, number)
    fd, name = tempfile.mkstemp(prefix="afterbeep-export-", suffix=".zip")
    os.close(fd)
    path = Path(name)
    try:
        await export_mailbox(ctx.store, number, path)
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"mailbox-{number}.zip",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


# -- greetings ---------------------------------------------------------------------------------

AUDIO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "audio in any common format (WAV, MP3, Ogg, WebM, M4A, FLAC)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put(
    "/mailboxes/{number}/greetings/{kind}",
    status_code=204,
    openapi_extra=AUDIO_BODY,
    summary="Upload a greeting (converted to telephone audio)",
)
async def put_greeting(
    number: str, kind: GreetingKind, request: Request, who: Who, ctx: Ctx
) -> Response:
    await ctx.store.accounts.mailbox_id(who.viewer, number)
    wav = await to_telephone_wav(await read_body(request))
    await ctx.store.set_greeting(number, kind, wav)
    return Response(status_code=204)


async def read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise InvalidValue(f"the upload is larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB")
        chunks.append(chunk)
    return b"".join(chunks)


@router.get(
    "/mailboxes/{number}/greetings/{kind}",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}}}},
)
async def get_greeting(number: str, kind: GreetingKind, who: Who, ctx: Ctx) -> FileResponse:
    await ctx.store.accounts.mailbox_id(who.viewer, number)
    key = await ctx.store.greeting_key(number, kind)
    return FileResponse(ctx.store.blobs.path(key), media_type="audio/wav")


@router.delete("/mailboxes/{number}/greetings/{kind}", status_code=204)
async def delete_greeting(number: str, kind: GreetingKind, who: Who, ctx: Ctx) -> Response:
    await ctx.store.accounts.mailbox_id(who.viewer, number)
    await ctx.store.remove_greeting(number, kind)
    return Response(status_code=204)


# -- messages ----------------------------------------------------------------------------------


@router.get("/messages/{message_id}", response_model=schemas.Message)
async def get_message(message_id: uuid.UUID, who: Who, ctx: Ctx) -> schemas.Message:
    return schemas.Message.of(await ctx.store.accounts.message(who.viewer, message_id))


@router.patch("/messages/{message_id}", response_model=schemas.Message)
async def change_message(
    message_id: uuid.UUID, body: schemas.MessageChange, who: Who, ctx: Ctx
) -> schemas.Message:
    message = await ctx.store.accounts.message(who.viewer, message_id)
    if body.heard:
        await ctx.store.mark_heard(message.id, dt.datetime.now(dt.UTC))
    if body.folder is not None:
        await ctx.store.move_message(message.id, body.folder)
    return schemas.Message.of(await ctx.store.accounts.message(who.viewer, message_id))


@router.delete("/messages/{message_id}", status_code=204)
async def delete_message(
    message_id: uuid.UUID,
    who: Who,
    ctx: Ctx,
    permanent: Annotated[bool, Query(description="remove for good, not to 'deleted'")] = False,
) -> Response:
    message = await ctx.store.accounts.message(who.viewer, message_id)
    if permanent or message.folder == Folder.DELETED.value:
        await ctx.store.delete_message(message.id)
    else:
        await ctx.store.move_message(message.id, Folder.DELETED.value)
    return Response(status_code=204)


@router.post("/messages/{message_id}/undelete", response_model=schemas.Message)
async def undelete_message(message_id: uuid.UUID, who: Who, ctx: Ctx) -> schemas.Message:
    message = await ctx.store.accounts.message(who.viewer, message_id)
    await ctx.store.undelete_message(message.id)
    return schemas.Message.of(await ctx.store.accounts.message(who.viewer, message_id))


@router.get(
    "/messages/{message_id}/audio",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}, "audio/mpeg": {}}}},
    summary="The audio (WAV as stored, or MP3); Range requests let players seek",
)
async def message_audio(
    message_id: uuid.UUID,
    who: Who,
    ctx: Ctx,
    format: Annotated[str, Query(pattern="^(wav|mp3)$")] = "wav",
    download: bool = False,
) -> Response:
    message = await ctx.store.accounts.message(who.viewer, message_id)
    name = _audio_name(message)
    disposition = "attachment" if download else "inline"
    if format == "mp3":
        wav = await ctx.store.read_audio(message.audio_key)
        attachment = await asyncio.to_thread(make_attachment, wav, AudioFormat.MP3, name)
        return Response(
            attachment.data,
            media_type="audio/mpeg",
            headers={"Content-Disposition": f'{disposition}; filename="{attachment.filename}"'},
        )
    return FileResponse(
        ctx.store.blobs.path(message.audio_key),
        media_type="audio/wav",
        filename=f"{name}.wav",
        content_disposition_type=disposition,
    )


def _audio_name(message: MessageRecord) -> str:
    when = message.received_at.strftime("%Y%m%d-%H%M%S")
    caller = "".join(c for c in message.caller_number if c.isalnum() or c == "+") or "unknown"
    return f"voicemail-{when}-{caller}"


@router.post("/messages/{message_id}/forward", response_model=schemas.Forwarded, status_code=201)
async def forward_message(
    message_id: uuid.UUID, body: schemas.Forward, who: Who, ctx: Ctx
) -> schemas.Forwarded:
    """Copy to other mailboxes of the organization, a typed comment spoken before it."""
    message = await ctx.store.accounts.message(who.viewer, message_id)
    comment = None
    if body.comment and body.comment.strip():
        if ctx.speak is None:
            raise InvalidValue("typed comments need speech synthesis, which is not available")
        mailbox = await ctx.store.accounts.mailbox(who.viewer, message.mailbox)
        audio = await ctx.speak(body.comment.strip(), message.codec, mailbox.language)
        comment = (message.codec, audio)
    numbers = await recipients(ctx.store.accounts, who, body.to, body.lists)
    ids = await ctx.store.forward_message(message.id, numbers, comment, dt.datetime.now(dt.UTC))
    return schemas.Forwarded(ids=ids)


async def recipients(
    accounts: Accounts, who: Identity, numbers: list[str], lists: list[int]
) -> list[str]:
    """The mailboxes named and the members of the lists named (each once)."""
    found = list(numbers)
    for list_id in lists:
        found += (await accounts.distribution_list(who.viewer, list_id)).members
    if not found:
        raise InvalidValue("forward to at least one mailbox or list")
    return list(dict.fromkeys(found))


@router.post(
    "/messages/{message_id}/forward/recorded",
    response_model=schemas.Forwarded,
    status_code=201,
    openapi_extra=AUDIO_BODY,
    summary="Forward with a spoken comment: the body is its audio (any common format)",
)
async def forward_with_recording(
    message_id: uuid.UUID,
    request: Request,
    who: Who,
    ctx: Ctx,
    to: Annotated[list[str] | None, Query(max_length=100, description="mailboxes")] = None,
    lists: Annotated[list[int] | None, Query(max_length=20, description="lists")] = None,
) -> schemas.Forwarded:
    message = await ctx.store.accounts.message(who.viewer, message_id)
    numbers = await recipients(ctx.store.accounts, who, to or [], lists or [])
    return schemas.Forwarded(
        ids=await forward_recorded(ctx.store, message, numbers, await read_body(request))
    )


async def forward_recorded(
    store: Store, message: MessageRecord, to: list[str], recording: bytes
) -> list[uuid.UUID]:
    """Forward with a comment recorded in the browser (any audio format)."""
    samples, _rate = read_wav(await to_telephone_wav(recording))
    comment = (message.codec, encode(message.codec, samples))
    return await store.forward_message(message.id, to, comment, dt.datetime.now(dt.UTC))


# -- distribution lists ------------------------------------------------------------------------


def _list(record: ListRecord) -> schemas.DistributionList:
    return schemas.DistributionList(id=record.id, name=record.name, members=list(record.members))


@router.get("/lists", response_model=list[schemas.DistributionList])
async def list_lists(who: Who, ctx: Ctx) -> list[schemas.DistributionList]:
    return [_list(r) for r in await ctx.store.accounts.lists(who.viewer)]


@router.post("/lists", response_model=schemas.DistributionList, status_code=201)
async def add_list(
    body: schemas.DistributionListNew, who: Who, ctx: Ctx
) -> schemas.DistributionList:
    _admin(who)
    return _list(await ctx.store.accounts.add_list(who.viewer, body.name, body.members))


@router.get("/lists/{list_id}", response_model=schemas.DistributionList)
async def get_list(list_id: int, who: Who, ctx: Ctx) -> schemas.DistributionList:
    return _list(await ctx.store.accounts.distribution_list(who.viewer, list_id))


@router.put("/lists/{list_id}/members", response_model=schemas.DistributionList)
async def set_members(
    list_id: int, body: schemas.Members, who: Who, ctx: Ctx
) -> schemas.DistributionList:
    await ctx.store.accounts.distribution_list(who.viewer, list_id)
    _admin(who)
    return _list(await ctx.store.accounts.set_list_members(who.viewer, list_id, body.members))


@router.delete("/lists/{list_id}", status_code=204)
async def remove_list(list_id: int, who: Who, ctx: Ctx) -> Response:
    await ctx.store.accounts.distribution_list(who.viewer, list_id)
    _admin(who)
    await ctx.store.accounts.remove_list(who.viewer, list_id)
    return Response(status_code=204)


# -- users and tokens --------------------------------------------------------------------------


@router.get("/users", response_model=list[schemas.User])
async def list_users(who: Who, ctx: Ctx) -> list[schemas.User]:
    return [schemas.User.of(u) for u in await ctx.store.accounts.users(who.viewer)]


@router.post("/users", response_model=schemas.User, status_code=201)
async def add_user(body: schemas.UserNew, who: Who, ctx: Ctx) -> schemas.User:
    _admin(who)
    if body.role is Role.PROVIDER and who.viewer.role is not Role.PROVIDER:
        raise Forbidden("only a provider administrator may create provider administrators")
    accounts = ctx.store.accounts
    slug = await _organization(accounts, who, body.organization)
    record = await accounts.add_user(
        body.email, body.name, body.password, body.role, slug, body.timezone
    )
    return schemas.User.of(record)


@router.delete("/users/{user_id}", status_code=204)
async def remove_user(user_id: int, who: Who, ctx: Ctx) -> Response:
    await ctx.store.accounts.user(user_id, who.viewer)
    _admin(who)
    await ctx.store.accounts.remove_user(user_id)
    return Response(status_code=204)


@router.delete("/sessions", status_code=204, summary="Log out everywhere (browser sessions)")
async def end_sessions(who: Who, ctx: Ctx) -> Response:
    await ctx.store.accounts.close_all_sessions(who.viewer.user_id)
    return Response(status_code=204)


@router.get("/tokens", response_model=list[schemas.Token])
async def list_tokens(who: Who, ctx: Ctx) -> list[schemas.Token]:
    return [schemas.Token.of(t) for t in await ctx.store.accounts.tokens(who.viewer.user_id)]


@router.post("/tokens", response_model=schemas.Token, status_code=201)
async def create_token(body: schemas.TokenNew, who: Who, ctx: Ctx) -> schemas.Token:
    record, token = await ctx.store.accounts.create_token(who.viewer.user_id, body.name)
    return schemas.Token.of(record, token)


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: int, who: Who, ctx: Ctx) -> Response:
    await ctx.store.accounts.revoke_token(who.viewer.user_id, token_id)
    return Response(status_code=204)
