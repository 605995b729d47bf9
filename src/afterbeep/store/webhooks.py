"""Webhook endpoints: per mailbox or for a whole organization."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from afterbeep.store.errors import InvalidValue, NotFound
from afterbeep.store.models import Mailbox, Webhook
from afterbeep.store.outbox import SessionFactory

# The events a webhook can subscribe to (notify.content.EventKind's values).
WEBHOOK_EVENTS = (
    "message.created",
    "message.deleted",
    "call.missed",
    "mailbox.full",
    "mailbox.locked",
)


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    id: int
    url: str
    mailbox: str | None  # None: every mailbox of the organization
    events: tuple[str, ...]
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "mailbox": self.mailbox,
            "events": list(self.events),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """What a delivery needs; read when it runs, so a changed secret applies at once."""

    id: int
    url: str
    secret: str
    events: tuple[str, ...]


def check_url(url: str) -> str:
    """``url`` stripped of surrounding blanks, if it can be a webhook target."""
    url = url.strip()
    if not url:
        raise InvalidValue("webhook URL is empty")
    if len(url) > 2000:
        raise InvalidValue("a webhook URL must be at most 2000 characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidValue(f"webhook URL contains blanks or control characters: {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise InvalidValue(f"webhook URL is malformed: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidValue(f"webhook URL must start with http:// or https://, not {url!r}")
    if not parts.hostname:
        raise InvalidValue(f"webhook URL has no host: {url!r}")
    return url


def check_events(events: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
    if unknown or not events:
        raise InvalidValue(
            f"invalid webhook events {', '.join(unknown) or '(none)'}: "
            f"use {', '.join(WEBHOOK_EVENTS)}"
        )
    return tuple(event for event in WEBHOOK_EVENTS if event in events)


class Webhooks:
    def __init__(
        self,
        session: SessionFactory,
        organization_id: Callable[[AsyncSession], Awaitable[int]],
    ) -> None:
        self._session = session
        self._organization_id = organization_id

    async def add(
        self,
        url: str,
        mailbox_number: str | None = None,
        events: Sequence[str] = WEBHOOK_EVENTS,
        secret: str | None = None,
    ) -> tuple[WebhookRecord, str]:
        """The new webhook and its signing secret (generated unless given)."""
        url = check_url(url)
        kinds = check_events(events)
        secret = secret or secrets.token_urlsafe(32)
        if not 16 <= len(secret) <= 128:
            raise InvalidValue("a webhook secret must be 16 to 128 characters")
        async with self._session() as session:
            mailbox_id = None
            if mailbox_number is not None:
                mailbox_id = await session.scalar(
                    select(Mailbox.id).where(Mailbox.number == mailbox_number)
                )
                if mailbox_id is None:
                    raise NotFound(f"no mailbox {mailbox_number}")
            webhook = Webhook(
                organization_id=await self._organization_id(session),
                mailbox_id=mailbox_id,
                url=url,
                secret=secret,
                events=",".join(kinds),
            )
            session.add(webhook)
            await session.commit()
            return _record(webhook, mailbox_number), secret

    async def records(self) -> list[WebhookRecord]:
        async with self._session() as session:
            rows = await session.execute(
                select(Webhook, Mailbox.number)
                .outerjoin(Mailbox, Webhook.mailbox_id == Mailbox.id)
                .order_by(Webhook.id)
            )
            return [_record(webhook, number) for webhook, number in rows]

    async def remove(self, webhook_id: int) -> None:
        async with self._session() as session:
            result = await session.execute(delete(Webhook).where(Webhook.id == webhook_id))
            if not getattr(result, "rowcount", 0):
                raise NotFound(f"no webhook {webhook_id}")
            await session.commit()

    async def target(self, webhook_id: int) -> WebhookTarget | None:
        async with self._session() as session:
            webhook = await session.get(Webhook, webhook_id)
            return None if webhook is None else _target(webhook)

    async def for_mailbox(self, mailbox_id: int, organization_id: int) -> list[WebhookTarget]:
        async with self._session() as session:
            return await targets_for(session, mailbox_id, organization_id)


async def targets_for(
    session: AsyncSession, mailbox_id: int, organization_id: int
) -> list[WebhookTarget]:
    """The mailbox's own webhooks and its organization's."""
    rows = await session.scalars(
        select(Webhook)
        .where(
            Webhook.organization_id == organization_id,
            or_(Webhook.mailbox_id == mailbox_id, Webhook.mailbox_id.is_(None)),
        )
        .order_by(Webhook.id)
    )
    return [_target(webhook) for webhook in rows]


def _record(webhook: Webhook, mailbox_number: str | None) -> WebhookRecord:
    return WebhookRecord(
        id=webhook.id,
        url=webhook.url,
        mailbox=mailbox_number,
        events=tuple(webhook.events.split(",")),
        created_at=webhook.created_at,
    )


def _target(webhook: Webhook) -> WebhookTarget:
    return WebhookTarget(
        id=webhook.id,
        url=webhook.url,
        secret=webhook.secret,
        events=tuple(webhook.events.split(",")),
    )
