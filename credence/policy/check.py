"""Cross-reference checks of a policy that pydantic's shape checks cannot see.

Each problem carries the path of the offending value so the loader can point
at its line, and a "did you mean" when a name is close to a known one.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from credence.policy.model import (
    GENERAL_DIMENSION,
    AttrType,
    Dimension,
    Entitlement,
    EntitlementCondition,
    EventType,
    Policy,
    Rule,
    SubjectList,
    Tier,
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy, at a path such as ("rules", 2, "type")."""

    path: tuple[str | int, ...]
    message: str
    suggestion: str | None = None


def suggest(name: str, known: Iterable[str]) -> str | None:
    """``did you mean `x`?`` for the closest known name, if any is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def _unknown(path: tuple[str | int, ...], what: str, name: str, known: Sequence[str]) -> Problem:
    hint = suggest(name, known)
    if hint is None and known:
        hint = f"known {what}s: {', '.join(sorted(known))}"
    return Problem(path, f"unknown {what} {name!r}", hint)


def _duplicates(policy: Policy) -> list[Problem]:
    problems = []
    sections: dict[
        str, Sequence[Dimension | EventType | Rule | Tier | Entitlement | SubjectList]
    ] = {
        "dimensions": policy.dimensions,
        "event_types": policy.event_types,
        "rules": policy.rules,
        "tiers": policy.tiers,
        "entitlements": policy.entitlements,
        "lists": policy.lists,
    }
    for section, items in sections.items():
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item.id in seen:
                problems.append(Problem((section, index, "id"), f"duplicate id {item.id!r}"))
            seen.add(item.id)
    for index, dimension in enumerate(policy.dimensions):
        if dimension.id == GENERAL_DIMENSION:
            problems.append(
                Problem(
                    ("dimensions", index, "id"),
                    f"{GENERAL_DIMENSION!r} is the implicit dimension of rules without one",
                    "choose another id",
                )
            )
    return problems


def _value_fits(value: object, attr_type: AttrType) -> bool:
    if attr_type is AttrType.BOOLEAN:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if attr_type is AttrType.INTEGER:
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if attr_type is AttrType.NUMBER:
        return isinstance(value, int | float)
    return isinstance(value, str)


def _rule_problems(policy: Policy) -> list[Problem]:
    problems: list[Problem] = []
    types = {e.id: e for e in policy.event_types}
    dimensions = [d.id for d in policy.dimensions]
    for index, rule in enumerate(policy.rules):
        at = ("rules", index)
        event: EventType | None = types.get(rule.type)
        if event is None:
            problems.append(_unknown((*at, "type"), "event type", rule.type, list(types)))
        if rule.dimension is not None and rule.dimension not in dimensions:
            problems.append(_unknown((*at, "dimension"), "dimension", rule.dimension, dimensions))
        lowers = policy.lowers_because(rule)
        if lowers is not None and rule.expires_after is None:
            problems.append(
                Problem(
                    (*at, "points"),
                    f"rule {rule.id!r} can lower a score ({lowers}) but has no expires_after; "
                    "every record that can lower a score must expire",
                    "add e.g. `expires_after: 2y`",
                )
            )
        if rule.cured_by is not None and rule.cured_by not in types:
            problems.append(_unknown((*at, "cured_by"), "event type", rule.cured_by, list(types)))
        if rule.cured_by is not None and lowers is None:
            problems.append(
                Problem((*at, "cured_by"), "only a rule that can lower a score can be cured")
            )
        if rule.min_period is not None and rule.cured_by is None:
            problems.append(
                Problem(
                    (*at, "min_period"),
                    "min_period only applies with cured_by",
                    "add `cured_by: TYPE`",
                )
            )
        if event is None:
            continue
        attrs = event.attributes
        if rule.per is not None:
            spec = attrs.get(rule.per)
            if spec is None:
                problems.append(_unknown((*at, "per"), "attribute", rule.per, list(attrs)))
            elif spec.type not in (AttrType.INTEGER, AttrType.NUMBER):
                problems.append(
                    Problem((*at, "per"), f"per attribute {rule.per!r} is {spec.type}, not numeric")
                )
        for c_index, condition in enumerate(rule.when):
            c_at = (*at, "when", c_index)
            spec = attrs.get(condition.attr)
            if spec is None:
                problems.append(_unknown((*c_at, "attr"), "attribute", condition.attr, list(attrs)))
                continue
            if condition.op == "absent":
                continue
            values = condition.value if isinstance(condition.value, list) else [condition.value]
            bad = [v for v in values if not _value_fits(v, spec.type)]
            if bad:
                problems.append(
                    Problem(
                        (*c_at, "value"),
                        f"{bad[0]!r} is not a valid {spec.type} for attribute {condition.attr!r}",
                    )
                )
            ordered = condition.op in ("<", "<=", ">", ">=")
            if ordered and spec.type in (AttrType.STRING, AttrType.BOOLEAN):
                problems.append(
                    Problem(
                        (*c_at, "op"),
                        f"operator {condition.op!r} needs a numeric attribute; "
                        f"{condition.attr!r} is {spec.type}",
                        "use ==, !=, in or not_in",
                    )
                )
    return problems


def _tier_problems(policy: Policy) -> list[Problem]:
    problems: list[Problem] = []
    mins = [t.min for t in policy.tiers]
    for index in range(1, len(mins)):
        if mins[index] >= mins[index - 1]:
            problems.append(
                Problem(
                    ("tiers", index, "min"),
                    "tiers must be listed highest first with strictly decreasing min",
                )
            )
    if mins and mins[-1] > math.floor(policy.scale.min):  # scores are rounded, so floor
        problems.append(
            Problem(
                ("tiers", len(mins) - 1, "min"),
                f"the lowest tier starts at {mins[-1]}, above the scale minimum "
                f"{policy.scale.min}: some scores would have no tier",
                f"set its min to {math.floor(policy.scale.min):g}",
            )
        )
    return problems


def _condition_problems(
    condition: EntitlementCondition, at: tuple[str | int, ...], policy: Policy
) -> list[Problem]:
    problems: list[Problem] = []
    tiers = [t.id for t in policy.tiers]
    dimensions = [d.id for d in policy.dimensions] + [GENERAL_DIMENSION]
    lists = [lst.id for lst in policy.lists]
    if condition.tier_at_least is not None and condition.tier_at_least not in tiers:
        problems.append(_unknown((*at, "tier_at_least"), "tier", condition.tier_at_least, tiers))
    if condition.dimension is not None and condition.dimension not in dimensions:
        problems.append(_unknown((*at, "dimension"), "dimension", condition.dimension, dimensions))
    if condition.on_list is not None and condition.on_list not in lists:
        problems.append(_unknown((*at, "on_list"), "list", condition.on_list, lists))
    for key in ("all", "any"):
        for index, child in enumerate(getattr(condition, key) or []):
            problems += _condition_problems(child, (*at, key, index), policy)
    return problems


def _list_order_problems(policy: Policy) -> list[Problem]:
    """A list may test only lists declared before it, so membership is never circular."""
    problems: list[Problem] = []
    for index, lst in enumerate(policy.lists):
        earlier = {item.id for item in policy.lists[:index]}
        for name in _lists_named(lst.when):
            if name not in earlier and name in {item.id for item in policy.lists}:
                problems.append(
                    Problem(
                        ("lists", index, "when"),
                        f"list {lst.id!r} tests list {name!r}, which is not declared before it",
                        "declare lists before the lists that test them",
                    )
                )
    return problems


def _lists_named(condition: EntitlementCondition) -> list[str]:
    names = [condition.on_list] if condition.on_list else []
    for child in (condition.all or []) + (condition.any or []):
        names += _lists_named(child)
    return names


def check_references(policy: Policy) -> list[Problem]:
    """Every cross-reference problem in a shape-valid policy, in document order."""
    problems = _duplicates(policy) + _rule_problems(policy) + _tier_problems(policy)
    for index, entitlement in enumerate(policy.entitlements):
        problems += _condition_problems(entitlement.when, ("entitlements", index, "when"), policy)
    for index, lst in enumerate(policy.lists):
        problems += _condition_problems(lst.when, ("lists", index, "when"), policy)
    problems += _list_order_problems(policy)
    return problems
