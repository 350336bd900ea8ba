"""A synthetic population for the consumer-trust policy: clearly labelled, reproducible.

Every subject is ``custom:synthetic-person-NNNNN``, every record's
``provider_event_id`` starts with ``synthetic-`` and its evidence is
``synthetic://credence``, so no synthetic record can pass for a real one.
Each person has a hidden reliability that drives how often they pay late,
damage rentals or default; the result spans every tier.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from credence.types import DAY_US, format_time

EVIDENCE = "synthetic://credence"
MONTH_US = 30 * DAY_US


def _late_days(rng: random.Random, reliability: float, *, worst: int) -> int:
    if rng.random() < reliability:
        return 0 if rng.random() < 0.9 else -rng.randint(1, 5)  # early payers too
    return min(worst, int(rng.expovariate(1 / 12)) + 1)


class _Person:
    def __init__(self, index: int, rng: random.Random) -> None:
        self.index = index
        self.id = f"synthetic-person-{index:05d}"
        self.reliability = rng.betavariate(6, 1.4)
        self.banked = rng.random() < 0.92
        self.renter = rng.random() < 0.6
        self.rental_rate = rng.choice((0, 0, 2, 4, 8))  # rentals a year
        self.verified = rng.random() < 0.8
        self.months = rng.randint(12, 48)  # how long the person has been known
        self.count = 0

    def row(self, provider: str, kind: str, at: int, attributes: dict[str, Any]) -> dict[str, Any]:
        self.count += 1
        return {
            "provider": provider,
            "provider_event_id": f"synthetic-{self.index:05d}-{self.count:04d}",
            "subject_scheme": "custom",
            "subject_id": self.id,
            "subject_kind": "person",
            "type": kind,
            "occurred_at": format_time(at),
            "attributes": attributes,
            "evidence": EVIDENCE,
        }


def population(*, subjects: int, seed: int, until: int) -> Iterator[dict[str, Any]]:
    """Interchange-format rows for ``subjects`` synthetic people, ending at ``until`` (epoch µs)."""
    rng = random.Random(seed)
    for index in range(1, subjects + 1):
        person = _Person(index, rng)
        yield from _history(person, rng, until)


def _history(p: _Person, rng: random.Random, until: int) -> Iterator[dict[str, Any]]:
    start = until - p.months * MONTH_US
    if p.verified:
        yield p.row(
            "id-check",
            "identity.verified",
            start + rng.randint(0, 20) * DAY_US,
            {"method": "passport"},
        )
    for month in range(p.months):
        base = start + month * MONTH_US
        for provider in ("city-utilities", "bank-a") if p.banked else ("city-utilities",):
            at = base + rng.randint(0, 27) * DAY_US + rng.randint(0, 86_399) * 1_000_000
            late = _late_days(rng, p.reliability, worst=120)
            amount = round(rng.uniform(20, 400), 2)
            yield p.row(provider, "bill.paid", at, {"days_late": late, "amount": amount})
        if p.renter:
            at = base + rng.randint(0, 4) * DAY_US + 9 * 3_600_000_000
            late = _late_days(rng, p.reliability, worst=60)
            yield p.row("homes-marketplace", "rent.paid", at, {"days_late": late, "amount": 1200.0})
        if p.rental_rate and rng.random() < p.rental_rate / 12:
            at = base + rng.randint(0, 27) * DAY_US
            careless = 1 - p.reliability
            yield p.row(
                "rent-it",
                "rental.returned",
                at,
                {
                    "days_late": _late_days(rng, p.reliability, worst=14),
                    "damaged": rng.random() < careless * 0.6,
                },
            )
        if p.banked and month and month % 12 == 0:
            yield p.row("bank-a", "account.anniversary", base, {"years": month // 12})
    if p.banked and rng.random() < (1 - p.reliability) * 0.5:
        at = until - rng.randint(10, 700) * DAY_US
        if at > start:
            yield p.row(
                "bank-a", "loan.defaulted", at, {"amount": round(rng.uniform(500, 9000), 2)}
            )
