"""The tables. ``migrations/versions`` must describe exactly these (a test compares them)."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from afterbeep.domain import (
    AttachPolicy,
    AudioFormat,
    Codec,
    DiversionReason,
    GreetingKind,
    Role,
    WarningMode,
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in Python on every backend.

    SQLite has no time zones: values are stored as naive UTC and given back their zone on the
    way out. Naive values are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps UTC only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class UUIDString(TypeDecorator[uuid.UUID]):
    """A UUID kept as its 36-character text: the same column on SQLite and PostgreSQL."""

    impl = String(36)
    cache_ok = True

    def process_bind_param(self, value: uuid.UUID | None, dialect: Dialect) -> Any:
        return None if value is None else str(uuid.UUID(str(value)))

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        return None if value is None else uuid.UUID(value)


E = TypeVar("E", bound=StrEnum)


class StrEnumString(TypeDecorator[E]):
    """A StrEnum kept as its value in a VARCHAR: a new member needs no migration."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> Any:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    # Stable constraint names, the same on every backend, so later migrations can name them.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Organization(Base):
    """A tenant. The first migration creates the ``default`` one that owns every mailbox."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Days messages are kept, for mailboxes that do not say (None: for ever); deleted ones
    # by their own count.
    retention_days: Mapped[int | None] = mapped_column(Integer)
    deleted_retention_days: Mapped[int | None] = mapped_column(Integer)
    # Owners hear this many days before retention deletes a message (None: never).
    retention_warning_days: Mapped[int | None] = mapped_column(
        Integer, default=3, server_default=text("3")
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )


class Mailbox(Base):
    __tablename__ = "mailboxes"
    __table_args__ = (
        # The lasting rule; the global one below goes when routing becomes per-organization.
        UniqueConstraint("organization_id", "number"),
        UniqueConstraint("number"),
        # Blob keys and pending recordings name mailboxes by id: SQLite must never hand the
        # id of a removed mailbox to a new one (PostgreSQL sequences never do).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    number: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # Where its notifications go: addresses separated by ", " ('' for none).
    emails: Mapped[str] = mapped_column(Text, default="", server_default="")
    attach_policy: Mapped[AttachPolicy] = mapped_column(
        StrEnumString(AttachPolicy, 16), default=AttachPolicy.ATTACH, server_default="attach"
    )
    audio_format: Mapped[AudioFormat] = mapped_column(
        StrEnumString(AudioFormat, 8), default=AudioFormat.WAV, server_default="wav"
    )
    sms_number: Mapped[str | None] = mapped_column(String(64))
    notify_missed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Set when a caller found the mailbox full and the owner was told; cleared when there is
    # room again, so the owner hears of it once per time it fills up.
    full_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    retention_days: Mapped[int | None] = mapped_column(Integer)  # None: the organization's
    deleted_retention_days: Mapped[int | None] = mapped_column(Integer)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    # Set by an administrator's PIN (a default one): the owner must choose their own first.
    pin_must_change: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Calling in from the mailbox's own number skips "which mailbox?" (the PIN is still asked).
    caller_id_login: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    language: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    max_message_seconds: Mapped[int] = mapped_column(
        Integer, default=180, server_default=text("180")
    )
    min_message_seconds: Mapped[int] = mapped_column(Integer, default=2, server_default=text("2"))
    max_silence_seconds: Mapped[int] = mapped_column(Integer, default=10, server_default=text("10"))
    max_messages: Mapped[int] = mapped_column(Integer, default=100, server_default=text("100"))
    # Recorded minutes the mailbox may hold (None: no limit); G.711 keeps 480 kB a minute.
    max_storage_minutes: Mapped[int | None] = mapped_column(Integer)
    warning_mode: Mapped[WarningMode] = mapped_column(
        StrEnumString(WarningMode, 16), default=WarningMode.DEFAULT, server_default="default"
    )
    temporary_greeting_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The member who sees it on the web (None: only the organization's administrators).
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )

    # The database deletes them (ON DELETE CASCADE); the ORM need not load them first.
    greetings: Mapped[list[Greeting]] = relationship(
        back_populates="mailbox", passive_deletes=True, order_by="Greeting.kind"
    )


class Greeting(Base):
    __tablename__ = "greetings"
    __table_args__ = (UniqueConstraint("mailbox_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    kind: Mapped[GreetingKind] = mapped_column(StrEnumString(GreetingKind, 16))
    audio_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )

    mailbox: Mapped[Mailbox] = relationship(back_populates="greetings")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # A folder's and a mailbox's messages newest first, in pages (id breaks ties).
        Index(None, "mailbox_id", "folder", "received_at", "id"),
        Index(None, "mailbox_id", "received_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    # Free text: custom folders come later beside new / old / saved / deleted.
    folder: Mapped[str] = mapped_column(String(64), default="new", server_default="new")
    caller_number: Mapped[str] = mapped_column(String(128))
    caller_name: Mapped[str] = mapped_column(String(200))
    called_number: Mapped[str] = mapped_column(String(128))
    reason: Mapped[DiversionReason] = mapped_column(StrEnumString(DiversionReason, 16))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[float] = mapped_column(Float)
    audio_key: Mapped[str] = mapped_column(String(255))
    codec: Mapped[Codec] = mapped_column(StrEnumString(Codec, 8))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    heard_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    call_id: Mapped[str] = mapped_column(String(255))
    transcript: Mapped[str | None] = mapped_column(Text)  # None: none (yet)
    # When the owner was told retention will delete it (they are told once).
    expiry_warned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    deleted_from: Mapped[str | None] = mapped_column(String(64))  # where undelete puts it back
    # Caller name, number and transcript, case-folded in Python (Unicode-correct on every
    # backend): the web's search scans this one column instead of three lower()-ed ones.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )


def search_text(caller_name: str, caller_number: str, transcript: str | None) -> str:
    return f"{caller_name}\n{caller_number}\n{transcript or ''}".casefold()


@event.listens_for(Message, "before_insert")
@event.listens_for(Message, "before_update")
def _fill_search_text(_mapper: object, _connection: object, message: Message) -> None:
    message.search_text = search_text(
        message.caller_name, message.caller_number, message.transcript
    )


class MissedCall(Base):
    """A call that reached a mailbox and left no message (hung up early, too short)."""

    __tablename__ = "missed_calls"
    __table_args__ = (Index(None, "mailbox_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    caller_number: Mapped[str] = mapped_column(String(128))
    caller_name: Mapped[str] = mapped_column(String(200))
    called_number: Mapped[str] = mapped_column(String(128))
    reason: Mapped[DiversionReason] = mapped_column(StrEnumString(DiversionReason, 16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    call_id: Mapped[str] = mapped_column(String(255))


class LoginFailure(Base):
    """Failed dial-in logins counted against a mailbox or a source, across calls and restarts.

    ``key`` is ``mailbox:<id>`` or ``source:<address>|<caller>``. ``lockouts`` counts the
    locks so far: each one lasts longer than the one before.
    """

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    lockouts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class User(Base):
    """Someone who logs in to the web app or the API; belongs to one organization."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower case
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(StrEnumString(Role, 16))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )


class WebSession(Base):
    """A logged-in browser. ``id`` is the SHA-256 of the cookie's token: a stolen database
    does not hand out sessions."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """A bearer token for the REST API, kept as its SHA-256."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class DistributionList(Base):
    """Mailboxes of one organization that a message can be broadcast to at once."""

    __tablename__ = "distribution_lists"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )


class DistributionListMember(Base):
    __tablename__ = "distribution_list_members"

    list_id: Mapped[int] = mapped_column(
        ForeignKey("distribution_lists.id", ondelete="CASCADE"), primary_key=True
    )
    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
    )


class Webhook(Base):
    """An HTTP endpoint told about one mailbox's events, or every mailbox's of its organization."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[str] = mapped_column(String(200))  # event kinds separated by ","
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )


class Job(Base):
    """The durable outbox: work to do after a commit, written in the same transaction.

    ``key`` names the work (``email:message.created:<id>``): unique, so doing a fan-out twice
    cannot queue a notification twice. A claimed job holds ``lock_token`` until
    ``locked_until``; a worker that dies lets the lease lapse and another claims it.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index(None, "status", "run_after"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255), unique=True)
    payload: Mapped[str] = mapped_column(Text)  # JSON
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    run_after: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    lock_token: Mapped[str | None] = mapped_column(String(36))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
