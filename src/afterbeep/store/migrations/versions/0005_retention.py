"""Retention: days kept per organization (defaults) and per mailbox, and legal holds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("organizations", sa.Column("retention_days", sa.Integer(), nullable=True))
    op.add_column("organizations", sa.Column("deleted_retention_days", sa.Integer(), nullable=True))
    op.add_column("mailboxes", sa.Column("retention_days", sa.Integer(), nullable=True))
    op.add_column("mailboxes", sa.Column("deleted_retention_days", sa.Integer(), nullable=True))
    op.add_column(
        "mailboxes",
        sa.Column("legal_hold", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    for column in ("legal_hold", "deleted_retention_days", "retention_days"):
        op.drop_column("mailboxes", column)
    for column in ("deleted_retention_days", "retention_days"):
        op.drop_column("organizations", column)
