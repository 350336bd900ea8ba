"""The event chain: purges and erasures become chained events that tombstones name.

Revision ID: 0003
Revises: 0002

Tombstones that predate the event chain get ``legacy_purge`` events, one per
subject and purge time, and subjects erased before it one ``legacy_erase``
event each (at the time the revision runs), chained and unsigned (the revision
has no master key) as the revision runs: the
ledger verifies afterwards, and from then on a tombstone without its event is
caught. See docs/ledger.md.
"""

from __future__ import annotations

import time
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from credence.ledger.chain import LEGACY_ERASE, LEGACY_PURGE, NO_EVENTS, chain_events

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create events and event_head, add records.purged_by, chain the tombstones stored."""
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("subject_key", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("targets", sa.LargeBinary(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("chain_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
    )
    op.create_index("ix_events_subject_key", "events", ["subject_key"])
    op.create_table(
        "event_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_head"),
    )
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("purged_by", sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for seq, subject_key, purged_at in conn.execute(
        sa.text(
            "SELECT seq, subject_key, purged_at FROM records WHERE purged_at IS NOT NULL "
            "ORDER BY seq"
        )
    ):
        groups[(subject_key, purged_at)].append(seq)
    erased = [
        key
        for (key,) in conn.execute(
            sa.text(
                "SELECT subject_key FROM subjects WHERE sealed_id IS NULL OR wrapped_key IS NULL "
                "ORDER BY subject_key"
            )
        )
    ]
    now = time.time_ns() // 1_000
    new = [(k, LEGACY_PURGE, at, seqs, None) for (k, at), seqs in sorted(groups.items())]
    new += [(k, LEGACY_ERASE, now, [], None) for k in erased]
    chained, head = chain_events(new, head=NO_EVENTS)
    if chained:
        conn.execute(
            sa.text(
                "INSERT INTO events (seq, subject_key, kind, at, records, targets, payload, "
                "chain_hash) VALUES (:seq, :sk, :kind, :at, :n, :targets, :payload, :hash)"
            ),
            [
                {
                    "seq": e.seq,
                    "sk": e.subject_key,
                    "kind": e.kind,
                    "at": e.at,
                    "n": e.records,
                    "targets": e.targets,
                    "payload": e.payload,
                    "hash": e.chain_hash,
                }
                for e in chained
            ],
        )
        marks = [
            {"by": e.seq, "s": seq}
            for e, (_key, seqs) in zip(chained, sorted(groups.items()), strict=False)
            for seq in seqs
        ]
        if marks:
            conn.execute(sa.text("UPDATE records SET purged_by = :by WHERE seq = :s"), marks)
    conn.execute(
        sa.text("INSERT INTO event_head (id, events, chain_hash) VALUES (1, :n, :h)"),
        {"n": head.events, "h": head.chain_hash},
    )


def downgrade() -> None:
    """Drop the event chain (tombstones stay, unchained, as revision 0002 had them)."""
    with op.batch_alter_table("records") as batch:
        batch.drop_column("purged_by")
    op.drop_table("event_head")
    op.drop_index("ix_events_subject_key", table_name="events")
    op.drop_table("events")
