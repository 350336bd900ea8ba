"""A fresh ledger with the consumer-trust policy, on each backend, and record-file helpers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from credence.clock import FixedClock
from credence.crypto import KeyRing
from credence.ledger import StoredPolicy, open_store
from credence.service.ledger import Ledger
from credence.settings import load_settings
from credence.types import parse_time

ROOT = Path(__file__).parents[2]
POLICY = ROOT / "examples" / "policies" / "consumer-trust.yaml"
NOW = parse_time("2026-11-26T00:00:00Z")


def new_ledger(url: str, *, batch_size: int = 10_000, ingest_worker: str = "auto") -> Ledger:
    """A migrated ledger at ``url`` with the consumer-trust policy active."""
    store = open_store(url)
    store.migrate()
    text = POLICY.read_text(encoding="utf-8")
    store.add_policy(StoredPolicy("consumer-trust", "2026.11.1", "test", text, NOW))
    settings = load_settings({}, db=url, batch_size=batch_size, ingest_worker=ingest_worker)
    return Ledger(
        store=store, keys=KeyRing(os.urandom(32)), settings=settings, clock=FixedClock(NOW)
    )


@pytest.fixture(params=["memory", "sqlite", "sqlite+worker", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A fresh ledger on each backend (memory, SQLite, PostgreSQL when configured), and on
    SQLite with ingest appending through a worker process (tests/ingest/test_worker.py
    runs the worker on PostgreSQL too)."""
    backend, _, worker = str(request.param).partition("+")
    if backend == "memory":
        url = "memory:"
    elif backend == "sqlite":
        url = str(tmp_path / "ledger.db")
    else:
        url = str(request.getfixturevalue("postgres_url"))
    # Small batches: rows cross batch edges, and several batches are in flight at once.
    opened = new_ledger(url, batch_size=3, ingest_worker="on" if worker else "off")
    try:
        yield opened
    finally:
        opened.store.close()


def bill(event_id: str = "b-1", **changes: Any) -> dict[str, Any]:
    """A valid bill.paid record, with fields changed or (value None) removed."""
    row: dict[str, Any] = {
        "provider": "bank-a",
        "provider_event_id": event_id,
        "subject_scheme": "custom",
        "subject_id": "alice",
        "subject_kind": "person",
        "type": "bill.paid",
        "occurred_at": "2026-03-01T09:30:00Z",
        "attributes": {"days_late": 0, "amount": 120.5},
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    """One JSON value per line (a str is written as the raw line)."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def read_rejects(path: Path) -> list[dict[str, Any]]:
    """The rejects file of an input, parsed."""
    target = path.with_name(path.name + ".rejects.jsonl")
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]


def stored(ledger: Ledger) -> dict[bytes, list[tuple[Any, ...]]]:
    """Everything in the ledger as plain values: per subject lookup, its records."""
    out: dict[bytes, list[tuple[Any, ...]]] = {}
    for row, records in ledger.store.subjects_with_records():
        out[row.lookup] = sorted(
            (
                r.provider,
                r.provider_event_id,
                r.type,
                r.occurred_at,
                tuple(sorted(r.attributes.items())),
                r.retracts,
                r.evidence,
                row.kind,
            )
            for r in records
        )
    return out
