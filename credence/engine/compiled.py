"""A policy compiled once into the flat structures the scoring fold needs."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from credence.engine.conditions import first_hit
from credence.policy.model import (
    GENERAL_DIMENSION,
    AttrType,
    CapPeriod,
    Condition,
    Entitlement,
    Policy,
    Rule,
    SubjectList,
)
from credence.types import DAY_US, MICROS, parse_duration

CAP_DAY, CAP_MONTH, CAP_YEAR = 0, 1, 2
Matcher = Callable[[Mapping[str, Any]], "CompiledRule | None"]
_CAP_CODES = {CapPeriod.DAY: CAP_DAY, CapPeriod.MONTH: CAP_MONTH, CapPeriod.YEAR: CAP_YEAR}


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule, ready for the fold: times in microseconds, dimension by index."""

    index: int
    id: str
    type: str
    rule: Rule
    points: float
    per: str | None
    dimension: int
    half_life_s: float | None
    expires_us: int | None
    cap: float | None  # |C|
    cap_period: int | None
    reason: str
    cured_by: str | None = None  # an event type whose record ends this rule's effect early
    min_period_us: int = 0  # with cured_by: the least time a record counts
    group: str | None = None  # rules of one type and group form one first-hit chain
    context: str = ""  # its event type's context: the purpose its records were given for
    # The fields the fold reads per record, as one tuple: unpacking beats attribute reads.
    # (index, points, per, |cap|, cap period, expiry µs, decay rate per µs, dimension)
    step: tuple[int, float, str | None, float | None, int, int | None, float | None, int] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        step = (
            self.index,
            self.points,
            self.per,
            self.cap,
            self.cap_period if self.cap_period is not None else 0,
            self.expires_us,
            -math.log(2) / (self.half_life_s * MICROS) if self.half_life_s else None,
            self.dimension,
        )
        object.__setattr__(self, "step", step)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """Everything the engine needs from a policy, computed once."""

    policy: Policy
    base: float
    min: float
    max: float
    dimension_ids: tuple[str, ...]
    weights: tuple[float, ...]
    lower: tuple[float | None, ...]
    upper: tuple[float | None, ...]
    rules: tuple[CompiledRule, ...]
    rules_by_type: dict[str, tuple[CompiledRule, ...]]
    # Per type, its groups (rules without a group first when any), each in policy order.
    groups_by_type: dict[str, tuple[tuple[CompiledRule, ...], ...]]
    # First hit per type: of each type's first group (its only one, without rule groups).
    matchers: dict[str, Matcher]
    # The fold's passes: per pass g, each type's g-th group's first hit. One pass without
    # groups (``matchers``); a record contributes one rule per pass it hits in.
    passes: tuple[dict[str, Matcher], ...]
    tier_ids: tuple[str, ...]  # highest first
    tier_mins: tuple[float, ...]
    entitlements: dict[str, Entitlement]
    lists: tuple[SubjectList, ...]
    cure_types: frozenset[str]  # event types some rule is cured by
    # Per rule, (dimension index, decay rate per µs or None): what rescoring at a later time reads.
    rescore_steps: tuple[tuple[int, float | None], ...]
    grouped: bool = False  # some rule has a group: a points scorecard


def _seconds(duration: str | None) -> int | None:
    return parse_duration(duration) if duration is not None else None


def _compile_rule(
    index: int, rule: Rule, dim_index: dict[str, int], contexts: Mapping[str, str]
) -> CompiledRule:
    expires = _seconds(rule.expires_after)
    half_life = _seconds(rule.half_life)
    return CompiledRule(
        index=index,
        id=rule.id,
        type=rule.type,
        rule=rule,
        points=float(rule.points),
        per=rule.per,
        dimension=dim_index[rule.dimension or GENERAL_DIMENSION],
        half_life_s=float(half_life) if half_life is not None else None,
        expires_us=expires * MICROS if expires is not None else None,
        cap=abs(float(rule.cap.points)) if rule.cap else None,
        cap_period=_CAP_CODES[rule.cap.per] if rule.cap else None,
        reason=rule.reason,
        cured_by=rule.cured_by,
        min_period_us=(_seconds(rule.min_period) or 0) * MICROS,
        group=rule.group,
        context=contexts.get(rule.type, ""),
    )


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Compile a validated policy (see ``credence.policy.load``) for scoring."""
    dims = list(policy.dimensions)
    ids = [d.id for d in dims] + [GENERAL_DIMENSION]
    dim_index = {d: i for i, d in enumerate(ids)}
    contexts = {e.id: e.context for e in policy.event_types}
    rules = tuple(_compile_rule(i, r, dim_index, contexts) for i, r in enumerate(policy.rules))
    by_type: dict[str, list[CompiledRule]] = {}
    for compiled in rules:
        by_type.setdefault(compiled.type, []).append(compiled)
    groups = {t: _groups(rs) for t, rs in by_type.items()}
    depth = max((len(gs) for gs in groups.values()), default=1)
    passes = tuple(
        {t: _matcher(policy, gs[g]) for t, gs in groups.items() if g < len(gs)}
        for g in range(depth)
    )
    return CompiledPolicy(
        policy=policy,
        base=float(policy.scale.base),
        min=float(policy.scale.min),
        max=float(policy.scale.max),
        dimension_ids=tuple(ids),
        weights=tuple(d.weight for d in dims) + (1.0,),
        lower=tuple(d.min for d in dims) + (None,),
        upper=tuple(d.max for d in dims) + (None,),
        rules=rules,
        rules_by_type={t: tuple(rs) for t, rs in by_type.items()},
        groups_by_type=groups,
        matchers=passes[0],
        passes=passes,
        tier_ids=tuple(t.id for t in policy.tiers),
        tier_mins=tuple(float(t.min) for t in policy.tiers),
        entitlements={e.id: e for e in policy.entitlements},
        lists=tuple(policy.lists),
        cure_types=frozenset(r.cured_by for r in rules if r.cured_by is not None),
        rescore_steps=tuple((r.dimension, r.step[6]) for r in rules),
        grouped=any(r.group is not None for r in rules),
    )


def _groups(rules: list[CompiledRule]) -> tuple[tuple[CompiledRule, ...], ...]:
    """A type's rules by group: the default group (no ``group``) first, then by first use."""
    by_group: dict[str | None, list[CompiledRule]] = {}
    if any(r.group is None for r in rules):
        by_group[None] = []
    for rule in rules:
        by_group.setdefault(rule.group, []).append(rule)
    return tuple(tuple(rs) for rs in by_group.values())


def _matcher(policy: Policy, rules: tuple[CompiledRule, ...]) -> Matcher:
    event = policy.event_type(rules[0].type)
    attrs = event.attributes if event else {}

    def typed(rule: CompiledRule) -> list[tuple[Condition, AttrType]]:
        return [
            (c, attrs[c.attr].type if c.attr in attrs else AttrType.STRING) for c in rule.rule.when
        ]

    match: Matcher = first_hit([(typed(r), r) for r in rules])
    return match


def period_bounds(period: int, occurred_at: int) -> tuple[int, int]:
    """The calendar period (UTC day, month or year) holding a time, as [start, end) µs."""
    day = occurred_at // DAY_US
    if period == CAP_DAY:
        return day * DAY_US, (day + 1) * DAY_US
    year, month, _ = _civil_from_days(day)
    if period == CAP_MONTH:
        start = _days_from_civil(year, month, 1)
        end = _days_from_civil(year + month // 12, month % 12 + 1, 1)
    else:
        start, end = _days_from_civil(year, 1, 1), _days_from_civil(year + 1, 1, 1)
    return start * DAY_US, end * DAY_US


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


@lru_cache(maxsize=65_536)
def month_of_day(day: int) -> int:
    """The calendar month (UTC) of a day number since the epoch, as year * 12 + month - 1."""
    year, month, _ = _civil_from_days(day)
    return year * 12 + month - 1


def year_of_day(day: int) -> int:
    """The calendar year (UTC) of a day number since the epoch."""
    return _civil_from_days(day)[0]


def _civil_from_days(z: int) -> tuple[int, int, int]:
    # Howard Hinnant's days_from_civil inverse: exact for every proleptic Gregorian day.
    z += 719_468
    era = (z if z >= 0 else z - 146_096) // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + (1 if m <= 2 else 0), m, d)
