"""Storage quota per mailbox, and warnings before retention deletes messages.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("mailboxes", sa.Column("max_storage_minutes", sa.Integer(), nullable=True))
    op.add_column(
        "organizations",
        sa.Column(
            "retention_warning_days", sa.Integer(), server_default=sa.text("3"), nullable=True
        ),
    )
    op.add_column(
        "messages", sa.Column("expiry_warned_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("messages", "expiry_warned_at")
    op.drop_column("organizations", "retention_warning_days")
    op.drop_column("mailboxes", "max_storage_minutes")
