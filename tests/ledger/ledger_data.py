"""Builders for subjects and records in ledger tests: real keys, canonical content hashes."""

from __future__ import annotations

from typing import Any

from credence.canonical import content_hash
from credence.crypto import KeyRing
from credence.ledger import NewRecord, NewSubject, Store
from credence.types import Record

KEYS = KeyRing(bytes(range(32)))
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def subject(identifier: str, *, scheme: str = "custom", kind: str = "person") -> NewSubject:
    """A new subject as ingest builds it: a keyed lookup hash and the sealed identifier."""
    sealed, wrapped = KEYS.seal(identifier)
    return NewSubject(KEYS.lookup(scheme, identifier), kind, scheme, sealed, wrapped)


def record(
    lookup: bytes,
    event_id: str,
    *,
    provider: str = "bank-a",
    event_type: str = "bill.paid",
    occurred_at: int = T0,
    attributes: dict[str, Any] | None = None,
    retracts: str | None = None,
    evidence: str | None = None,
    kind: str = "person",
) -> NewRecord:
    """A record for the subject with ``lookup``, hashed over its canonical content."""
    rec = Record(
        provider=provider,
        provider_event_id=event_id,
        type=event_type,
        occurred_at=occurred_at,
        attributes=attributes or {},
        retracts=retracts,
        evidence=evidence,
    )
    return NewRecord(lookup, rec, content_hash(rec, subject_lookup=lookup, kind=kind))


def batch(
    n: int, *, subjects: int = 10, prefix: str = "e", offset: int = 0
) -> tuple[list[NewSubject], list[NewRecord]]:
    """``n`` records over ``subjects`` subjects, event ids ``prefix{offset..offset+n}``."""
    people = [subject(f"person-{i}") for i in range(subjects)]
    records = [
        record(
            people[i % subjects].lookup,
            f"{prefix}{i}",
            occurred_at=T0 + (i % 97) * 1_000_000,
            attributes={"days_late": i % 40, "amount": i * 1.25, "autopay": i % 2 == 0},
        )
        for i in range(offset, offset + n)
    ]
    return people, records


def append_in_chunks(
    store: Store, people: list[NewSubject], records: list[NewRecord], *, size: int
) -> tuple[int, int]:
    """Append ``records`` in chunks of ``size`` (conflict-free): ``(inserted, unchanged)``."""
    inserted = unchanged = 0
    for start in range(0, len(records), size):
        result = store.append(people, records[start : start + size], ingested_at=T0)
        inserted += result.inserted
        unchanged += len(result.unchanged)
        assert result.conflicts == []
    return inserted, unchanged
