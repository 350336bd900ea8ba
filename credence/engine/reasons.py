"""Reasons behind an outcome and what would change it (DESIGN.md step 10).

Points here are in score units: a record's current value times its
dimension's weight, before the dimension's bounds (a bounded dimension may
absorb part of them; the explanation says so).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass

from credence.engine.compiled import CompiledPolicy
from credence.engine.scoring import EARLY, Contribution, Outcome
from credence.policy.model import EntitlementCondition
from credence.types import format_date

MAX_FACTORS = 4


@dataclass(frozen=True, slots=True)
class Reason:
    """One key factor: a rule, its plain-language text, and its summed points."""

    code: str
    text: str
    points: float
    records: int


@dataclass(frozen=True, slots=True)
class Change:
    """Something that would change the outcome: an expiry, or a points gap."""

    kind: str  # "expiry" | "tier" | "threshold"
    text: str
    points: float
    at: int | None = None


def weighted(policy: CompiledPolicy, contribution: Contribution) -> float:
    """A contribution's current value in score units."""
    return contribution.value * policy.weights[contribution.rule.dimension]


def key_factors(
    policy: CompiledPolicy, outcome: Outcome, *, direction: int, limit: int = MAX_FACTORS
) -> list[Reason]:
    """The rules that moved the score most in ``direction`` (-1 down, +1 up), largest first."""
    totals: dict[str, list[float]] = {}
    texts: dict[str, str] = {}
    for rule, (up, up_n, down, down_n) in zip(policy.rules, outcome.by_rule, strict=True):
        points, count = (up, up_n) if direction > 0 else (down, down_n)
        if count:
            totals[rule.id] = [points * policy.weights[rule.dimension], count]
            texts[rule.id] = rule.reason
    ranked = sorted(totals.items(), key=lambda kv: (-abs(kv[1][0]), kv[0]))
    return [Reason(code, texts[code], points, int(n)) for code, (points, n) in ranked[:limit]]


def expiring_soonest(
    policy: CompiledPolicy, outcome: Outcome, *, direction: int, limit: int = 3
) -> list[Change]:
    """Counting records in ``direction`` that expire soonest, with their current points."""
    weights = policy.weights
    # Indexing the named tuple (c[4] is value, c[5] expires_at) keeps this scan cheap.
    if all(w > 0 for w in weights) and limit <= EARLY:
        # With positive weights the sign of a record's value is the sign of its points, and
        # the soonest expiring are among each rule's first EARLY records: no scan needed.
        positions = outcome.early[0 if direction > 0 else 1]
        candidates = [outcome.contributions[j] for j in positions]
    elif all(w > 0 for w in weights):
        candidates = [c for c in outcome.contributions if c[5] is not None and c[4] * direction > 0]
    else:
        candidates = [
            c
            for c in outcome.contributions
            if c[5] is not None and c[4] * weights[c[1].dimension] * direction > 0
        ]
    pending = heapq.nsmallest(limit, candidates, key=lambda c: (c.expires_at, c.record.order))
    changes = []
    for c in pending:
        points = weighted(policy, c)
        assert c.expires_at is not None
        effect = "rises" if points < 0 else "falls"
        changes.append(
            Change(
                "expiry",
                f"{c.rule.reason} ({c.record.provider}/{c.record.provider_event_id}, "
                f"{points:+.1f} now) expires on {format_date(c.expires_at)}; the score {effect}",
                -points,
                c.expires_at,
            )
        )
    return changes


def next_tier(policy: CompiledPolicy, outcome: Outcome) -> Change | None:
    """Points needed to reach the next tier up, if there is one."""
    if outcome.tier_rank == 0 or not policy.tier_ids:
        return None
    target = outcome.tier_rank - 1
    minimum = policy.tier_mins[target]
    needed = _points_to_reach(outcome.raw, minimum)
    return Change(
        "tier",
        f"{needed:g} more points reach tier {policy.tier_ids[target]!r} (from {minimum:g})",
        needed,
    )


def _points_to_reach(raw: float, target: float) -> float:
    """Whole points to add so the rounded score reaches ``target``."""
    return max(0.0, math.ceil(target - 0.5 - raw + 1e-9))


def condition_gaps(
    policy: CompiledPolicy, condition: EntitlementCondition, outcome: Outcome
) -> Iterator[Change]:
    """For each leaf of a condition, how far the outcome is from flipping it."""
    c = condition
    for child in (c.all or []) + (c.any or []):
        yield from condition_gaps(policy, child, outcome)
    if c.tier_at_least is not None:
        index = policy.tier_ids.index(c.tier_at_least)
        if outcome.tier_rank > index:
            needed = _points_to_reach(outcome.raw, policy.tier_mins[index])
            yield Change(
                "threshold", f"{needed:g} more points reach tier {c.tier_at_least!r}", needed
            )
    if c.score_at_least is not None and outcome.score < c.score_at_least:
        needed = _points_to_reach(outcome.raw, c.score_at_least)
        yield Change(
            "threshold", f"{needed:g} more points reach a score of {c.score_at_least:g}", needed
        )
    if c.score_below is not None and outcome.score < c.score_below:
        needed = _points_to_reach(outcome.raw, c.score_below)
        yield Change(
            "threshold",
            f"{needed:g} more points lift the score to {c.score_below:g} or above",
            needed,
        )
    if c.dimension is not None:
        value = outcome.dimensions.get(c.dimension, 0.0)
        if c.below is not None and value < c.below:
            yield Change(
                "threshold",
                f"{c.below - value:.1f} more points in {c.dimension!r} lift it to {c.below:g}",
                c.below - value,
            )
        if c.at_least is not None and value < c.at_least:
            yield Change(
                "threshold",
                f"{c.at_least - value:.1f} more points in {c.dimension!r} reach {c.at_least:g}",
                c.at_least - value,
            )
