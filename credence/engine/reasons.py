"""Reasons behind an outcome and what would change it (DESIGN.md step 10).

Every statement made here is checked against the engine before it is made:

- A key factor's points are its rule's records' current values times their
  dimension's weight (score units, before the dimension's bounds), so their
  sign is the way the rule moved the score: a rule adding to a negative-weight
  dimension lowers it. Factors are ranked by the size of that effect.
- An expiry says how the score moves at the moment the record stops counting,
  found by rescoring just before and at that moment, counting the records
  there are as of the outcome and no new ones. It "rises" or "falls" only when
  the rescored score does; a bounded dimension, the scale or rounding may
  absorb it, and then the statement says the score stays.
- "N more points" means N score units added to the weighted sum before the
  scale's clamp, as a new record under a rule in the implicit ``general``
  dimension (weight 1, no bounds) would add them. "N more points in 'd'"
  means N added to dimension d's sum in its own units (as a rule in d writes
  its points), before d's bounds and weight. "Fewer" subtracts them the same
  way. N is the least whole number that reaches the target through the
  engine's own bounds, clamp and rounding (N - 1 does not), or the statement
  says no number does.

Decisions pass the contexts an entitlement may draw on (its own and its
related ones): only rules whose event type is in one of them give reasons or
expiries. Score gaps are context-free: they speak of points, not records.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from credence.engine.compiled import CompiledPolicy
from credence.engine.scoring import (
    EARLY,
    Contribution,
    Outcome,
    clamp_dimension,
    scores_at,
    tier_rank,
    with_points,
)
from credence.policy.model import EntitlementCondition
from credence.types import format_date

MAX_FACTORS = 4
EXPIRY, TIER, THRESHOLD = "expiry", "tier", "threshold"
SCORE, DIMENSION = "score", "dimension"


@dataclass(frozen=True, slots=True)
class Reason:
    """One key factor: a rule, its plain-language text, and its effect in score units."""

    code: str
    text: str
    points: float  # weighted: negative lowers the score, whatever the dimension's weight
    records: int


@dataclass(frozen=True, slots=True)
class Change:
    """Something that would change the outcome, with the fields that make it checkable.

    ``kind`` is ``expiry`` (a record stops counting ``at``; the score is
    ``before`` just before and ``after`` at that moment; ``points`` is
    ``after - before``), ``tier`` (the next tier up) or ``threshold`` (one
    test of an entitlement's condition). For the gaps, ``points`` is the least
    whole number of points to add to ``dimension`` (negative: to take away)
    so that the ``measure`` (``score``, ``tier`` or ``dimension``) reaches
    ``level`` (or, taking away, falls below it); ``target`` is the tier or
    dimension named. ``points`` is None when no number of points would do.
    """

    kind: str  # "expiry" | "tier" | "threshold"
    text: str
    points: float | None
    at: int | None = None
    measure: str | None = None  # gaps: "score" | "tier" | "dimension"
    target: str | None = None  # gaps: the tier or dimension id
    level: float | None = None  # gaps: the score, tier minimum or dimension value to reach
    dimension: str | None = None  # gaps: where the points are counted
    before: int | None = None  # expiry: the score just before ``at``
    after: int | None = None  # expiry: the score at ``at``
    record: tuple[str, str] | None = None  # expiry: (provider, provider_event_id)


def weighted(policy: CompiledPolicy, contribution: Contribution) -> float:
    """A contribution's current value in score units."""
    return contribution.value * policy.weights[contribution.rule.dimension]


def key_factors(
    policy: CompiledPolicy,
    outcome: Outcome,
    *,
    direction: int,
    contexts: Collection[str] | None = None,
    limit: int = MAX_FACTORS,
) -> list[Reason]:
    """The rules that moved the score most in ``direction`` (-1 down, +1 up), largest first.

    A rule's effect is its records' values times its dimension's weight, so a
    rule raising a negative-weight dimension lowers the score. With
    ``contexts``, only rules whose event type is in one of them count.
    """
    found: list[Reason] = []
    weights = policy.weights
    for rule, (up, up_n, down, down_n) in zip(policy.rules, outcome.by_rule, strict=True):
        if contexts is not None and rule.context not in contexts:
            continue
        weight = weights[rule.dimension]
        if weight == 0.0:
            continue
        # The values whose weighted effect has the sign asked for.
        value, count = (up, up_n) if (weight > 0) == (direction > 0) else (down, down_n)
        if count:
            found.append(Reason(rule.id, rule.reason, value * weight, count))
    found.sort(key=lambda r: (-abs(r.points), r.code))
    return found[:limit]


def expiring_soonest(
    policy: CompiledPolicy,
    outcome: Outcome,
    *,
    direction: int,
    contexts: Collection[str] | None = None,
    limit: int = 3,
) -> list[Change]:
    """Counting records moving the score in ``direction`` that expire soonest, rescored.

    Each change says what the score is just before and at the moment the
    record stops counting (see the module docstring), so an expiry a bound
    absorbs says the score stays.
    """

    pending = soonest_expiring(policy, outcome, direction=direction, contexts=contexts, limit=limit)
    # Just before and at each moment a record stops counting, all in one pass.
    times = sorted({t for c in pending if (at := c.expires_at) is not None for t in (at - 1, at)})
    rescored = dict(zip(times, scores_at(policy, outcome, times), strict=True))
    changes = []
    for c in pending:
        at = c.expires_at
        assert at is not None
        before, after = rescored[at - 1], rescored[at]
        if after > before:
            effect = f"the score rises from {before} to {after}"
        elif after < before:
            effect = f"the score falls from {before} to {after}"
        else:
            effect = f"the score stays at {before}"
        changes.append(
            Change(
                EXPIRY,
                f"{c.rule.reason} ({c.record.provider}/{c.record.provider_event_id}, "
                f"{weighted(policy, c):+.1f} now) expires on {format_date(at)}; {effect}",
                float(after - before),
                at,
                before=before,
                after=after,
                record=c.record.key,
            )
        )
    return changes


def soonest_expiring(
    policy: CompiledPolicy,
    outcome: Outcome,
    *,
    direction: int,
    contexts: Collection[str] | None = None,
    limit: int,
) -> list[Contribution]:
    """The ``limit`` counting records moving the score in ``direction`` that expire first."""
    weights = policy.weights
    # A record pulls the score in ``direction`` when its value's sign times its dimension's
    # weight has that sign: by rule, which records of each sign qualify.
    raising = [
        rule.index
        for rule in policy.rules
        if weights[rule.dimension] * direction > 0
        and (contexts is None or rule.context in contexts)
    ]
    lowering = [
        rule.index
        for rule in policy.rules
        if weights[rule.dimension] * direction < 0
        and (contexts is None or rule.context in contexts)
    ]
    contributions = outcome.contributions
    if limit <= EARLY:
        # A rule's records expire in the order they occurred, so the soonest expiring
        # of each sign are among each rule's first EARLY counting ones: no scan needed.
        up_ok, down_ok = frozenset(raising), frozenset(lowering)
        # Positions in count order, so equal expiry times keep the records' order.
        candidates = [
            contributions[j]
            for j in sorted(
                [j for j in outcome.early[0] if contributions[j][1].index in up_ok]
                + [j for j in outcome.early[1] if contributions[j][1].index in down_ok]
            )
        ]
    else:
        up_ok, down_ok = frozenset(raising), frozenset(lowering)
        candidates = [
            c
            for c in contributions
            if c[5] is not None
            and ((c[4] > 0 and c[1].index in up_ok) or (c[4] < 0 and c[1].index in down_ok))
        ]
    # Candidates are in count order and nsmallest is stable: ties go by the records' order.
    return heapq.nsmallest(limit, candidates, key=_expiry)


def _expiry(c: Contribution) -> int:
    return c[5] or 0


def least_points(works: Callable[[int], bool], *, guess: int, bound: int) -> int | None:
    """The least whole ``n`` in 0..bound with ``works(n)``, for ``works`` monotone in n.

    ``guess`` is the answer the clamp-free arithmetic gives: it is confirmed
    (it works, one less does not) or the answer is searched for. None when
    even ``bound`` does not work.
    """
    if 0 < guess <= bound and works(guess) and not works(guess - 1):
        return guess
    if works(0):
        return 0
    if not works(bound):
        return None
    low, high = 0, bound  # works(low) fails, works(high) holds
    while high - low > 1:
        middle = (low + high) // 2
        if works(middle):
            high = middle
        else:
            low = middle
    return high


def _reach(span: float) -> int:
    """A whole number of points past which more cannot change anything (clamps saturate)."""
    return math.ceil(span) + 2


def score_gap(
    policy: CompiledPolicy, outcome: Outcome, *, level: float, up: bool, tier: int | None = None
) -> int | None:
    """Least whole points added (``up``) or taken away in ``general`` for the score to reach
    ``level`` (or, taking away, fall below it); with ``tier``, to reach (or leave) that tier.
    """
    general = len(policy.dimension_ids) - 1
    sign = 1 if up else -1

    def works(n: int) -> bool:
        final = with_points(policy, outcome, dimension=general, points=sign * n)
        reached = tier_rank(policy, final) <= tier if tier is not None else final >= level
        return reached if up else not reached

    # A score reaches a whole k from k - 0.5 (half up); it is below k up to k - 0.5.
    edge = math.ceil(level) - 0.5
    total = outcome.total
    guess = math.ceil(edge - total) if up else math.floor(total - edge) + 1
    span = abs(total - policy.min) + abs(total - policy.max) + abs(level - total)
    return least_points(works, guess=guess, bound=_reach(span))


def dimension_gap(
    policy: CompiledPolicy, outcome: Outcome, *, dimension: str, level: float, up: bool
) -> int | None:
    """Least whole points added (``up``) or taken away in a dimension, in its own units,
    for its clamped value to reach ``level`` (or, taking away, fall below it)."""
    index = policy.dimension_ids.index(dimension)
    now = outcome.sums[index]
    sign = 1 if up else -1

    def works(n: int) -> bool:
        value = clamp_dimension(policy, index, now + sign * n)
        return value >= level if up else value < level

    guess = math.ceil(level - now) if up else math.floor(now - level) + 1
    span = abs(level - now)
    for bound in (policy.lower[index], policy.upper[index]):
        if bound is not None:
            span += abs(bound - now)
    return least_points(works, guess=guess, bound=_reach(span))


def next_tier(policy: CompiledPolicy, outcome: Outcome) -> Change | None:
    """Points needed to reach the next tier up, if there is one."""
    if outcome.tier_rank == 0 or not policy.tier_ids:
        return None
    target = outcome.tier_rank - 1
    return _tier_change(TIER, policy, outcome, target, up=True)


def _tier_change(
    kind: str, policy: CompiledPolicy, outcome: Outcome, index: int, *, up: bool
) -> Change | None:
    tier_id, minimum = policy.tier_ids[index], policy.tier_mins[index]
    needed = score_gap(policy, outcome, level=minimum, up=up, tier=index)
    if needed == 0:
        return None
    if needed is None:
        end = f"{policy.max:g}" if up else f"{policy.min:g}"
        text = (
            f"no number of points can {'reach' if up else 'take the score below'} tier {tier_id!r} "
            f"(from {minimum:g}): the scale ends at {end}"
        )
    elif up:
        text = f"{needed} more points reach tier {tier_id!r} (from {minimum:g})"
    else:
        text = f"{needed} fewer points take the score below tier {tier_id!r} (from {minimum:g})"
    points = None if needed is None else float(needed if up else -needed)
    return Change(
        kind, text, points, measure=TIER, target=tier_id, level=minimum, dimension="general"
    )


def _score_change(
    policy: CompiledPolicy, outcome: Outcome, level: float, *, up: bool, phrase: str
) -> Change | None:
    needed = score_gap(policy, outcome, level=level, up=up)
    if needed == 0:
        return None
    if needed is None:
        end = f"{policy.max:g}" if up else f"{policy.min:g}"
        text = f"no number of points can {phrase}: the scale ends at {end}"
        points = None
    else:
        text = f"{needed} {'more' if up else 'fewer'} points {phrase}"
        points = float(needed if up else -needed)
    return Change(THRESHOLD, text, points, measure=SCORE, level=level, dimension="general")


def _dimension_change(
    policy: CompiledPolicy, outcome: Outcome, dimension: str, level: float, *, up: bool
) -> Change | None:
    needed = dimension_gap(policy, outcome, dimension=dimension, level=level, up=up)
    if needed == 0:
        return None
    goal = f"lift it to {level:g} or above" if up else f"take it below {level:g}"
    if needed is None:
        index = policy.dimension_ids.index(dimension)
        bound = policy.upper[index] if up else policy.lower[index]
        text = f"no number of points in {dimension!r} can {goal}: it is bounded at {bound:g}"
        points = None
    else:
        text = f"{needed} {'more' if up else 'fewer'} points in {dimension!r} {goal}"
        points = float(needed if up else -needed)
    return Change(
        THRESHOLD,
        text,
        points,
        measure=DIMENSION,
        target=dimension,
        level=level,
        dimension=dimension,
    )


def condition_gaps(
    policy: CompiledPolicy, condition: EntitlementCondition, outcome: Outcome, *, wanted: bool
) -> Iterator[Change]:
    """For each test of a condition not as ``wanted``, the points that would flip it.

    A denied benefit wants its tests to hold; a restriction wants them not to.
    (Conditions have no negation, so every test of one condition wants the same.)
    ``on_list`` tests are left out: a list is itself a condition, not a points gap.
    """
    c = condition
    for child in (c.all or []) + (c.any or []):
        yield from condition_gaps(policy, child, outcome, wanted=wanted)
    change: Change | None = None
    if c.tier_at_least is not None:
        index = policy.tier_ids.index(c.tier_at_least)
        if (outcome.tier_rank <= index) != wanted:
            change = _tier_change(THRESHOLD, policy, outcome, index, up=wanted)
    elif c.score_at_least is not None:
        level = c.score_at_least
        if (outcome.score >= level) != wanted:
            phrase = f"reach a score of {level:g}" if wanted else f"take the score below {level:g}"
            change = _score_change(policy, outcome, level, up=wanted, phrase=phrase)
    elif c.score_below is not None:
        level = c.score_below
        if (outcome.score < level) != wanted:
            phrase = (
                f"take the score below {level:g}"
                if wanted
                else f"lift the score to {level:g} or above"
            )
            change = _score_change(policy, outcome, level, up=not wanted, phrase=phrase)
    elif c.dimension is not None:
        value = outcome.dimensions.get(c.dimension, 0.0)
        if c.below is not None and (value < c.below) != wanted:
            change = _dimension_change(policy, outcome, c.dimension, c.below, up=not wanted)
        elif c.at_least is not None and (value >= c.at_least) != wanted:
            change = _dimension_change(policy, outcome, c.dimension, c.at_least, up=wanted)
    if change is not None:
        yield change
