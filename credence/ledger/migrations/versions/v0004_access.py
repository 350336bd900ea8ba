"""The access model: parties and API keys, sign-ins and sessions, consents, decisions.

Revision ID: 0004
Revises: 0002

The access log gains ``context`` and ``consent_id`` (NULL on rows logged before).
Only new tables and nullable columns: nothing stored is rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def _subject_index(table: str) -> None:
    op.create_index(f"ix_{table}_subject_key", table, ["subject_key"])


def upgrade() -> None:
    """Create the access-model tables and widen the access log."""
    with op.batch_alter_table("access_log") as batch:
        batch.add_column(sa.Column("context", sa.Text(), nullable=True))
        batch.add_column(sa.Column("consent_id", sa.Text(), nullable=True))
    op.create_table(
        "parties",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("contexts", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_parties"),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("party", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_party", "api_keys", ["party"])
    for table, key, end in (
        ("sign_ins", "token_id", "used_at"),
        ("sessions", "session_id", "ended_at"),
    ):
        op.create_table(
            table,
            sa.Column(key, sa.Text(), nullable=False),
            sa.Column("subject_key", sa.BigInteger(), nullable=False),
            sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
            sa.Column("created_at", sa.BigInteger(), nullable=False),
            sa.Column("expires_at", sa.BigInteger(), nullable=False),
            sa.Column(end, sa.BigInteger(), nullable=True),
            sa.PrimaryKeyConstraint(key, name=f"pk_{table}"),
        )
        _subject_index(table)
    op.create_table(
        "consents",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("subject_key", sa.BigInteger(), nullable=False),
        sa.Column("party", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("entitlements", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
    )
    _subject_index("consents")
    op.create_table(
        "decisions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("subject_key", sa.BigInteger(), nullable=False),
        sa.Column("party", sa.Text(), nullable=False),
        sa.Column("entitlement", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("as_of", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("receipt", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
    )
    _subject_index("decisions")


def downgrade() -> None:
    """Drop the access-model tables and the access log's new columns."""
    for table in ("decisions", "consents", "sessions", "sign_ins", "api_keys", "parties"):
        op.drop_table(table)
    with op.batch_alter_table("access_log") as batch:
        batch.drop_column("consent_id")
        batch.drop_column("context")
