"""Notifications: mailbox channels, webhooks, and the durable outbox (jobs).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    # One address became a list: a new column, filled from the old one. DROP COLUMN is native
    # on SQLite since 3.35, so no table copy (which would cascade-delete messages) is needed.
    op.add_column("mailboxes", sa.Column("emails", sa.Text(), server_default="", nullable=False))
    op.execute("UPDATE mailboxes SET emails = email WHERE email IS NOT NULL")
    op.drop_column("mailboxes", "email")
    op.add_column(
        "mailboxes",
        sa.Column("attach_policy", sa.String(length=16), server_default="attach", nullable=False),
    )
    op.add_column(
        "mailboxes",
        sa.Column("audio_format", sa.String(length=8), server_default="wav", nullable=False),
    )
    op.add_column("mailboxes", sa.Column("sms_number", sa.String(length=64), nullable=True))
    op.add_column(
        "mailboxes",
        sa.Column("notify_missed", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("events", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_webhooks_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_webhooks_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("run_after", UTC_TIMESTAMP, nullable=False),
        sa.Column("locked_until", UTC_TIMESTAMP, nullable=True),
        sa.Column("lock_token", sa.String(length=36), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("key", name=op.f("uq_jobs_key")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_jobs_status_run_after"), "jobs", ["status", "run_after"])


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_status_run_after"), table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("webhooks")
    for column in ("notify_missed", "sms_number", "audio_format", "attach_policy"):
        op.drop_column("mailboxes", column)
    op.add_column("mailboxes", sa.Column("email", sa.String(length=320), nullable=True))
    # The list keeps its first address.
    mailboxes = sa.table("mailboxes", sa.column("id"), sa.column("emails"), sa.column("email"))
    bind = op.get_bind()
    for mailbox_id, emails in bind.execute(sa.select(mailboxes.c.id, mailboxes.c.emails)).all():
        first = emails.split(",")[0].strip() or None
        bind.execute(mailboxes.update().where(mailboxes.c.id == mailbox_id).values(email=first))
    op.drop_column("mailboxes", "emails")
