"""Initial schema: organizations, mailboxes, greetings, messages, missed calls.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain SQLAlchemy types only: a migration must not change when the models' Python types do.
UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    organizations = op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organizations_slug")),
    )
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("pin_hash", sa.String(length=255), nullable=True),
        sa.Column("language", sa.String(length=16), server_default="en", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column(
            "max_message_seconds", sa.Integer(), server_default=sa.text("180"), nullable=False
        ),
        sa.Column("min_message_seconds", sa.Integer(), server_default=sa.text("2"), nullable=False),
        sa.Column(
            "max_silence_seconds", sa.Integer(), server_default=sa.text("10"), nullable=False
        ),
        sa.Column("max_messages", sa.Integer(), server_default=sa.text("100"), nullable=False),
        sa.Column("warning_mode", sa.String(length=16), server_default="default", nullable=False),
        sa.Column("temporary_greeting_expires_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_mailboxes_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailboxes")),
        sa.UniqueConstraint("number", name=op.f("uq_mailboxes_number")),
        sa.UniqueConstraint(
            "organization_id", "number", name=op.f("uq_mailboxes_organization_id_number")
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "greetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("audio_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_greetings_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_greetings")),
        sa.UniqueConstraint("mailbox_id", "kind", name=op.f("uq_greetings_mailbox_id_kind")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=64), server_default="new", nullable=False),
        sa.Column("caller_number", sa.String(length=128), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=False),
        sa.Column("called_number", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("received_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("audio_key", sa.String(length=255), nullable=False),
        sa.Column("codec", sa.String(length=8), nullable=False),
        sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("heard_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_messages_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index(
        op.f("ix_messages_mailbox_id_folder_received_at"),
        "messages",
        ["mailbox_id", "folder", "received_at"],
        unique=False,
    )
    op.create_table(
        "missed_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("caller_number", sa.String(length=128), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=False),
        sa.Column("called_number", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("at", UTC_TIMESTAMP, nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_missed_calls_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missed_calls")),
    )
    op.create_index(
        op.f("ix_missed_calls_mailbox_id_at"), "missed_calls", ["mailbox_id", "at"], unique=False
    )
    # Every mailbox belongs to an organization; until tenancy arrives they share this one.
    op.bulk_insert(organizations, [{"slug": "default", "name": "Default organization"}])


def downgrade() -> None:
    op.drop_index(op.f("ix_missed_calls_mailbox_id_at"), table_name="missed_calls")
    op.drop_table("missed_calls")
    op.drop_index(op.f("ix_messages_mailbox_id_folder_received_at"), table_name="messages")
    op.drop_table("messages")
    op.drop_table("greetings")
    op.drop_table("mailboxes")
    op.drop_table("organizations")
