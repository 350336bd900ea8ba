"""Tampering done the way an intruder with database access would: straight SQL, no Credence.

Each function changes one thing in an open transaction of a DB-API connection
(sqlite3 or psycopg, ``mark`` being its parameter marker); the caller verifies
and rolls back.
"""

from __future__ import annotations

import os
import random
from typing import Any

import orjson

from credence.canonical import content_hash
from credence.ledger.chain import (
    HEAD_QUERY,
    VERIFY_QUERY,
    ChainReport,
    link,
    read_head,
    verify_rows,
)
from credence.types import Record

COLUMNS = [
    "seq",
    "subject_key",
    "provider",
    "provider_event_id",
    "type",
    "occurred_at",
    "attributes",
    "evidence",
    "retracts",
    "content_hash",
    "ingested_at",
    "chain_hash",
    "purged_at",
]
KINDS = ["edit", "delete", "reorder", "insert"]


def verify(conn: Any) -> ChainReport:
    """The same check ``credence verify`` runs, on this connection's view of the data."""
    cursor = conn.cursor()
    cursor.execute(HEAD_QUERY)
    head = read_head(cursor.fetchone())
    cursor.execute(VERIFY_QUERY)
    return verify_rows(cursor.fetchall(), head=head)


def _rows(conn: Any) -> list[tuple[Any, ...]]:
    cursor = conn.cursor()
    cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM records ORDER BY seq")
    return [
        tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
        for row in cursor.fetchall()
    ]


def _changed(rng: random.Random, column: str, value: Any, row: tuple[Any, ...]) -> Any:
    """A different value for one column, as an intruder would write it."""
    if column in ("content_hash", "chain_hash"):
        return os.urandom(32)
    if column in ("subject_key", "occurred_at", "ingested_at"):
        return value + rng.choice([-1, 1]) * rng.randrange(1, 10**6)
    if column == "purged_at":  # a live record marked purged, or a tombstone marked live
        return None if value is not None else row[10] + 1
    if column == "attributes":
        if value is None:
            return '{"days_late":0}'
        attrs = orjson.loads(value)
        if attrs and rng.random() < 0.7:
            key = rng.choice(sorted(attrs))
            old = attrs[key]
            attrs[key] = (
                (not old)
                if isinstance(old, bool)
                else (old + 1 if isinstance(old, int | float) else str(old) + "x")
            )
        elif rng.random() < 0.5 and attrs:
            del attrs[rng.choice(sorted(attrs))]
        else:
            attrs["forged"] = 1
        return orjson.dumps(attrs, option=orjson.OPT_SORT_KEYS).decode()
    if value is None:
        return "forged"
    return value + "x"


def tamper(conn: Any, rng: random.Random, kind: str, *, mark: str = "?") -> str:
    """Apply one random tampering of ``kind``; returns what was done."""
    rows = _rows(conn)
    cursor = conn.cursor()
    seqs = [r[0] for r in rows]
    if kind == "edit":
        row = rng.choice(rows)
        column = rng.choice(COLUMNS)
        index = COLUMNS.index(column)
        if column == "seq":
            new: Any = max(seqs) + rng.randrange(1, 1000) if rng.random() < 0.5 else -row[0]
        else:
            new = _changed(rng, column, row[index], row)
        cursor.execute(f"UPDATE records SET {column} = {mark} WHERE seq = {mark}", (new, row[0]))
        return f"edit {column} of seq {row[0]}"
    if kind == "delete":
        seq = rng.choice(seqs)
        cursor.execute(f"DELETE FROM records WHERE seq = {mark}", (seq,))
        return f"delete seq {seq}"
    if kind == "reorder":
        a, b = rng.sample(rows, 2)
        names = COLUMNS[1:]
        sets = ", ".join(f"{c} = {mark}" for c in names)
        # Move one out of the way first: the idempotency key is unique.
        cursor.execute(
            f"UPDATE records SET provider_event_id = {mark} WHERE seq = {mark}", ("swap-tmp", a[0])
        )
        cursor.execute(f"UPDATE records SET {sets} WHERE seq = {mark}", (*a[1:], b[0]))
        cursor.execute(f"UPDATE records SET {sets} WHERE seq = {mark}", (*b[1:], a[0]))
        return f"swap seq {a[0]} and {b[0]}"
    # insert: a forged record with a correct content hash and a correct chain hash for its
    # place; the rows after it are renumbered to make room.
    position = rng.randrange(1, len(rows) + 2)
    model = rng.choice([r for r in rows if r[12] is None])
    cursor.execute(f"SELECT lookup, kind FROM subjects WHERE subject_key = {mark}", (model[1],))
    lookup, subject_kind = cursor.fetchone()
    attrs = orjson.loads(model[6])
    forged = Record(
        model[2], f"forged-{rng.randrange(10**9)}", model[4], model[5], attrs, None, None
    )
    digest = content_hash(forged, subject_lookup=bytes(lookup), kind=subject_kind)
    before = [r for r in rows if r[0] < position]
    prev = before[-1][11] if before else bytes(32)
    seq = position
    chain = link(
        prev,
        seq,
        model[1],
        forged.provider,
        forged.provider_event_id,
        forged.type,
        forged.occurred_at,
        None,
        digest,
        model[10],
    )
    if position <= len(rows):
        cursor.execute(f"UPDATE records SET seq = -seq WHERE seq >= {mark}", (position,))
        cursor.execute("UPDATE records SET seq = 1 - seq WHERE seq < 0")
    cursor.execute(
        "INSERT INTO records (seq, subject_key, provider, provider_event_id, type, occurred_at, "
        "attributes, evidence, retracts, content_hash, ingested_at, chain_hash) VALUES "
        f"({', '.join([mark] * 12)})",
        (
            seq,
            model[1],
            forged.provider,
            forged.provider_event_id,
            forged.type,
            forged.occurred_at,
            model[6],
            None,
            None,
            digest,
            model[10],
            chain,
        ),
    )
    return f"insert at seq {seq}"
