"""Redemption: which records no longer affect any score, so their data may be purged.

Pure, like the rest of the engine: the policy and one subject's records in,
the records whose personal data may go out. A record may go only when
removing it changes no score at the purge time or later.
"""

from __future__ import annotations

from collections.abc import Sequence

from credence.engine.compiled import CompiledPolicy, CompiledRule, period_bounds
from credence.engine.scoring import considered_records, cured_at
from credence.types import Record


def _cure_spans(policy: CompiledPolicy) -> dict[str, int | None]:
    """For each cure type: the longest expiry among the rules it cures (None: one never expires).

    A cure record stays while a record it cured could still count without it.
    """
    spans: dict[str, int | None] = {}
    for rule in policy.rules:
        if rule.cured_by is None:
            continue
        current = spans.get(rule.cured_by, 0)
        if rule.expires_us is None or current is None:
            spans[rule.cured_by] = None
        else:
            spans[rule.cured_by] = max(current, rule.expires_us)
    return spans


def _match(policy: CompiledPolicy, record: Record) -> list[CompiledRule] | None:
    """The rules a record counts under, first hit per rule group; None for none."""
    hits = []
    for matchers in policy.passes:
        match = matchers.get(record.type)
        rule = None if match is None else match(record.attributes)
        if rule is not None:
            hits.append(rule)
    return hits or None


def _deadline(
    rule: CompiledRule, record: Record, cures: dict[str, list[int]], expires_us: int
) -> int:
    """When a record stops counting under one rule, for every as-of time (caps included)."""
    _, _, _, limit, period, _, _, _ = rule.step
    occurred = record.occurred_at
    if limit is not None:
        _, end = period_bounds(period, occurred)
        return end - 1 + expires_us
    deadline = occurred + expires_us
    if rule.cured_by is not None:
        cured = cured_at(cures.get(rule.cured_by), occurred, rule.min_period_us)
        if cured is not None:
            deadline = min(deadline, cured)
    return deadline


def purgeable(
    policy: CompiledPolicy, records: Sequence[Record], *, as_of: int, grace_us: int
) -> list[Record]:
    """The records of one subject that may be purged as of ``as_of``: past expiry plus grace.

    Purging them changes no score at ``as_of`` or later, because each is
    either past its rule's expiry (for a capped rule: past the expiry of the
    last record its cap period could hold), or withdrawn together with its
    retraction. Positive rules without expiry, records matching no rule, and
    cure records that could still matter are kept.
    """
    cutoff = as_of - grace_us
    kept = considered_records(records, as_of)
    cures: dict[str, list[int]] = {}
    for record in kept:
        if record.type in policy.cure_types:
            cures.setdefault(record.type, []).append(record.occurred_at)
    spans = _cure_spans(policy) if policy.cure_types else {}
    out: list[Record] = []
    for record in kept:
        hits = _match(policy, record)
        # With rule groups a record may count under several rules: it goes when all have.
        if hits is None or any(rule.expires_us is None for rule in hits):
            continue
        deadline = max(_deadline(rule, record, cures, rule.expires_us or 0) for rule in hits)
        occurred = record.occurred_at
        if record.type in spans:
            span = spans[record.type]
            if span is None:
                continue
            deadline = max(deadline, occurred + span)
        if deadline <= cutoff:
            out.append(record)
    retractions: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        if record.retracts is not None:
            retractions.setdefault((record.provider, record.retracts), []).append(record)
    if retractions:
        for record in records:
            withdrawing = retractions.get(record.key)
            if withdrawing is None or record.retracts is not None:
                continue
            hits = _match(policy, record)
            if hits is None or any(rule.expires_us is None for rule in hits):
                continue
            if record.occurred_at + max(rule.expires_us or 0 for rule in hits) <= cutoff:
                out.append(record)
                out.extend(withdrawing)
    return out
