"""A small ledger with everything verification must handle: retractions, evidence,
purged records and an erased subject; and the policy the purge tests run under."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from credence.canonical import content_hash
from credence.clock import FixedClock
from credence.crypto import KeyRing
from credence.ledger import NewRecord, NewSubject, Store
from credence.service.ledger import Ledger, open_ledger
from credence.settings import Settings, load_settings
from credence.types import DAY_US, Record

MASTER = bytes(range(32))
KEYS = KeyRing(MASTER)
T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z

POLICY: dict[str, Any] = {
    "credence": 1,
    "name": "purge-test",
    "version": "1",
    "purpose": "Tests of purging.",
    "scale": {"base": 500, "min": 0, "max": 1000},
    "event_types": [
        {
            "id": "bill.paid",
            "context": "lending",
            "attributes": {"days_late": "integer", "amount": "number", "note": "string"},
            "providers": ["bank-a", "city"],
        },
        {"id": "loan.defaulted", "context": "lending", "attributes": {}, "providers": ["bank-a"]},
        {"id": "debt.settled", "context": "lending", "attributes": {}, "providers": ["bank-a"]},
        {
            "id": "identity.verified",
            "context": "lending",
            "attributes": {},
            "providers": ["bank-a"],
        },
    ],
    "rules": [
        {
            "id": "on_time",
            "type": "bill.paid",
            "when": [{"attr": "days_late", "op": "<=", "value": 0}],
            "points": 4,
            "expires_after": "90d",
            "cap": {"points": 10, "per": "month"},
            "reason": "Bills paid on time",
        },
        {
            "id": "late",
            "type": "bill.paid",
            "when": [{"attr": "days_late", "op": ">", "value": 30}],
            "points": -0.5,
            "per": "days_late",
            "expires_after": "180d",
            "reason": "Late bills",
        },
        {
            "id": "defaulted",
            "type": "loan.defaulted",
            "points": -60,
            "expires_after": "1y",
            "cured_by": "debt.settled",
            "min_period": "30d",
            "reason": "Loan default",
        },
        {
            "id": "settled",
            "type": "debt.settled",
            "points": 5,
            "expires_after": "60d",
            "reason": "Debt settled",
        },
        {"id": "verified", "type": "identity.verified", "points": 20, "reason": "Identity checked"},
    ],
    "tiers": [{"id": "high", "min": 600}, {"id": "mid", "min": 400}, {"id": "low", "min": 0}],
}
POLICY_TEXT = yaml.safe_dump(POLICY, sort_keys=False)


def settings(db: str) -> Settings:
    """Settings for a ledger at ``db`` with the test master key."""
    return load_settings({}, db=db, master_key=base64.b64encode(MASTER).decode())


def subject(identifier: str, *, scheme: str = "custom", kind: str = "person") -> NewSubject:
    sealed, wrapped = KEYS.seal(identifier)
    return NewSubject(KEYS.lookup(scheme, identifier), kind, scheme, sealed, wrapped)


def new_record(who: NewSubject, record: Record) -> NewRecord:
    return NewRecord(
        who.lookup, record, content_hash(record, subject_lookup=who.lookup, kind=who.kind)
    )


def random_records(
    rng: random.Random, people: list[NewSubject], n: int, *, span_days: int = 700
) -> list[NewRecord]:
    """``n`` records of every type over ``span_days``, with some retractions and evidence."""
    out: list[NewRecord] = []
    for i in range(n):
        who = rng.choice(people)
        at = T0 + rng.randrange(span_days * DAY_US)
        kind = rng.choices(
            ["bill.paid", "loan.defaulted", "debt.settled", "identity.verified"], [8, 2, 2, 1]
        )[0]
        attrs: dict[str, Any] = {}
        if kind == "bill.paid":
            attrs = {
                "days_late": rng.choice([0, 0, 0, 5, 45, 90]),
                "amount": rng.randrange(1, 500) / 4,
            }
        provider = "city" if kind == "bill.paid" and i % 2 else "bank-a"
        evidence = f"sha256:{i:064x}" if i % 3 == 0 else None
        out.append(new_record(who, Record(provider, f"e{i}", kind, at, attrs, None, evidence)))
    for j, target in enumerate(rng.sample(out, max(1, n // 15))):
        r = target.record
        who = next(p for p in people if p.lookup == target.subject_lookup)
        withdrawal = Record(
            r.provider, f"x{j}", r.type, r.occurred_at + DAY_US, {}, r.provider_event_id
        )
        out.append(new_record(who, withdrawal))
    return out


def fill(
    store: Store, *, seed: int = 5, subjects: int = 20, records: int = 150
) -> list[NewSubject]:
    """Append a random ledger in a few batches (one of them resent)."""
    rng = random.Random(seed)
    people = [subject(f"person-{i}") for i in range(subjects)]
    made = random_records(rng, people, records)
    for start in range(0, len(made), 40):
        store.append(people, made[start : start + 40], ingested_at=T0 + start)
    store.append(people, made[:40], ingested_at=T0 + 999)  # a resend changes nothing
    return people


@contextmanager
def opened(url: str, *, now: int | None = None) -> Iterator[Ledger]:
    """The open ledger at ``url`` (test key), its clock fixed at ``now`` if given."""
    clock = FixedClock(now) if now is not None else None
    with open_ledger(settings(url), clock=clock) as ledger:
        yield ledger
