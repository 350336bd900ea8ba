"""Purpose binding, due process and proportionality of entitlements.

A restriction may only be triggered by records of its own or declared
related contexts, must name its legal basis, give notice, end, and never
follow from a single minor record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from credence.policy.diagnostics import (
    MIN_NOTICE_DAYS,
    SEVERITY_WINDOWS,
    Finding,
    Path,
)
from credence.policy.model import (
    GENERAL_DIMENSION,
    EntitlementCondition,
    EntitlementKind,
    Policy,
    Rule,
    RuleSeverity,
)
from credence.types import parse_duration


def retention(policy: Policy) -> int:
    """The longest any record of this policy may count, in seconds."""
    return parse_duration(policy.max_retention)


def implied_severity(rule: Rule, *, policy: Policy) -> RuleSeverity | None:
    """A negative rule's severity: declared, or implied by its expiry (≤90d minor, ≤1y general)."""
    if rule.severity is not None or not policy.can_lower(rule):
        return rule.severity
    if rule.expires_after is None:
        return RuleSeverity.SERIOUS
    expiry = parse_duration(rule.expires_after)
    for severity in (RuleSeverity.MINOR, RuleSeverity.GENERAL):
        if expiry <= SEVERITY_WINDOWS[severity]:
            return severity
    return RuleSeverity.SERIOUS


# -- purpose binding, due process, proportionality ----------------------------------------


def feeding_rules(
    condition: EntitlementCondition, policy: Policy, *, seen: frozenset[str] = frozenset()
) -> list[Rule]:
    """The rules whose records can change whether ``condition`` holds, in policy order."""
    weights = {d.id: d.weight for d in policy.dimensions} | {GENERAL_DIMENSION: 1.0}
    chosen: set[str] = set()

    def visit(cond: EntitlementCondition, seen_lists: frozenset[str]) -> None:
        if cond.dimension is not None:
            chosen.update(r.id for r in policy.rules if _dim(r) == cond.dimension)
        if (
            cond.tier_at_least is not None
            or cond.score_below is not None
            or cond.score_at_least is not None
        ):
            chosen.update(r.id for r in policy.rules if weights.get(_dim(r), 0.0) != 0.0)
        if cond.on_list is not None and cond.on_list not in seen_lists:
            lst = next((x for x in policy.lists if x.id == cond.on_list), None)
            if lst is not None:
                visit(lst.when, seen_lists | {cond.on_list})
        for child in (cond.all or []) + (cond.any or []):
            visit(child, seen_lists)

    visit(condition, seen)
    return [r for r in policy.rules if r.id in chosen]


def _dim(rule: Rule) -> str:
    return rule.dimension or GENERAL_DIMENSION


def entitlement_findings(policy: Policy) -> list[Finding]:
    findings: list[Finding] = []
    longest = retention(policy)
    contexts = {e.id: e.context for e in policy.event_types}
    for i, ent in enumerate(policy.entitlements):
        at: Path = ("entitlements", i)
        what = f"{ent.kind.value} `{ent.id}`"
        allowed = {ent.context, *ent.related_contexts}
        unrelated: dict[str, list[str]] = {}
        for rule in feeding_rules(ent.when, policy):
            context = contexts.get(rule.type)
            if context is not None and context not in allowed:
                unrelated.setdefault(context, []).append(rule.id)
        if unrelated:
            listed = "; ".join(
                f"{c} ({', '.join(f'`{r}`' for r in rules[:3])}{', …' if len(rules) > 3 else ''})"
                for c, rules in sorted(unrelated.items())
            )
            findings.append(
                Finding(
                    "purpose.unrelated",
                    f"{what} (context {ent.context}) can be triggered by records of "
                    f"unrelated contexts: {listed}",
                    (*at, "when"),
                    f"test a dimension fed only by {ent.context} records, or declare a "
                    "context in related_contexts only if it truly bears on this one",
                )
            )
        if ent.kind is not EntitlementKind.RESTRICTION:
            continue
        if not (ent.legal_basis or "").strip():
            findings.append(
                Finding(
                    "process.no_legal_basis",
                    f"{what} names no legal basis",
                    at,
                    "add `legal_basis:` citing the law or contract term that allows it",
                )
            )
        if ent.notice_days is None or ent.notice_days < MIN_NOTICE_DAYS:
            given = (
                "gives no notice"
                if ent.notice_days is None
                else (f"gives {ent.notice_days} days' notice")
            )
            findings.append(
                Finding(
                    "process.notice_too_short",
                    f"{what} {given}; the subject must have at least {MIN_NOTICE_DAYS} days",
                    (*at, "notice_days") if ent.notice_days is not None else at,
                    f"set `notice_days: {max(MIN_NOTICE_DAYS, 14)}` or more",
                )
            )
        if ent.max_duration is None:
            findings.append(
                Finding(
                    "process.no_max_duration",
                    f"{what} has no max_duration: it could last indefinitely",
                    at,
                    "add e.g. `max_duration: 1y`",
                )
            )
        elif parse_duration(ent.max_duration) > longest:
            findings.append(
                Finding(
                    "process.duration_too_long",
                    f"{what} may last {ent.max_duration}, longer than the policy's "
                    f"max_retention {policy.max_retention}",
                    (*at, "max_duration"),
                    f"set max_duration to {policy.max_retention} or less",
                )
            )
        findings += _proportionality(policy, ent.when, at, what)
        if not (ent.reason or "").strip():
            findings.append(
                Finding(
                    "process.no_reason",
                    f"{what} has no plain-language reason for the subject",
                    at,
                    "add `reason:` saying what the subject did, in plain words",
                )
            )
    return findings


@dataclass(frozen=True)
class _State:
    score: float
    dimensions: dict[str, float]


def _state(policy: Policy, contributions: dict[str, float]) -> _State:
    dims: dict[str, float] = {}
    total = policy.scale.base
    declared = {d.id: d for d in policy.dimensions}
    for dim_id in [*declared, GENERAL_DIMENSION]:
        value = contributions.get(dim_id, 0.0)
        dim = declared.get(dim_id)
        weight = dim.weight if dim else 1.0
        if dim is not None:
            value = max(value, dim.min) if dim.min is not None else value
            value = min(value, dim.max) if dim.max is not None else value
        dims[dim_id] = value
        if weight != 0.0:
            total += weight * value
    if math.isnan(total):
        total = policy.scale.min
    score = min(max(total, policy.scale.min), policy.scale.max)
    return _State(float(math.floor(score + 0.5)), dims)


def _holds(cond: EntitlementCondition, state: _State, policy: Policy, seen: frozenset[str]) -> bool:
    if cond.tier_at_least is not None:
        tier = next((t for t in policy.tiers if t.id == cond.tier_at_least), None)
        return tier is not None and state.score >= tier.min
    if cond.score_below is not None:
        return state.score < cond.score_below
    if cond.score_at_least is not None:
        return state.score >= cond.score_at_least
    if cond.dimension is not None:
        value = state.dimensions.get(cond.dimension, 0.0)
        return value < cond.below if cond.below is not None else value >= (cond.at_least or 0.0)
    if cond.on_list is not None:
        lst = next((x for x in policy.lists if x.id == cond.on_list), None)
        if lst is None or cond.on_list in seen:
            return False
        return _holds(lst.when, state, policy, seen | {cond.on_list})
    if cond.all is not None:
        return all(_holds(c, state, policy, seen) for c in cond.all)
    return any(_holds(c, state, policy, seen) for c in cond.any or [])


def _one_record(rule: Rule) -> list[float]:
    """The extreme values one record of a rule can add to its dimension.

    Either sign matters: negative points lower a dimension, and positive points lower
    the score when the dimension's weight is negative. A ``per`` attribute may be
    negative, so such a rule reaches both extremes.
    """
    magnitude = math.inf if rule.per is not None else abs(rule.points)
    if rule.cap is not None:
        magnitude = min(magnitude, abs(rule.cap.points))
    if rule.per is not None:
        return [-magnitude, magnitude]
    return [math.copysign(magnitude, rule.points)]


def _proportionality(
    policy: Policy, cond: EntitlementCondition, at: Path, what: str
) -> list[Finding]:
    if _holds(cond, _state(policy, {}), policy, frozenset()):
        return [
            Finding(
                "process.restricts_everyone",
                f"{what} already holds for a subject with no records",
                (*at, "when"),
                "restrict only on adverse records: lower the threshold below the base score",
            )
        ]
    minor = [r for r in policy.rules if implied_severity(r, policy=policy) is RuleSeverity.MINOR]
    for rule in minor:
        states = [_state(policy, {_dim(rule): value}) for value in _one_record(rule)]
        if any(_holds(cond, state, policy, frozenset()) for state in states):
            return [
                Finding(
                    "process.single_minor",
                    f"{what} can be triggered by a single minor record (`{rule.id}`)",
                    (*at, "when"),
                    "require repeated or serious conduct, e.g. a lower threshold",
                )
            ]
    return []
