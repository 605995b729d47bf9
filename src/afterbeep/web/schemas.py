"""The REST API's bodies (pydantic models: they make the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from afterbeep.domain import AttachPolicy, AudioFormat, DiversionReason, Role, WarningMode
from afterbeep.store.accounts import TokenRecord, UserRecord
from afterbeep.store.records import MailboxRecord, MessageRecord


class ErrorDetail(BaseModel):
    code: str = Field(description="not_found, invalid, unauthenticated, csrf, too_many, …")
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class Me(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    organization_id: int
    timezone: str


class MeChange(BaseModel):
    """Your own name, time zone (times are shown in it) or password (needs the current one)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, min_length=10, max_length=1024)
    current_password: str | None = Field(default=None, max_length=1024)


class Mailbox(BaseModel):
    number: str
    name: str
    emails: list[str]
    has_pin: bool
    language: str
    timezone: str
    max_message_seconds: int
    min_message_seconds: int
    max_messages: int
    warning_mode: WarningMode
    temporary_greeting_expires_at: dt.datetime | None
    greetings: list[str]
    attach_policy: AttachPolicy
    audio_format: AudioFormat
    sms_number: str | None
    notify_missed: bool
    new_messages: int
    total_messages: int
    owner_user_id: int | None

    @classmethod
    def of(cls, record: MailboxRecord) -> Mailbox:
        return cls(
            number=record.number,
            name=record.name,
            emails=list(record.emails),
            has_pin=record.has_pin,
            language=record.language,
            timezone=record.timezone,
            max_message_seconds=record.max_message_seconds,
            min_message_seconds=record.min_message_seconds,
            max_messages=record.max_messages,
            warning_mode=record.warning_mode,
            temporary_greeting_expires_at=record.temporary_greeting_expires_at,
            greetings=[kind.value for kind in record.greetings],
            attach_policy=record.attach_policy,
            audio_format=record.audio_format,
            sms_number=record.sms_number,
            notify_missed=record.notify_missed,
            new_messages=record.new_messages,
            total_messages=record.total_messages,
            owner_user_id=record.owner_user_id,
        )


class Organization(BaseModel):
    slug: str
    name: str


class OrganizationNew(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    name: str = Field(min_length=1, max_length=200)


ORGANIZATION = Field(
    default=None,
    max_length=64,
    description="its organization's slug (providers only; default: your own)",
)


class MailboxNew(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    organization: str | None = ORGANIZATION
    owner_user_id: int | None = None
    emails: list[str] = []


class MailboxSettings(BaseModel):
    """What an owner may change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    emails: list[str] | None = None
    language: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    max_message_seconds: int | None = Field(default=None, ge=1, le=3600)
    warning_mode: WarningMode | None = None
    temporary_greeting_expires_at: dt.datetime | None = None
    attach_policy: AttachPolicy | None = None
    audio_format: AudioFormat | None = None
    sms_number: str | None = Field(default=None, max_length=64)
    notify_missed: bool | None = None


class PinChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pin: str = Field(min_length=1, max_length=32)


class Message(BaseModel):
    id: uuid.UUID
    mailbox: str
    folder: str
    caller_number: str
    caller_name: str
    called_number: str
    reason: DiversionReason
    received_at: dt.datetime
    duration_seconds: float
    urgent: bool
    heard_at: dt.datetime | None
    transcript: str | None
    audio_url: str

    @classmethod
    def of(cls, record: MessageRecord) -> Message:
        return cls(
            id=record.id,
            mailbox=record.mailbox,
            folder=record.folder,
            caller_number=record.caller_number,
            caller_name=record.caller_name,
            called_number=record.called_number,
            reason=record.reason,
            received_at=record.received_at,
            duration_seconds=round(record.duration_seconds, 2),
            urgent=record.urgent,
            heard_at=record.heard_at,
            transcript=record.transcript,
            audio_url=f"/api/v1/messages/{record.id}/audio",
        )


class MessagePage(BaseModel):
    items: list[Message]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page")


class MessageChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    heard: bool | None = Field(default=None, description="true marks it heard (new → old)")


class Forward(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: list[str] = Field(default=[], max_length=100, description="mailbox numbers")
    lists: list[int] = Field(
        default=[], max_length=20, description="distribution lists to broadcast to"
    )
    comment: str | None = Field(
        default=None, max_length=500, description="typed: spoken before the message"
    )


class Forwarded(BaseModel):
    ids: list[uuid.UUID]


class DistributionList(BaseModel):
    id: int
    name: str
    members: list[str] = Field(description="mailbox numbers")


class DistributionListNew(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(default=[], max_length=1000)


class Members(BaseModel):
    model_config = ConfigDict(extra="forbid")
    members: list[str] = Field(max_length=1000)


class User(BaseModel):
    id: int
    organization: str
    email: str
    name: str
    role: Role
    timezone: str

    @classmethod
    def of(cls, record: UserRecord) -> User:
        return cls(
            id=record.id,
            organization=record.organization,
            email=record.email,
            name=record.name,
            role=record.role,
            timezone=record.timezone,
        )


class UserNew(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=1024)
    role: Role = Role.MEMBER
    timezone: str = "UTC"
    organization: str | None = ORGANIZATION


class TokenNew(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class Token(BaseModel):
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    token: str | None = Field(default=None, description="the secret: shown once, at creation")

    @classmethod
    def of(cls, record: TokenRecord, token: str | None = None) -> Token:
        return cls(
            id=record.id,
            name=record.name,
            created_at=record.created_at,
            last_used_at=record.last_used_at,
            token=token,
        )
