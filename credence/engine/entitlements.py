"""Entitlement and list conditions over a subject's outcome (DESIGN.md step 9)."""

from __future__ import annotations

from collections.abc import Mapping

from credence.engine.compiled import CompiledPolicy
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
