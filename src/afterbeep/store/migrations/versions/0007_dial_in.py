"""Dial-in: login failures (per mailbox and per source), PIN changes forced, undelete.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("lockouts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column(
        "mailboxes",
        sa.Column("pin_must_change", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "mailboxes",
        sa.Column("caller_id_login", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column("messages", sa.Column("deleted_from", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "deleted_from")
    op.drop_column("mailboxes", "caller_id_login")
    op.drop_column("mailboxes", "pin_must_change")
    op.drop_table("login_failures")
