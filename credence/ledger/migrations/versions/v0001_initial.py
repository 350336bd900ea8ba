"""The initial ledger schema.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create every ledger table."""
    op.create_table(
        "meta",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("activated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policies"),
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_providers"),
    )
    op.create_table(
        "subjects",
        sa.Column("subject_key", _KEY, autoincrement=True, nullable=False),
        sa.Column("lookup", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("scheme", sa.Text(), nullable=False),
        sa.Column("sealed_id", sa.LargeBinary(), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject_key", name="pk_subjects"),
        sa.UniqueConstraint("lookup", name="uq_subjects_lookup"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "records",
        sa.Column("seq", _KEY, autoincrement=True, nullable=False),
        sa.Column("subject_key", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("provider_event_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("retracts", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.LargeBinary(), nullable=False),
        sa.Column("ingested_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_records"),
        sa.UniqueConstraint(
            "provider", "provider_event_id", name="uq_records_provider_provider_event_id"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_records_subject_key_occurred_at_provider_provider_event_id",
        "records",
        ["subject_key", "occurred_at", "provider", "provider_event_id"],
    )
    op.create_table(
        "notices",
        sa.Column("id", _KEY, autoincrement=True, nullable=False),
        sa.Column("subject_key", sa.BigInteger(), nullable=False),
        sa.Column("entitlement", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("effective_at", sa.BigInteger(), nullable=False),
        sa.Column("ends_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
    )
    op.create_index("ix_notices_subject_key", "notices", ["subject_key"])
    op.create_table(
        "access_log",
        sa.Column("id", _KEY, autoincrement=True, nullable=False),
        sa.Column("subject_key", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_log"),
    )
    op.create_index("ix_access_log_subject_key", "access_log", ["subject_key"])


def downgrade() -> None:
    """Drop every ledger table."""
    for table in ("access_log", "notices", "records", "subjects", "providers", "policies", "meta"):
        op.drop_table(table)
