"""Tamper evidence and redemption: chain hashes, tombstones, the chain head, a narrower index.

Revision ID: 0002
Revises: 0001

Existing records are chained in seq order as the revision runs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from credence.ledger.chain import GENESIS, link

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OLD_INDEX = "ix_records_subject_key_occurred_at_provider_provider_event_id"
_NEW_INDEX = "ix_records_subject_key_occurred_at"


def upgrade() -> None:
    """Add chain_hash and purged_at, make attributes nullable, chain what is stored."""
    op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chain_head"),
    )
    op.drop_index(_OLD_INDEX, table_name="records")
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("chain_hash", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("purged_at", sa.BigInteger(), nullable=True))
        batch.alter_column("attributes", existing_type=sa.Text(), nullable=True)
    conn = op.get_bind()
    prev, last, count = GENESIS, 0, 0
    rows = conn.execute(
        sa.text(
            "SELECT seq, subject_key, provider, provider_event_id, type, occurred_at, retracts, "
            "content_hash, ingested_at FROM records ORDER BY seq"
        )
    ).fetchall()
    update = sa.text("UPDATE records SET chain_hash = :h WHERE seq = :s")
    for seq, sk, provider, event_id, type_, occurred, retracts, digest, ingested in rows:
        prev = link(
            prev, seq, sk, provider, event_id, type_, occurred, retracts, bytes(digest), ingested
        )
        conn.execute(update, {"h": prev, "s": seq})
        last, count = seq, count + 1
    conn.execute(
        sa.text("INSERT INTO chain_head (id, seq, chain_hash, records) VALUES (1, :s, :h, :n)"),
        {"s": last, "h": prev, "n": count},
    )
    with op.batch_alter_table("records") as batch:
        batch.alter_column("chain_hash", existing_type=sa.LargeBinary(), nullable=False)
    op.create_index(_NEW_INDEX, "records", ["subject_key", "occurred_at"])


def downgrade() -> None:
    """Drop the chain; tombstones keep NULL attributes, so refuse when there are any."""
    conn = op.get_bind()
    purged = conn.execute(sa.text("SELECT count(*) FROM records WHERE purged_at IS NOT NULL"))
    if purged.scalar_one():
        raise RuntimeError("cannot downgrade: the ledger holds purged records")
    op.drop_index(_NEW_INDEX, table_name="records")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("purged_at")
        batch.drop_column("chain_hash")
        batch.alter_column("attributes", existing_type=sa.Text(), nullable=False)
    op.create_index(
        _OLD_INDEX, "records", ["subject_key", "occurred_at", "provider", "provider_event_id"]
    )
    op.drop_table("chain_head")
