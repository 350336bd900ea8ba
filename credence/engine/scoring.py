"""The score of one subject as of a time: a fold over its frozen records.

This is DESIGN.md "Scoring semantics" steps 1-8, exactly; the batch plan
implements the same steps in SQL and a property test holds the two together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from credence.engine.compiled import (
    CAP_DAY,
    CAP_MONTH,
    CompiledPolicy,
    CompiledRule,
    month_of_day,
)
from credence.engine.entitlements import list_memberships
from credence.types import DAY_US, MICROS, Record


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one considered record did: its rule, raw, capped and current points.

    ``value`` is in dimension units (before the dimension's weight), after
    expiry and decay; ``expired`` records keep their capped points for the record.
    """

    record: Record
    rule: CompiledRule
    raw: float
    capped: float
    value: float
    expires_at: int | None

    @property
    def expired(self) -> bool:
        """Whether the record has stopped counting because of its rule's expiry."""
        return self.expires_at is not None and self.value == 0.0 and self.capped != 0.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """A subject's score as of ``as_of``: the numbers and every contribution behind them."""

    as_of: int
    score: int
    raw: float  # clamped to the scale, before rounding
    tier: str | None
    tier_rank: int  # index into the policy's tiers, highest first; len(tiers) for none
    dimensions: dict[str, float]  # clamped dimension values, including "general"
    contributions: tuple[Contribution, ...]
    considered: int  # records of step 1 (occurred by as_of, not withdrawn)
    lists: frozenset[str]


def round_half_up(value: float) -> int:
    """Round half up, after snapping to 1e-9 so 0.1-style binary error cannot tip a .5."""
    return math.floor(round(value, 9) + 0.5)


def considered_records(records: Iterable[Record], as_of: int) -> list[Record]:
    """Step 1: records that occurred by ``as_of`` and are not withdrawn, in count order.

    A retraction withdraws the record of the same provider it names at every
    time, and scores nothing itself.
    """
    records = records if isinstance(records, Sequence) else list(records)
    withdrawn = {(r.provider, r.retracts) for r in records if r.retracts is not None}
    kept = [
        r
        for r in records
        if r.retracts is None
        and r.occurred_at <= as_of
        and (not withdrawn or (r.provider, r.provider_event_id) not in withdrawn)
    ]
    if any(kept[i].order > kept[i + 1].order for i in range(len(kept) - 1)):
        kept.sort(key=_order)
    return kept


def _order(record: Record) -> tuple[int, str, str]:
    return (record.occurred_at, record.provider, record.provider_event_id)


def _first_match(rules: tuple[CompiledRule, ...], record: Record) -> CompiledRule | None:
    attrs = record.attributes
    for rule in rules:
        if rule.matcher is None or rule.matcher(attrs):
            return rule
    return None


def _period(rule: CompiledRule, occurred_at: int) -> int:
    day = occurred_at // DAY_US
    if rule.cap_period == CAP_DAY:
        return day
    month = month_of_day(day)
    return month if rule.cap_period == CAP_MONTH else month // 12


def _clamp(value: float, low: float | None, high: float | None) -> float:
    if low is not None and value < low:
        return low
    if high is not None and value > high:
        return high
    return value


def score(
    policy: CompiledPolicy,
    records: Iterable[Record],
    *,
    as_of: int,
    subject_kind: str | None = None,
) -> Outcome:
    """Score one subject's records as of ``as_of`` (epoch microseconds, UTC).

    ``subject_kind`` (person or organization) decides which lists can hold the
    subject; without it, every list's condition is tested.
    """
    kept = considered_records(records, as_of)
    rules_by_type = policy.rules_by_type
    sums = [0.0] * len(policy.dimension_ids)
    cap_used: dict[tuple[int, int], float] = {}
    contributions: list[Contribution] = []
    for record in kept:
        rules = rules_by_type.get(record.type)
        if rules is None:
            continue
        rule = _first_match(rules, record)
        if rule is None:
            continue
        if rule.per is None:
            raw = rule.points
        else:
            factor = record.attributes.get(rule.per)
            raw = rule.points * float(factor) if factor is not None else 0.0
        capped = raw
        if rule.cap is not None:
            # Period total is clamped to [-C, C]; a record gets its step of the clamped prefix sum.
            key = (rule.index, _period(rule, record.occurred_at))
            before = cap_used.get(key, 0.0)
            after = before + raw
            cap_used[key] = after
            limit = rule.cap
            capped = max(-limit, min(limit, after)) - max(-limit, min(limit, before))
        age = as_of - record.occurred_at
        expires_at = None
        if rule.expires_us is not None:
            expires_at = record.occurred_at + rule.expires_us
            if age >= rule.expires_us:
                contributions.append(Contribution(record, rule, raw, capped, 0.0, expires_at))
                continue
        value = capped
        if rule.half_life_s is not None:
            value = capped * 0.5 ** ((age / MICROS) / rule.half_life_s)
        sums[rule.dimension] += value
        contributions.append(Contribution(record, rule, raw, capped, value, expires_at))
    return _finish(policy, sums, tuple(contributions), len(kept), as_of, subject_kind)


def _finish(
    policy: CompiledPolicy,
    sums: list[float],
    contributions: tuple[Contribution, ...],
    considered: int,
    as_of: int,
    subject_kind: str | None,
) -> Outcome:
    dimensions: dict[str, float] = {}
    total = policy.base
    for i, dim_id in enumerate(policy.dimension_ids):
        value = _clamp(sums[i], policy.lower[i], policy.upper[i])
        dimensions[dim_id] = value
        total += policy.weights[i] * value
    raw = _clamp(total, policy.min, policy.max)
    final = round_half_up(raw)
    rank = len(policy.tier_mins)
    for i, minimum in enumerate(policy.tier_mins):
        if minimum <= final:
            rank = i
            break
    tier = policy.tier_ids[rank] if rank < len(policy.tier_ids) else None
    outcome = Outcome(
        as_of=as_of,
        score=final,
        raw=raw,
        tier=tier,
        tier_rank=rank,
        dimensions=dimensions,
        contributions=contributions,
        considered=considered,
        lists=frozenset(),
    )
    if policy.lists:
        lists = list_memberships(policy, final, rank, dimensions, subject_kind=subject_kind)
        return replace(outcome, lists=lists)
    return outcome
