"""Accounts: web/API users with roles, browser sessions, API tokens, mailbox owners;
distribution lists; indexes for a mailbox's and a folder's messages newest first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fold(caller_name: str, caller_number: str, transcript: str | None) -> str:
    # As afterbeep.store.models.search_text (a migration must not import the models).
    return f"{caller_name}\n{caller_number}\n{transcript or ''}".casefold()


# SQLite: a trigram full-text index over messages.search_text, kept by triggers, so that a
# search for a word finds its rows without reading the whole mailbox. It maps FTS rows to
# messages by rowid, which VACUUM may renumber: the search also checks search_text itself,
# so a stale index can miss messages but never show wrong ones ('afterbeep check --fix'
# rebuilds it).
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE messages_search USING fts5("
    "search_text, content='messages', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_search(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_search(messages_search, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); END",
    "CREATE TRIGGER messages_search_update AFTER UPDATE OF search_text ON messages BEGIN "
    "INSERT INTO messages_search(messages_search, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); "
    "INSERT INTO messages_search(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "INSERT INTO messages_search(messages_search) VALUES ('rebuild')",
)


def _create_sqlite_search() -> None:
    for statement in SQLITE_SEARCH:
        op.execute(statement)


def _create_postgresql_search(bind: sa.Connection) -> None:
    """A trigram GIN index serves LIKE '%word%' on PostgreSQL. pg_trgm ships with
    PostgreSQL but a database user may not be allowed to create it: then searches scan."""
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        logging.getLogger("alembic").warning(
            "no pg_trgm (%s): web searches will scan the mailbox", exc.orig
        )
        return
    op.execute(
        "CREATE INDEX ix_messages_search_text_trgm ON messages USING gin (search_text gin_trgm_ops)"
    )


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
    op.add_column(
        "messages", sa.Column("search_text", sa.Text(), server_default="", nullable=False)
    )
    messages = sa.table(
        "messages",
        sa.column("id", sa.String()),
        sa.column("caller_name", sa.String()),
        sa.column("caller_number", sa.String()),
        sa.column("transcript", sa.Text()),
        sa.column("search_text", sa.Text()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(messages.c.id, messages.c.caller_name, messages.c.caller_number,
                  messages.c.transcript)
    ).all()  # fmt: skip
    for start in range(0, len(rows), 1000):
        bind.execute(
            messages.update()
            .where(messages.c.id == sa.bindparam("key"))
            .values(search_text=sa.bindparam("text")),
            [{"key": r[0], "text": _fold(r[1], r[2], r[3])} for r in rows[start : start + 1000]],
        )
    if bind.dialect.name == "sqlite":
        _create_sqlite_search()
    elif bind.dialect.name == "postgresql":
        _create_postgresql_search(bind)
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
    # Not batch mode: on SQLite that recreates the table, and dropping the old one would
    # cascade to every message (foreign keys are on and cannot be turned off inside the
    # migration's transaction). SQLite adds a nullable column with its REFERENCES in place.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE mailboxes ADD COLUMN owner_user_id INTEGER "
            "CONSTRAINT fk_mailboxes_owner_user_id_users REFERENCES users (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("mailboxes", sa.Column("owner_user_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_mailboxes_owner_user_id_users",
            "mailboxes",
            "users",
            ["owner_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_mailboxes_owner_user_id", "mailboxes", ["owner_user_id"])


def downgrade() -> None:
    op.drop_index("ix_mailboxes_owner_user_id", "mailboxes")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_mailboxes_owner_user_id_users", "mailboxes", type_="foreignkey")
    op.drop_column("mailboxes", "owner_user_id")  # SQLite ≥ 3.35 drops it in place
    op.drop_index("ix_messages_mailbox_id_folder_received_at_id", "messages")
    op.create_index(
        "ix_messages_mailbox_id_folder_received_at",
        "messages",
        ["mailbox_id", "folder", "received_at"],
    )
    op.drop_index("ix_messages_mailbox_id_received_at_id", "messages")
    op.execute("DROP INDEX IF EXISTS ix_messages_search_text_trgm")
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER messages_search_{name}")
        op.execute("DROP TABLE messages_search")
    op.drop_column("messages", "search_text")
    op.drop_table("distribution_list_members")
    op.drop_table("distribution_lists")
    op.drop_table("api_tokens")
    op.drop_table("web_sessions")
    op.drop_table("users")
