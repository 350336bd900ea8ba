"""Policy versions: when each takes effect, and proposed versions kept beside the active one.

Revision ID: 0005
Revises: 0002

A version stored before this revision took effect when it was activated
(``effective_at`` NULL reads as ``activated_at``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add policies.effective_at and the policy_candidates table."""
    with op.batch_alter_table("policies") as batch:
        batch.add_column(sa.Column("effective_at", sa.BigInteger(), nullable=True))
    op.create_table(
        "policy_candidates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("proposed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policy_candidates"),
        sa.UniqueConstraint("digest", name="uq_policy_candidates_digest"),
    )


def downgrade() -> None:
    """Drop proposed versions and effective times; refuse while a version waits to take effect."""
    conn = op.get_bind()
    waiting = conn.execute(
        sa.text("SELECT count(*) FROM policies WHERE effective_at > activated_at")
    )
    if waiting.scalar_one():
        raise RuntimeError("cannot downgrade: a policy version has a later effective time")
    op.drop_table("policy_candidates")
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("effective_at")
