"""Small builders for engine tests: a policy from a dict, records from tuples."""

from __future__ import annotations

from typing import Any

import yaml

from credence.engine import CompiledPolicy, compile_policy
from credence.policy import parse_policy
from credence.types import Record, parse_time

BASE: dict[str, Any] = {
    "credence": 1,
    "name": "test",
    "version": "1",
    "purpose": "Tests.",
    "scale": {"base": 500, "min": 0, "max": 1000},
    "event_types": [
        {
            "id": "bill.paid",
            "context": "lending",
            "attributes": {"days_late": "integer", "amount": "number"},
            "providers": ["p"],
        }
    ],
    "tiers": [{"id": "high", "min": 700}, {"id": "mid", "min": 400}, {"id": "low", "min": 0}],
}


def policy(rules: list[dict[str, Any]], **overrides: Any) -> CompiledPolicy:
    """A compiled policy with the base sections and these rules."""
    data = {**BASE, "rules": rules, **overrides}
    return compile_policy(parse_policy(yaml.safe_dump(data, sort_keys=False)).policy)


def rec(
    pid: str,
    at: str,
    *,
    days_late: int = 0,
    amount: float = 10.0,
    provider: str = "p",
    kind: str = "bill.paid",
    retracts: str | None = None,
) -> Record:
    """A bill.paid record at an RFC 3339 time (a bare date is midnight UTC)."""
    return Record(
        provider, pid, kind, parse_time(at), {"days_late": days_late, "amount": amount}, retracts
    )


def t(text: str) -> int:
    return parse_time(text)
