"""The score of one subject as of a time: a fold over its frozen records.

This is DESIGN.md "Scoring semantics" steps 1-8, exactly; the batch plan
implements the same steps in SQL and a property test holds the two together.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from math import exp
from typing import Any, NamedTuple

from credence.engine.compiled import CompiledPolicy, CompiledRule, period_bounds
from credence.engine.entitlements import list_memberships
from credence.types import Record


class Contribution(NamedTuple):
    """What one considered record did: its rule, raw, capped and current points.

    ``value`` is in dimension units (before the dimension's weight), after
    expiry and decay; ``expired`` records keep their capped points for the record.
    (A named tuple: the fold builds one per record, and tuples are cheap.)
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
    # Per rule, in policy order: (sum raising, records raising, sum lowering, records lowering),
    # in dimension units after expiry and decay.
    by_rule: tuple[tuple[float, int, float, int], ...]
    # Positions in ``contributions`` of each rule's first EARLY counting records that expire,
    # raising and lowering: a rule's records expire in the order they occurred, so the
    # soonest-expiring records of the subject are among these (see reasons.expiring_soonest).
    early: tuple[tuple[int, ...], tuple[int, ...]]
    considered: int  # records of step 1 (occurred by as_of, not withdrawn)
    lists: frozenset[str]
    # base + the weighted sum of clamped dimensions, before the scale's clamp: what points
    # added to the score move (``raw`` is this clamped, so it cannot say how far a floor is).
    total: float
    sums: tuple[float, ...]  # dimension sums before their bounds, by policy.dimension_ids


EARLY = 3


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
    if withdrawn:
        kept = [
            r
            for r in records
            if r.retracts is None
            and r.occurred_at <= as_of
            and (r.provider, r.provider_event_id) not in withdrawn
        ]
    else:
        kept = [r for r in records if r.occurred_at <= as_of]
    if not _in_order(kept):
        kept.sort(key=_order)
    return kept


def _in_order(records: list[Record]) -> bool:
    previous = None
    for record in records:
        if (
            previous is not None
            and record.occurred_at <= previous.occurred_at
            and (record.occurred_at < previous.occurred_at or record.order < previous.order)
        ):
            return False
        previous = record
    return True


def _order(record: Record) -> tuple[int, str, str]:
    return (record.occurred_at, record.provider, record.provider_event_id)


def _cure_times(policy: CompiledPolicy, kept: list[Record]) -> dict[str, list[int]]:
    """Occurrence times of the records that can cure others, by type, ascending."""
    if not policy.cure_types:
        return {}
    times: dict[str, list[int]] = {}
    for record in kept:
        if record.type in policy.cure_types:
            times.setdefault(record.type, []).append(record.occurred_at)
    return times


def cured_at(times: list[int] | None, occurred: int, min_period_us: int) -> int | None:
    """When a record stops counting because of a cure: the first cure at or after it,
    but never before its minimum period has passed. None while uncured.

    ``times`` are the cure type's occurrence times, ascending.
    """
    if not times:
        return None
    index = bisect_left(times, occurred)
    if index == len(times):
        return None
    return max(times[index], occurred + min_period_us)


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
    n_rules = len(policy.rules)
    # Per rule: cap state (the current calendar period [start, end) and its prefix sum;
    # records arrive in count order, so a rule's period only moves forward), and totals
    # in dimension units for reasons (raised, raising records, lowered, lowering).
    fold = _Fold(
        sums=[0.0] * len(policy.dimension_ids),
        cap_start=[0] * n_rules,
        cap_end=[0] * n_rules,
        cap_sum=[0.0] * n_rules,
        up=[0.0] * n_rules,
        up_n=[0] * n_rules,
        down=[0.0] * n_rules,
        down_n=[0] * n_rules,
        early_up=[],
        early_down=[],
        contributions=[],
    )
    cures = _cure_times(policy, kept)
    # One pass per rule group (DESIGN.md "Rule groups"): each pass is a first-hit fold
    # over the same records with that group's matchers. Rules of different groups share
    # no state, so the passes add up; a policy without groups makes exactly one pass.
    for matchers in policy.passes:
        _fold(fold, kept, matchers, cures, as_of)
    up, up_n, down, down_n = fold.up, fold.up_n, fold.down, fold.down_n
    contributions = fold.contributions
    sums = fold.sums
    early_up, early_down = fold.early_up, fold.early_down
    by_rule = tuple(zip(up, up_n, down, down_n, strict=True))
    early = (tuple(early_up), tuple(early_down))
    return _finish(
        policy, sums, tuple(contributions), by_rule, early, len(kept), as_of, subject_kind
    )


@dataclass(slots=True)
class _Fold:
    """The running state of one subject's fold, shared by its passes."""

    sums: list[float]
    cap_start: list[int]
    cap_end: list[int]
    cap_sum: list[float]
    up: list[float]
    up_n: list[int]
    down: list[float]
    down_n: list[int]
    early_up: list[int]
    early_down: list[int]
    contributions: list[Contribution]


def _fold(
    fold: _Fold,
    kept: list[Record],
    matchers: dict[str, Callable[[Mapping[str, Any]], CompiledRule | None]],
    cures: dict[str, list[int]],
    as_of: int,
) -> None:
    """Steps 2-6 for one pass: each record's first hit among ``matchers``, into ``fold``."""
    # Locals, not attribute reads, in the loop: this is the online hot path (bench/online.py).
    sums, cap_start, cap_end, cap_sum = fold.sums, fold.cap_start, fold.cap_end, fold.cap_sum
    up, up_n, down, down_n = fold.up, fold.up_n, fold.down, fold.down_n
    early_up, early_down, contributions = fold.early_up, fold.early_down, fold.contributions
    append = contributions.append
    make = tuple.__new__  # builds the named tuple without its Python-level __new__
    for record in kept:
        match = matchers.get(record.type)
        if match is None:
            continue
        rule = match(record.attributes)
        if rule is None:
            continue
        i, points, per, limit, period, expires_us, decay_rate, dim = rule.step
        if per is None:
            raw = points
        else:
            factor = record.attributes.get(per)
            raw = points * float(factor) if factor is not None else 0.0
        capped = raw
        occurred = record.occurred_at
        if limit is not None:
            if occurred >= cap_end[i] or occurred < cap_start[i]:
                cap_start[i], cap_end[i] = period_bounds(period, occurred)
                cap_sum[i] = 0.0
            # The period's total is clamped to [-C, C]: each record gets its step of the
            # clamped prefix sum, so the crossing record is clipped and later ones get 0.
            before = cap_sum[i]
            after = before + raw
            cap_sum[i] = after
            if not (-limit <= before <= limit and -limit <= after <= limit):  # else: no clamp
                before = limit if before > limit else (-limit if before < -limit else before)
                capped = (
                    limit if after > limit else (-limit if after < -limit else after)
                ) - before
        age = as_of - occurred
        expires_at = None if expires_us is None else occurred + expires_us
        if cures and rule.cured_by is not None:
            cured = cured_at(cures.get(rule.cured_by), occurred, rule.min_period_us)
            if cured is not None and (expires_at is None or cured < expires_at):
                expires_at = cured
        if expires_at is not None and as_of >= expires_at:
            append(make(Contribution, (record, rule, raw, capped, 0.0, expires_at)))
            continue
        # 0.5 ** (age / half_life) as exp(-age * ln 2 / half_life): one multiply, one exp.
        value = capped if decay_rate is None else capped * exp(age * decay_rate)
        sums[dim] += value
        if value > 0.0:
            up[i] += value
            up_n[i] += 1
            if expires_at is not None and up_n[i] <= EARLY:
                early_up.append(len(contributions))
        elif value < 0.0:
            down[i] += value
            down_n[i] += 1
            if expires_at is not None and down_n[i] <= EARLY:
                early_down.append(len(contributions))
        append(make(Contribution, (record, rule, raw, capped, value, expires_at)))


def _finish(
    policy: CompiledPolicy,
    sums: list[float],
    contributions: tuple[Contribution, ...],
    by_rule: tuple[tuple[float, int, float, int], ...],
    early: tuple[tuple[int, ...], tuple[int, ...]],
    considered: int,
    as_of: int,
    subject_kind: str | None,
) -> Outcome:
    dimensions, total = combine(policy, sums)
    raw = _clamp(total, policy.min, policy.max)
    final = round_half_up(raw)
    rank = tier_rank(policy, final)
    tier = policy.tier_ids[rank] if rank < len(policy.tier_ids) else None
    outcome = Outcome(
        as_of=as_of,
        score=final,
        raw=raw,
        tier=tier,
        tier_rank=rank,
        dimensions=dimensions,
        contributions=contributions,
        by_rule=by_rule,
        early=early,
        considered=considered,
        lists=frozenset(),
        total=total,
        sums=tuple(sums),
    )
    if policy.lists:
        lists = list_memberships(policy, final, rank, dimensions, subject_kind=subject_kind)
        return replace(outcome, lists=lists)
    return outcome


def combine(policy: CompiledPolicy, sums: Sequence[float]) -> tuple[dict[str, float], float]:
    """Step 7 before the scale: clamped dimension values, and base + their weighted sum."""
    dimensions: dict[str, float] = {}
    total = policy.base
    for i, dim_id in enumerate(policy.dimension_ids):
        value = _clamp(sums[i], policy.lower[i], policy.upper[i])
        dimensions[dim_id] = value
        total += policy.weights[i] * value
    return dimensions, total


def score_of_sums(policy: CompiledPolicy, sums: Sequence[float]) -> int:
    """Step 7 from dimension sums to the score, in ``combine``'s order, without the dict."""
    total = policy.base
    for weight, low, high, value in zip(
        policy.weights, policy.lower, policy.upper, sums, strict=True
    ):
        # _clamp inlined: this runs for every moment rescored.
        if low is not None and value < low:
            value = low
        elif high is not None and value > high:
            value = high
        total += weight * value
    return round_half_up(_clamp(total, policy.min, policy.max))


def tier_rank(policy: CompiledPolicy, final: int) -> int:
    """Step 8: the index of the first tier whose min the score reaches; len(tiers) for none."""
    for i, minimum in enumerate(policy.tier_mins):
        if minimum <= final:
            return i
    return len(policy.tier_mins)


def clamp_dimension(policy: CompiledPolicy, index: int, value: float) -> float:
    """A dimension's sum clamped to its bounds (step 7)."""
    return _clamp(value, policy.lower[index], policy.upper[index])


def with_points(policy: CompiledPolicy, outcome: Outcome, *, dimension: int, points: float) -> int:
    """The score had ``points`` more counted in one dimension (its own units, before weight).

    Exactly what a new record adding ``points`` there, counted after the others, would
    give: the same bounds, weights, scale clamp and rounding as ``score``.
    """
    sums = list(outcome.sums)
    sums[dimension] += points
    return score_of_sums(policy, sums)


def scores_at(policy: CompiledPolicy, outcome: Outcome, times: Sequence[int]) -> list[int]:
    """The scores at later ``times`` of the records ``outcome`` considered, none added.

    Equal to ``score(records, as_of=t).score`` for each t >= ``outcome.as_of``
    when no record occurs after ``outcome.as_of``. Caps and cures were fixed
    by those records (steps 1-4), so only expiry and decay (steps 5-6) move:
    a rule's records all decay at its one rate, so its sum at t is its current
    sum, less the records expired by t, times 0.5^((t - as_of) / half-life).
    That reorders the additions of ``score`` (a few units in the last place,
    far inside the 1e-9 snap before rounding); a property test holds the two
    to the same scores.
    """
    as_of = outcome.as_of
    last = max(times, default=as_of)
    # The records counting now that stop counting by the last time asked about, soonest first.
    ending = [c for c in outcome.contributions if c[5] is not None and as_of < c[5] <= last]
    ending.sort(key=_expiry)
    rule_sums = [up + down for up, _, down, _ in outcome.by_rule]
    # Only rules with records counting now can add anything later.
    active = [(i, dim, rate) for i, (dim, rate) in enumerate(policy.rescore_steps) if rule_sums[i]]
    n_dims = len(policy.dimension_ids)
    scores: dict[int, int] = {}
    gone = 0
    for at in sorted(times):
        while gone < len(ending) and ending[gone][5] <= at:  # type: ignore[operator]
            c = ending[gone]
            rule_sums[c[1].index] -= c[4]
            gone += 1
        sums = [0.0] * n_dims
        delta = at - as_of
        for i, dim, rate in active:
            value = rule_sums[i]
            if value:
                sums[dim] += value if rate is None else value * exp(delta * rate)
        scores[at] = score_of_sums(policy, sums)
    return [scores[at] for at in times]


def _expiry(c: Contribution) -> int:
    return c[5] or 0
