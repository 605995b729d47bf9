"""Accounts: web/API users with roles, browser sessions, API tokens, mailbox owners;
distribution lists; indexes for a mailbox's and a folder's messages newest first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "organization_id",
            sa.Integer(),
            sa.ForeignKey("organizations.id", name="fk_users_organization_id_organizations"),
            nullable=False,
        ),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), server_default="UTC", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_web_sessions_user_id_users"),
            nullable=False,
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_api_tokens_user_id_users"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_index(
        "ix_messages_mailbox_id_received_at_id", "messages", ["mailbox_id", "received_at", "id"]
    )
    # The folder index gains the id: pages of a folder need no sort step.
    op.drop_index("ix_messages_mailbox_id_folder_received_at", "messages")
    op.create_index(
        "ix_messages_mailbox_id_folder_received_at_id",
        "messages",
        ["mailbox_id", "folder", "received_at", "id"],
    )
    op.create_table(
        "distribution_lists",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "organization_id",
            sa.Integer(),
            sa.ForeignKey(
                "organizations.id", name="fk_distribution_lists_organization_id_organizations"
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint(
            "organization_id", "name", name="uq_distribution_lists_organization_id_name"
        ),
    )
    op.create_table(
        "distribution_list_members",
        sa.Column(
            "list_id",
            sa.Integer(),
            sa.ForeignKey(
                "distribution_lists.id",
                ondelete="CASCADE",
                name="fk_distribution_list_members_list_id_distribution_lists",
            ),
            primary_key=True,
        ),
        sa.Column(
            "mailbox_id",
            sa.Integer(),
            sa.ForeignKey(
                "mailboxes.id",
                ondelete="CASCADE",
                name="fk_distribution_list_members_mailbox_id_mailboxes",
            ),
            primary_key=True,
        ),
    )
    # Recreated on SQLite: keep AUTOINCREMENT (ids of removed mailboxes are never reused).
    with op.batch_alter_table("mailboxes", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("owner_user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_mailboxes_owner_user_id_users",
            "users",
            ["owner_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_mailboxes_owner_user_id", ["owner_user_id"])


def downgrade() -> None:
    # Recreated on SQLite: keep AUTOINCREMENT (ids of removed mailboxes are never reused).
    with op.batch_alter_table("mailboxes", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_mailboxes_owner_user_id")
        batch.drop_constraint("fk_mailboxes_owner_user_id_users", type_="foreignkey")
        batch.drop_column("owner_user_id")
    op.drop_index("ix_messages_mailbox_id_folder_received_at_id", "messages")
    op.create_index(
        "ix_messages_mailbox_id_folder_received_at",
        "messages",
        ["mailbox_id", "folder", "received_at"],
    )
    op.drop_index("ix_messages_mailbox_id_received_at_id", "messages")
    op.drop_table("distribution_list_members")
    op.drop_table("distribution_lists")
    op.drop_table("api_tokens")
    op.drop_table("web_sessions")
    op.drop_table("users")
