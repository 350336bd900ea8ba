"""A backtest: every subject under the active policy and a candidate, and what would change.

``compare`` turns two runs over the same records into the report: the tier
migration matrix, the distribution of score changes, each entitlement's
outcomes before and after, each rule's total contribution before and after,
and the subjects the candidate would harm (a benefit lost, a restriction
gained, or a lower tier). ``backtest`` is the use case over an open ledger.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from credence.engine import CompiledPolicy
from credence.lab.runs import (
    ABSENT,
    PolicyRun,
    SubjectOutcome,
    ledger_records,
    run_policies,
    subject_kinds,
    worse,
)
from credence.service.ledger import Ledger
from credence.types import format_time

NO_TIER = "(none)"
HISTOGRAM_BINS = 30


@dataclass(frozen=True, slots=True)
class Comparison:
    """What a backtest found; ``report`` is the JSON-ready summary written to report.json."""

    report: dict[str, Any]
    harmed: frozenset[int] = field(repr=False)  # subject keys the candidate would harm
    harms: dict[int, tuple[str, ...]] = field(repr=False)  # subject key -> what worsens
    runs: tuple[PolicyRun, PolicyRun] = field(repr=False)


def _tier(outcome: SubjectOutcome | None) -> str:
    return NO_TIER if outcome is None or outcome.tier is None else outcome.tier


def _tier_order(policy: CompiledPolicy, seen: set[str]) -> list[str]:
    order = list(policy.tier_ids)
    return order + sorted(t for t in seen if t not in order)


def _rank(policy: CompiledPolicy, tier: str) -> int:
    ids = policy.tier_ids
    return ids.index(tier) if tier in ids else len(ids)


def histogram(values: list[int], *, bins: int = HISTOGRAM_BINS) -> dict[str, list[float]]:
    """Counts of ``values`` in equal bins ``[edge_i, edge_i+1)``, the last one closed.

    Integer changes get bins of whole points, so 0 ("no change") has a bin of its own.
    """
    if not values:
        return {"edges": [], "counts": []}
    low, high = min(values), max(values)
    width = max(1, math.ceil((high - low + 1) / bins))
    edges = [float(low + i * width) for i in range(math.ceil((high - low + 1) / width) + 1)]
    counts = [0] * (len(edges) - 1)
    for v in values:
        counts[min((v - low) // width, len(counts) - 1)] += 1
    return {"edges": edges, "counts": [float(c) for c in counts]}


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return 0.0
    mid = n // 2
    return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _entitlement_kinds(policy: CompiledPolicy) -> dict[str, str]:
    return {e.id: e.kind.value for e in policy.policy.entitlements}


def _change(before: float | None, after: float | None) -> float:
    # Totals agree within 1e-6 however the sum was ordered (DESIGN.md, floating point).
    delta = (after or 0.0) - (before or 0.0)
    return 0.0 if abs(delta) < 1e-6 else delta


def compare(before: PolicyRun, after: PolicyRun, *, as_of: int) -> Comparison:
    """The backtest report of ``after`` against ``before``, two runs over the same records."""
    keys = sorted(set(before.subjects) | set(after.subjects))
    n = len(keys)
    old_p, new_p = before.policy, after.policy
    rows = _tier_order(old_p, {_tier(before.subjects.get(k)) for k in keys})
    columns = _tier_order(new_p, {_tier(after.subjects.get(k)) for k in keys})
    matrix = [[0] * len(columns) for _ in rows]
    changes: list[int] = []
    ent_ids = list(dict.fromkeys([*_entitlement_kinds(old_p), *_entitlement_kinds(new_p)]))
    tally: dict[str, tuple[Counter[str], Counter[str]]] = {
        e: (Counter(), Counter()) for e in ent_ids
    }
    adverse: Counter[str] = Counter()
    relieved: Counter[str] = Counter()
    harms: dict[int, tuple[str, ...]] = {}
    tier_lowered = 0
    entitlement_harmed = 0
    for key in keys:
        b, a = before.subjects.get(key), after.subjects.get(key)
        tb, ta = _tier(b), _tier(a)
        matrix[rows.index(tb)][columns.index(ta)] += 1
        changes.append((a.score if a else 0) - (b.score if b else 0))
        what: list[str] = []
        if _rank(new_p, ta) > _rank(new_p, tb) and tb in new_p.tier_ids + (NO_TIER,):
            what.append(f"tier {tb} -> {ta}")
            tier_lowered += 1
        hit = False
        for e in ent_ids:
            ob = b.outcomes.get(e, ABSENT) if b else ABSENT
            oa = a.outcomes.get(e, ABSENT) if a else ABSENT
            tally[e][0][ob] += 1
            tally[e][1][oa] += 1
            if worse(ob, oa):
                adverse[e] += 1
                what.append(f"{e}: {ob} -> {oa}")
                hit = True
            elif worse(oa, ob):
                relieved[e] += 1
        entitlement_harmed += hit
        if what:
            harms[key] = tuple(what)
    old_kinds, new_kinds = _entitlement_kinds(old_p), _entitlement_kinds(new_p)
    entitlements = [
        {
            "id": e,
            "kind_before": old_kinds.get(e, ABSENT),
            "kind_after": new_kinds.get(e, ABSENT),
            "before": dict(sorted(tally[e][0].items())),
            "after": dict(sorted(tally[e][1].items())),
            "newly_adverse": adverse[e],
            "newly_favourable": relieved[e],
        }
        for e in ent_ids
    ]
    rule_ids = list(dict.fromkeys([*before.rule_totals, *after.rule_totals]))
    rules = [
        {
            "id": r,
            "before": before.rule_totals.get(r),
            "after": after.rule_totals.get(r),
            "change": _change(before.rule_totals.get(r), after.rule_totals.get(r)),
        }
        for r in rule_ids
    ]
    count_before = Counter(_tier(before.subjects.get(k)) for k in keys)
    count_after = Counter(_tier(after.subjects.get(k)) for k in keys)
    report: dict[str, Any] = {
        "active": {"name": old_p.policy.name, "version": old_p.policy.version},
        "candidate": {"name": new_p.policy.name, "version": new_p.policy.version},
        "as_of": format_time(as_of),
        "subjects": n,
        "tiers": {
            "before": [[t, count_before.get(t, 0)] for t in rows],
            "after": [[t, count_after.get(t, 0)] for t in columns],
        },
        "migration": {"rows": rows, "columns": columns, "counts": matrix},
        "score_change": {
            "mean": (sum(changes) / n) if n else 0.0,
            "median": _median(changes),
            "min": min(changes, default=0),
            "max": max(changes, default=0),
            "raised": sum(c > 0 for c in changes),
            "lowered": sum(c < 0 for c in changes),
            "unchanged": sum(c == 0 for c in changes),
            "histogram": histogram(changes),
        },
        "entitlements": entitlements,
        "rules": rules,
        "harmed": {
            "subjects": len(harms),
            "by_entitlement": entitlement_harmed,
            "tier_lowered": tier_lowered,
        },
    }
    return Comparison(report, frozenset(harms), harms, (before, after))


def backtest(
    ledger: Ledger,
    candidate: CompiledPolicy,
    *,
    as_of: int,
    active: CompiledPolicy | None = None,
    scratch: Path | None = None,
) -> Comparison:
    """Score every subject under the active policy and ``candidate`` in one batch run.

    Raises:
        PlanError: when either policy cannot be run as a batch plan.
        StoreUnavailable, InputFileError: when the records cannot be read.
    """
    current = active or ledger.policy
    from credence.lab.runs import union_attributes

    attributes = union_attributes([current, candidate])
    kinds = subject_kinds(ledger)
    with ledger_records(ledger, attributes, scratch=scratch) as source:
        before, after = run_policies([current, candidate], source, as_of=as_of, kinds=kinds)
    return compare(before, after, as_of=as_of)
