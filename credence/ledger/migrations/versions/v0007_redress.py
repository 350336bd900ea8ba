"""Due process: overrides, review requests, and the notices given to subjects (the outbox).

Revision ID: 0007
Revises: 0006 (disputes)

Only new tables: nothing stored is rewritten. ``outbox_head`` holds the last
notice seq handed out; taking the next one locks its row, so notices commit
in seq order and the outbox never shows a gap that fills in later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the overrides, reviews, subject_notices and outbox_head tables."""
    op.create_table(
        "overrides",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("subject_key", sa.BigInteger(), nullable=False),
        sa.Column("entitlement", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by", sa.Text(), nullable=False),
        sa.Column("set_at", sa.BigInteger(), nullable=False),
        sa.Column("ends_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("ended_by", sa.Text(), nullable=True),
        sa.Column("review_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_overrides"),
    )
    op.create_index("ix_overrides_subject_key", "overrides", ["subject_key"])
    op.create_index("ix_overrides_ends_at", "overrides", ["ends_at"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("subject_key", sa.BigInteger(), nullable=False),
        sa.Column("decision_id", sa.Text(), nullable=False),
        sa.Column("entitlement", sa.Text(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("reviewer", sa.Text(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("override_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
    )
    for column in ("subject_key", "decision_id", "state"):
        op.create_index(f"ix_reviews_{column}", "reviews", [column])
    op.create_table(
        "subject_notices",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("subject_key", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("entitlement", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("decision_id", sa.Text(), nullable=True),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("dispute_by", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_subject_notices"),
    )
    op.create_index("ix_subject_notices_subject_key", "subject_notices", ["subject_key"])
    head = op.create_table(
        "outbox_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_head"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0}])


def downgrade() -> None:
    """Drop the due-process tables."""
    for table in ("outbox_head", "subject_notices", "reviews", "overrides"):
        op.drop_table(table)
