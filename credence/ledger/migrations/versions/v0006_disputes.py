"""Disputes: one row per dispute of a record by its subject.

Revision ID: 0006
Revises: 0005

Each step of a dispute is also chained in the events table (kinds
``dispute.*``), which needs no change. See docs/due-process.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the disputes table."""
    op.create_table(
        "disputes",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("subject_key", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("provider_event_id", sa.Text(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("filed_at", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("extended", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answer_record", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_by", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_disputes"),
    )
    op.create_index("ix_disputes_subject_key", "disputes", ["subject_key"])
    op.create_index("ix_disputes_provider", "disputes", ["provider"])


def downgrade() -> None:
    """Drop the disputes table; refuse while a dispute dropped a record (it would count again)."""
    conn = op.get_bind()
    striking = conn.execute(
        sa.text("SELECT count(*) FROM disputes WHERE state IN ('upheld', 'lapsed', 'open')")
    )
    if striking.scalar_one():
        raise RuntimeError("cannot downgrade: disputes that drop or may drop records would be lost")
    op.drop_index("ix_disputes_provider", table_name="disputes")
    op.drop_index("ix_disputes_subject_key", table_name="disputes")
    op.drop_table("disputes")
