"""Entitlement and list conditions over a subject's outcome (DESIGN.md step 9).

Each in its Python form (``holds``, for one subject) and its SQL form
(``sql_holds``, for every subject of a batch result) side by side; a property
test holds them to the same answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from credence.engine.compiled import CompiledPolicy
from credence.errors import PlanError
from credence.policy.model import EntitlementCondition


def holds(
    condition: EntitlementCondition,
    policy: CompiledPolicy,
    *,
    score: int,
    tier_rank: int,
    dimensions: Mapping[str, float],
    lists: frozenset[str],
) -> bool:
    """Whether a condition holds for these outcome values.

    Scores are the rounded integer score; dimensions their clamped values.
    """
    c = condition
    if c.all is not None:
        return all(
            holds(x, policy, score=score, tier_rank=tier_rank, dimensions=dimensions, lists=lists)
            for x in c.all
        )
    if c.any is not None:
        return any(
            holds(x, policy, score=score, tier_rank=tier_rank, dimensions=dimensions, lists=lists)
            for x in c.any
        )
    if c.tier_at_least is not None:
        return tier_rank <= policy.tier_ids.index(c.tier_at_least)
    if c.score_below is not None:
        return score < c.score_below
    if c.score_at_least is not None:
        return score >= c.score_at_least
    if c.dimension is not None:
        value = dimensions.get(c.dimension, 0.0)
        return value < c.below if c.below is not None else value >= (c.at_least or 0.0)
    if c.on_list is not None:
        return c.on_list in lists
    raise AssertionError("validated conditions always have a form")  # pragma: no cover


def list_memberships(
    policy: CompiledPolicy,
    score: int,
    tier_rank: int,
    dimensions: Mapping[str, float],
    *,
    subject_kind: str | None = None,
) -> frozenset[str]:
    """The lists a subject is on, in declaration order (a list may test earlier lists)."""
    members: set[str] = set()
    for lst in policy.lists:
        if subject_kind is not None and subject_kind not in lst.subject_kinds:
            continue
        if holds(
            lst.when,
            policy,
            score=score,
            tier_rank=tier_rank,
            dimensions=dimensions,
            lists=frozenset(members),
        ):
            members.add(lst.id)
    return frozenset(members)


def sql_holds(
    condition: EntitlementCondition,
    policy: CompiledPolicy,
    *,
    score: str,
    tier_rank: str,
    dimensions: Mapping[str, str],
    lists: Mapping[str, str],
) -> str:
    """``holds`` as a SQL boolean over the columns of a scored row, for every subject at once.

    ``score`` and ``tier_rank`` are SQL expressions (the tier's index in the
    policy, highest first, and the tier count for none); ``dimensions`` maps a
    dimension id to its column, ``lists`` a list id to the SQL test of
    membership. A dimension or list missing from them is 0.0 or not held, as
    ``holds`` has it.
    """
    c = condition

    def inner(x: EntitlementCondition) -> str:
        return sql_holds(
            x, policy, score=score, tier_rank=tier_rank, dimensions=dimensions, lists=lists
        )

    if c.all is not None:
        return "(" + " AND ".join(inner(x) for x in c.all) + ")" if c.all else "TRUE"
    if c.any is not None:
        return "(" + " OR ".join(inner(x) for x in c.any) + ")" if c.any else "FALSE"
    if c.tier_at_least is not None:
        return f"({tier_rank} <= {policy.tier_ids.index(c.tier_at_least)})"
    if c.score_below is not None:
        return f"({score} < {_number(c.score_below)})"
    if c.score_at_least is not None:
        return f"({score} >= {_number(c.score_at_least)})"
    if c.dimension is not None:
        value = dimensions.get(c.dimension, _number(0.0))
        if c.below is not None:
            return f"({value} < {_number(float(c.below))})"
        return f"({value} >= {_number(float(c.at_least or 0.0))})"
    if c.on_list is not None:
        return f"({lists[c.on_list]})" if c.on_list in lists else "FALSE"
    raise AssertionError("validated conditions always have a form")  # pragma: no cover


def sql_list_memberships(
    policy: CompiledPolicy,
    *,
    score: str,
    tier_rank: str,
    dimensions: Mapping[str, str],
    subject_kind: str | None = None,
) -> dict[str, str]:
    """``list_memberships`` in SQL: each list id and the SQL test that a subject is on it.

    ``subject_kind`` is the SQL expression of the subject's kind (NULL: any
    kind, as ``list_memberships`` without one), or None to ignore kinds.
    """
    members: dict[str, str] = {}
    for lst in policy.lists:
        test = sql_holds(
            lst.when,
            policy,
            score=score,
            tier_rank=tier_rank,
            dimensions=dimensions,
            lists=dict(members),
        )
        if subject_kind is not None:
            kinds = ", ".join("'" + k.replace("'", "''") + "'" for k in lst.subject_kinds)
            allowed = f"{subject_kind} IN ({kinds})" if kinds else "FALSE"
            test = f"(({subject_kind} IS NULL OR {allowed}) AND {test})"
        members[lst.id] = test
    return members


def _number(value: float) -> str:
    # Integers stay integers so a score compares as Python compares int with int.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if math.isnan(value):
        raise PlanError(
            "an entitlement condition compares with NaN; SQL orders NaN, Python does not"
        )
    if math.isinf(value):
        return "CAST('inf' AS DOUBLE)" if value > 0 else "CAST('-inf' AS DOUBLE)"
    return f"CAST({float(value)!r} AS DOUBLE)"
