"""Web and API accounts: organizations, users, browser sessions, API tokens, and what each
user may see.

Every query the web layer makes about mailboxes and messages goes through ``Accounts.mailbox``
/ ``Accounts.message`` / ``Accounts.messages``, which add the viewer's scope to the SQL: a
provider sees everything, an organization's administrator its organization, a member the
mailboxes they own. What a viewer may not see is *not found*, never *forbidden*: guessing ids
tells nothing. Passwords are argon2 hashes; session and API tokens are random and kept as
SHA-256 (they carry 256 bits, so a fast hash is enough and lookups are one index probe).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from sqlalchemy import (
    ColumnElement,
    delete,
    literal,
    literal_column,
    select,
    table,
    true,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError

from afterbeep.domain import Role, Viewer
from afterbeep.store import validation
from afterbeep.store.errors import AlreadyExists, InvalidValue, NotFound, StoreError
from afterbeep.store.models import (
    ApiToken,
    DistributionList,
    DistributionListMember,
    Mailbox,
    Message,
    Organization,
    User,
    WebSession,
)
from afterbeep.store.records import MailboxRecord, MessageRecord

if TYPE_CHECKING:
    from afterbeep.store.repository import Store

SESSION_LIFETIME = dt.timedelta(days=14)
MIN_PASSWORD_LENGTH = 10
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class TooManyAttempts(StoreError):
    """Logins from this source or for this account failed too often: wait."""


@dataclass(frozen=True, slots=True)
class OrganizationRecord:
    id: int
    slug: str
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "slug": self.slug, "name": self.name}


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    organization: str  # its slug
    email: str
    name: str
    role: Role
    timezone: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organization": self.organization,
            "email": self.email,
            "name": self.name,
            "role": self.role.value,
            "timezone": self.timezone,
        }


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ListRecord:
    """A distribution list: broadcasting to it forwards to each member mailbox."""

    id: int
    name: str
    organization_id: int
    members: tuple[str, ...]  # mailbox numbers


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: list[MessageRecord]
    next_cursor: str | None  # give it back as ``before`` for the next (older) page


def mailbox_scope(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL condition on ``Mailbox`` for the mailboxes ``viewer`` may see."""
    if viewer.role is Role.PROVIDER:
        return true()
    if viewer.role is Role.ADMIN:
        return Mailbox.organization_id == viewer.organization_id
    return Mailbox.owner_user_id == viewer.user_id


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password(value: object) -> str:
    if not isinstance(value, str) or not MIN_PASSWORD_LENGTH <= len(value) <= 1024:
        raise InvalidValue(f"a password has {MIN_PASSWORD_LENGTH} to 1024 characters")
    return value


def _email(value: str) -> str:
    return validation.email(value.strip()).lower()


class Accounts:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._hasher = PasswordHasher()

    # -- organizations and users --------------------------------------------------------------

    async def add_organization(self, slug: str, name: str) -> OrganizationRecord:
        if not _SLUG.fullmatch(slug):
            raise InvalidValue(f"invalid organization {slug!r}: lower case letters, digits, -")
        name = validation.name(name)
        async with self._store._session() as session:
            org = Organization(slug=slug, name=name)
            session.add(org)
            try:
                await session.commit()
            except IntegrityError:
                raise AlreadyExists(f"organization {slug} already exists") from None
            return OrganizationRecord(org.id, org.slug, org.name)

    async def organizations(self, viewer: Viewer | None = None) -> list[OrganizationRecord]:
        query = select(Organization).order_by(Organization.slug)
        if viewer is not None and viewer.role is not Role.PROVIDER:
            query = query.where(Organization.id == viewer.organization_id)
        async with self._store._session() as session:
            return [OrganizationRecord(o.id, o.slug, o.name) for o in await session.scalars(query)]

    async def organization_id(self, slug: str) -> int:
        async with self._store._session() as session:
            org_id = await session.scalar(select(Organization.id).where(Organization.slug == slug))
        if org_id is None:
            raise NotFound(f"no organization {slug}")
        return org_id

    async def add_user(
        self,
        email: str,
        name: str,
        secret: str,
        role: Role | str,
        organization: str = "default",
        timezone: str = "UTC",
    ) -> UserRecord:
        email, name = _email(email), validation.name(name)
        role = _role(role)
        timezone = validation.timezone(timezone)
        password_hash = await asyncio.to_thread(self._hasher.hash, password(secret))
        org_id = await self.organization_id(organization)
        async with self._store._session() as session:
            user = User(
                organization_id=org_id,
                email=email,
                name=name,
                password_hash=password_hash,
                role=role,
                timezone=timezone,
            )
            session.add(user)
            try:
                await session.commit()
            except IntegrityError:
                raise AlreadyExists(f"user {email} already exists") from None
        return await self.user(user.id)

    async def user(self, user_id: int, viewer: Viewer | None = None) -> UserRecord:
        users = await self._users(User.id == user_id, viewer=viewer)
        if not users:
            raise NotFound(f"no user {user_id}")
        return users[0]

    async def user_by_email(self, email: str) -> UserRecord:
        users = await self._users(User.email == email.strip().lower())
        if not users:
            raise NotFound(f"no user {email}")
        return users[0]

    async def users(self, viewer: Viewer | None = None) -> list[UserRecord]:
        return await self._users(viewer=viewer)

    async def _users(
        self, *where: ColumnElement[bool], viewer: Viewer | None = None
    ) -> list[UserRecord]:
        query = (
            select(User, Organization.slug)
            .join(Organization, User.organization_id == Organization.id)
            .where(*where)
            .order_by(User.email)
        )
        if viewer is not None:
            if viewer.role is Role.ADMIN:
                query = query.where(User.organization_id == viewer.organization_id)
            elif viewer.role is Role.MEMBER:
                query = query.where(User.id == viewer.user_id)
        async with self._store._session() as session:
            rows = await session.execute(query)
            return [UserRecord(u.id, slug, u.email, u.name, u.role, u.timezone) for u, slug in rows]

    async def remove_user(self, user_id: int) -> None:
        async with self._store._session() as session:
            result = await session.execute(delete(User).where(User.id == user_id))
            if not getattr(result, "rowcount", 0):
                raise NotFound(f"no user {user_id}")
            await session.commit()

    async def update_user(
        self,
        user_id: int,
        *,
        name: str | None = None,
        timezone: str | None = None,
        role: Role | str | None = None,
        secret: str | None = None,
    ) -> UserRecord:
        """Change a user; a new password closes all their sessions and revokes nothing else."""
        values: dict[str, object] = {}
        if name is not None:
            values["name"] = validation.name(name)
        if timezone is not None:
            values["timezone"] = validation.timezone(timezone)
        if role is not None:
            values["role"] = _role(role)
        if secret is not None:
            values["password_hash"] = await asyncio.to_thread(self._hasher.hash, password(secret))
        async with self._store._session() as session:
            if values:
                result = await session.execute(
                    update(User).where(User.id == user_id).values(**values)
                )
                if not getattr(result, "rowcount", 0):
                    raise NotFound(f"no user {user_id}")
            if secret is not None:
                await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
            await session.commit()
        return await self.user(user_id)

    async def set_owner(self, number: str, user_id: int | None) -> None:
        """Give mailbox ``number`` to ``user_id`` (of the same organization), or to nobody."""
        async with self._store._session() as session:
            mailbox = await session.scalar(select(Mailbox).where(Mailbox.number == number))
            if mailbox is None:
                raise NotFound(f"no mailbox {number}")
            if user_id is not None:
                user = await session.get(User, user_id)
                if user is None or user.organization_id != mailbox.organization_id:
                    raise NotFound(f"no user {user_id} in the mailbox's organization")
            mailbox.owner_user_id = user_id
            await session.commit()

    # -- password logins ----------------------------------------------------------------------

    async def login(self, email: str, secret: str, source: str, now: dt.datetime) -> Viewer | None:
        """The viewer when ``secret`` is the user's password; None otherwise. Failures count
        against the address typed and against ``source`` (the client's IP): five in a row
        lock either for a while (``TooManyAttempts``), even for the right password."""
        email = email.strip().lower()[:320]
        logins = self._store.logins
        keys = (f"web:{email}", f"websrc:{source}"[:300])
        if await logins.locked(keys, now):
            raise TooManyAttempts("too many failed logins: try again later")
        async with self._store._session() as session:
            user = await session.scalar(select(User).where(User.email == email))
            password_hash = None if user is None else user.password_hash
        if await logins.verify(password_hash, secret) and user is not None:
            await logins.forget(keys[0])
            return await self.viewer(user.id)
        if await logins.fail(keys, now):
            raise TooManyAttempts("too many failed logins: try again later")
        return None

    async def viewer(self, user_id: int) -> Viewer:
        async with self._store._session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise NotFound(f"no user {user_id}")
            return _viewer(user)

    # -- browser sessions ---------------------------------------------------------------------

    async def open_session(self, user_id: int, now: dt.datetime) -> tuple[str, str]:
        """A new session: (cookie token, CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        async with self._store._session() as session:
            session.add(
                WebSession(
                    id=_token_hash(token),
                    user_id=user_id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + SESSION_LIFETIME,
                )
            )
            # Expired sessions of anyone go with each new one: no sweeper needed.
            await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
            await session.commit()
        return token, csrf

    async def session_viewer(self, token: str, now: dt.datetime) -> tuple[Viewer, str] | None:
        """The session's viewer and CSRF token, or None when it is unknown or expired."""
        async with self._store._session() as session:
            row = (
                await session.execute(
                    select(User, WebSession.csrf_token)
                    .join(WebSession, WebSession.user_id == User.id)
                    .where(WebSession.id == _token_hash(token), WebSession.expires_at > now)
                )
            ).first()
        return None if row is None else (_viewer(row[0]), row[1])

    async def close_session(self, token: str) -> None:
        async with self._store._session() as session:
            await session.execute(delete(WebSession).where(WebSession.id == _token_hash(token)))
            await session.commit()

    async def close_all_sessions(self, user_id: int) -> None:
        """Log out everywhere."""
        async with self._store._session() as session:
            await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
            await session.commit()

    # -- API tokens ---------------------------------------------------------------------------

    async def create_token(self, user_id: int, name: str) -> tuple[TokenRecord, str]:
        """A new API token; its secret is shown this once and kept only as a hash."""
        token = "abk_" + secrets.token_urlsafe(32)
        async with self._store._session() as session:
            row = ApiToken(
                user_id=user_id, name=validation.name(name), token_hash=_token_hash(token)
            )
            session.add(row)
            await session.commit()
            return TokenRecord(row.id, row.name, row.created_at, None), token

    async def tokens(self, user_id: int) -> list[TokenRecord]:
        async with self._store._session() as session:
            rows = await session.scalars(
                select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
            )
            return [TokenRecord(t.id, t.name, t.created_at, t.last_used_at) for t in rows]

    async def revoke_token(self, user_id: int, token_id: int) -> None:
        async with self._store._session() as session:
            result = await session.execute(
                delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
            )
            if not getattr(result, "rowcount", 0):
                raise NotFound(f"no token {token_id}")
            await session.commit()

    async def token_viewer(self, token: str, now: dt.datetime) -> Viewer | None:
        async with self._store._session() as session:
            row = (
                await session.execute(
                    select(User, ApiToken)
                    .join(ApiToken, ApiToken.user_id == User.id)
                    .where(ApiToken.token_hash == _token_hash(token))
                )
            ).first()
            if row is None:
                return None
            user, api_token = row
            # Written at most once a minute: a busy client does not turn reads into writes.
            if api_token.last_used_at is None or now - api_token.last_used_at > dt.timedelta(
                minutes=1
            ):
                api_token.last_used_at = now
                await session.commit()
            return _viewer(user)

    # -- what a viewer sees -------------------------------------------------------------------

    async def mailboxes(self, viewer: Viewer) -> list[MailboxRecord]:
        from afterbeep.store.repository import _mailbox_records

        async with self._store._session() as session:
            return await _mailbox_records(session, mailbox_scope(viewer))

    async def mailbox(self, viewer: Viewer, number: str) -> MailboxRecord:
        from afterbeep.store.repository import _mailbox_records

        async with self._store._session() as session:
            records = await _mailbox_records(
                session, Mailbox.number == number, mailbox_scope(viewer)
            )
        if not records:
            raise NotFound(f"no mailbox {number}")
        return records[0]

    async def mailbox_id(self, viewer: Viewer, number: str) -> int:
        """The id of a mailbox ``viewer`` sees (one index probe: no counts, no greetings)."""
        async with self._store._session() as session:
            found = await session.scalar(
                select(Mailbox.id).where(Mailbox.number == number, mailbox_scope(viewer))
            )
        if found is None:
            raise NotFound(f"no mailbox {number}")
        return found

    async def message(self, viewer: Viewer, message_id: uuid.UUID | str) -> MessageRecord:
        from afterbeep.store.repository import _message_id, _message_record

        message_id = _message_id(message_id)
        async with self._store._session() as session:
            row = (
                await session.execute(
                    select(Message, Mailbox.number)
                    .join(Mailbox, Message.mailbox_id == Mailbox.id)
                    .where(Message.id == message_id, mailbox_scope(viewer))
                )
            ).first()
        if row is None:
            raise NotFound(f"no message {message_id}")
        return _message_record(*row)

    async def messages(
        self,
        viewer: Viewer,
        number: str,
        *,
        folder: str | None = None,
        search: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> MessagePage:
        """One page of a mailbox's messages, newest first; ``search`` finds words in the
        caller's name or number and in the transcript."""
        from afterbeep.store.repository import _message_record

        mailbox_id = await self.mailbox_id(viewer, number)
        query = select(Message).where(Message.mailbox_id == mailbox_id)
        if folder is not None:
            query = query.where(Message.folder == validation.folder(folder))
        if search and any(ord(ch) < 32 for ch in search):
            raise InvalidValue("a search cannot hold control characters")
        if search:
            query = query.where(*message_search(search, self._store.engine.dialect.name))
        if since is not None:
            query = query.where(Message.received_at >= since)
        if until is not None:
            query = query.where(Message.received_at < until)
        if before is not None:
            at, last_id = _cursor(before)
            # A row-value comparison: the index on (mailbox, received_at, id) serves it as a
            # range (an OR of the two cases made PostgreSQL filter row by row).
            after = tuple_(
                literal(at, Message.received_at.type), literal(last_id, Message.id.type)
            )  # typed as the columns: UTC naive on SQLite, the UUID as its text
            query = query.where(tuple_(Message.received_at, Message.id) < after)
        query = query.order_by(Message.received_at.desc(), Message.id.desc()).limit(limit + 1)
        async with self._store._session() as session:
            rows = list(await session.scalars(query))
        records = [_message_record(m, number) for m in rows[:limit]]
        more = len(rows) > limit
        return MessagePage(records, _make_cursor(records[-1]) if more and records else None)

    # -- distribution lists -------------------------------------------------------------------

    async def lists(self, viewer: Viewer, list_id: int | None = None) -> list[ListRecord]:
        """The organization's lists (every member may broadcast to them)."""
        query = select(DistributionList).where(_list_scope(viewer)).order_by(DistributionList.name)
        if list_id is not None:
            query = query.where(DistributionList.id == list_id)
        async with self._store._session() as session:
            found = list(await session.scalars(query))
            members = await session.execute(
                select(DistributionListMember.list_id, Mailbox.number)
                .join(Mailbox, Mailbox.id == DistributionListMember.mailbox_id)
                .where(DistributionListMember.list_id.in_([d.id for d in found]))
                .order_by(Mailbox.number)
            )
        numbers: dict[int, list[str]] = {}
        for owner, number in members:
            numbers.setdefault(owner, []).append(number)
        return [
            ListRecord(d.id, d.name, d.organization_id, tuple(numbers.get(d.id, ()))) for d in found
        ]

    async def distribution_list(self, viewer: Viewer, list_id: int) -> ListRecord:
        found = await self.lists(viewer, list_id)
        if not found:
            raise NotFound(f"no distribution list {list_id}")
        return found[0]

    async def add_list(self, viewer: Viewer, name: str, numbers: list[str]) -> ListRecord:
        async with self._store._session() as session:
            row = DistributionList(
                organization_id=viewer.organization_id, name=validation.name(name)
            )
            session.add(row)
            try:
                await session.flush()
            except IntegrityError:
                raise AlreadyExists(f"a list named {name!r} already exists") from None
            await self._fill(session, row, numbers)
            await session.commit()
        return await self.distribution_list(viewer, row.id)

    async def set_list_members(
        self, viewer: Viewer, list_id: int, numbers: list[str]
    ) -> ListRecord:
        await self.distribution_list(viewer, list_id)
        async with self._store._session() as session:
            row = await session.get(DistributionList, list_id)
            assert row is not None
            await session.execute(
                delete(DistributionListMember).where(DistributionListMember.list_id == list_id)
            )
            await self._fill(session, row, numbers)
            await session.commit()
        return await self.distribution_list(viewer, list_id)

    async def _fill(self, session: Any, row: DistributionList, numbers: list[str]) -> None:
        """Members must be mailboxes of the list's organization."""
        wanted = list(dict.fromkeys(numbers))
        found = dict(
            (
                await session.execute(
                    select(Mailbox.number, Mailbox.id).where(
                        Mailbox.number.in_(wanted),
                        Mailbox.organization_id == row.organization_id,
                    )
                )
            ).all()
        )
        missing = [n for n in wanted if n not in found]
        if missing:
            raise NotFound(f"no mailbox {', '.join(missing)}")
        session.add_all(DistributionListMember(list_id=row.id, mailbox_id=found[n]) for n in wanted)

    async def remove_list(self, viewer: Viewer, list_id: int) -> None:
        await self.distribution_list(viewer, list_id)
        async with self._store._session() as session:
            await session.execute(delete(DistributionList).where(DistributionList.id == list_id))
            await session.commit()

    async def folders(self, viewer: Viewer, number: str) -> dict[str, int]:
        """Messages per folder (the standard ones always listed)."""
        await self.mailbox_id(viewer, number)
        return {"new": 0, "old": 0, "saved": 0, "deleted": 0} | await self._store.folder_counts(
            number
        )


def _list_scope(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.role is Role.PROVIDER:
        return true()
    return DistributionList.organization_id == viewer.organization_id


def message_search(text: str, dialect: str) -> list[ColumnElement[bool]]:
    """Messages whose caller name, number or transcript contain ``text`` (any case).

    On SQLite a trigram index (``messages_search``, migration 0008) finds the candidates
    when the text has three characters or more; the LIKE confirms each one."""
    folded = text.strip().casefold()
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", folded) + "%"
    conditions: list[ColumnElement[bool]] = [Message.search_text.like(pattern, escape="\\")]
    if dialect == "sqlite" and len(folded) >= 3:
        phrase = '"' + folded.replace('"', '""') + '"'
        candidates = literal_column("messages.rowid").in_(
            select(literal_column("rowid"))
            .select_from(table("messages_search"))
            .where(literal_column("messages_search").op("MATCH")(phrase))
        )
        conditions.append(candidates)
    return conditions


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidValue(f"invalid role {value!r}: use one of {choices}") from None


def _viewer(user: User) -> Viewer:
    return Viewer(user.id, user.organization_id, user.role, user.email, user.name, user.timezone)


def _make_cursor(message: MessageRecord) -> str:
    raw = f"{message.received_at.isoformat()}|{message.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor(value: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at, message_id = raw.split("|")
        when = dt.datetime.fromisoformat(at)
        if when.utcoffset() is None:
            raise ValueError
        return when, uuid.UUID(message_id)
    except (ValueError, UnicodeDecodeError):
        raise InvalidValue("invalid page cursor") from None
