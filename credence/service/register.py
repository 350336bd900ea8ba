"""The public transparency register: what the policy in effect does, to how many, and what changes.

Anyone may read it, signed in or not, so it says nothing about any one
subject. It is generated from the stored policy versions: what each
behaviour counts and for how long, the tiers, every benefit and restriction
with its context, notice period, maximum duration and legal basis; then
aggregate figures — subjects per tier, disputes filed, upheld and lapsed, and
the median days to resolve one — where any figure drawn from fewer than
``SUPPRESS_BELOW`` subjects is withheld (``None``, shown as "fewer than 10").
When one tier alone would be withheld, the next smallest is withheld too, so
the total cannot give it away. Last come the upcoming policy changes:
versions activated to take effect later, each with its semantic diff against
the version in effect now.

Counting tiers scores every subject, so the figures are kept for
``CACHE_SECONDS`` per ledger head and policy version.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

from credence.engine import score
from credence.engine.conditions import describe
from credence.engine.disputes import LAPSED, UPHELD
from credence.ledger import StoredPolicy
from credence.policy import parse_policy
from credence.policy.diff import Change, diff
from credence.policy.model import (
    Cap,
    Entitlement,
    EntitlementCondition,
    EventType,
    Policy,
    Tier,
)
from credence.service import disputes
from credence.service.ledger import Ledger, version_in_effect
from credence.types import DAY_US

SUPPRESS_BELOW = 10
CACHE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class RuleEntry:
    """What one rule counts, by how much, and for how long."""

    id: str
    reason: str
    when: tuple[str, ...]  # conditions, as people read them: ``days_late > 30``
    points: float
    per: str | None  # points are multiplied by this attribute
    dimension: str
    group: str | None
    half_life: str | None
    expires_after: str | None  # None only for a rule that cannot lower a score
    cap: Cap | None


@dataclass(frozen=True, slots=True)
class BehaviourEntry:
    """One kind of record, the context it belongs to, who may send it, and its rules."""

    event: EventType
    rules: tuple[RuleEntry, ...]


@dataclass(frozen=True, slots=True)
class TierCount:
    """Subjects in one tier now; ``subjects`` is None when withheld (fewer than 10)."""

    tier: Tier
    subjects: int | None


@dataclass(frozen=True, slots=True)
class DisputeFigures:
    """Disputes filed, upheld and lapsed, and the median days to resolve one (None: withheld)."""

    filed: int | None
    upheld: int | None
    lapsed: int | None
    median_days_to_resolve: float | None


@dataclass(frozen=True, slots=True)
class UpcomingChange:
    """A version activated to take effect later, and what it changes against the one in effect."""

    name: str
    version: str
    activated_at: int
    effective_at: int
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class Register:
    """Everything the public register shows."""

    as_of: int
    policy: Policy
    version: StoredPolicy
    behaviours: tuple[BehaviourEntry, ...]
    entitlements: tuple[Entitlement, ...]
    subjects: int | None  # None: fewer than 10
    tiers: tuple[TierCount, ...]
    disputes: DisputeFigures
    upcoming: tuple[UpcomingChange, ...]


def suppress(count: int) -> int | None:
    """A count fit to publish: withheld (None) below ``SUPPRESS_BELOW``."""
    return count if count >= SUPPRESS_BELOW else None


def suppress_cells(counts: list[int]) -> list[int | None]:
    """Each count withheld below the threshold; one withheld non-zero cell takes the next with it.

    Beside a published total a single withheld cell is a subtraction away, so
    the smallest published cell is withheld too.
    """
    shown: list[int | None] = [suppress(c) for c in counts]
    hidden = [i for i, c in enumerate(shown) if c is None]
    if len(hidden) == 1 and counts[hidden[0]] > 0:
        rest = [i for i, c in enumerate(shown) if c is not None]
        if rest:
            shown[min(rest, key=lambda i: counts[i])] = None
    return shown


def _behaviours(policy: Policy) -> tuple[BehaviourEntry, ...]:
    entries = []
    for event in policy.event_types:
        rules = tuple(
            RuleEntry(
                id=r.id,
                reason=r.reason,
                when=tuple(describe(c) for c in r.when),
                points=r.points,
                per=r.per,
                dimension=r.dimension or "general",
                group=r.group,
                half_life=r.half_life,
                expires_after=r.expires_after,
                cap=r.cap,
            )
            for r in policy.rules
            if r.type == event.id
        )
        entries.append(BehaviourEntry(event, rules))
    return tuple(entries)


_cache: dict[tuple[int, int, bytes, object, str], tuple[float, tuple[int, list[int]]]] = {}
_cache_lock = threading.Lock()


def _tier_counts(ledger: Ledger, at: int) -> tuple[int, list[int]]:
    """How many subjects are scored now, and how many in each tier (highest first)."""
    head = ledger.store.chain_head()
    policy = ledger.policy_at(at)
    # events: an erasure or a dispute's outcome changes who counts without a new record
    key = (id(ledger.store), head.seq, head.chain_hash, head.events, policy.policy.version)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    counts = dict.fromkeys(policy.tier_ids, 0)
    total = 0
    struck = disputes.ledger_struck_keys(ledger)  # what upheld and lapsed disputes dropped
    for row, stored in ledger.store.subjects_with_records():
        if not stored or row.sealed_id is None:
            continue
        records = disputes.without_struck(stored, struck)
        outcome = score(policy, records, as_of=at, subject_kind=row.kind)
        total += 1
        if outcome.tier is not None:
            counts[outcome.tier] += 1
    result = (total, [counts[t] for t in policy.tier_ids])
    with _cache_lock:
        _cache.clear()  # one ledger head at a time is all the register needs
        _cache[key] = (now, result)
    return result


def tier_distribution(ledger: Ledger) -> tuple[int, list[tuple[Tier, int]]]:
    """Subjects scored now and the exact count per tier: for the operator, never published."""
    at = ledger.clock.now()
    total, counts = _tier_counts(ledger, at)
    return total, list(zip(ledger.policy_at(at).policy.tiers, counts, strict=True))


def dispute_figures(ledger: Ledger) -> DisputeFigures:
    """Disputes filed, upheld and lapsed, and the median days to resolve one, fit to publish.

    Each figure is withheld when fewer than ``SUPPRESS_BELOW`` subjects stand
    behind it; the median counts every dispute that has ended (lapsed ones at
    their deadline).
    """
    now = ledger.clock.now()
    views = [(row.subject_key, disputes.view(row, now=now)) for row in ledger.store.all_disputes()]

    def count(wanted: set[str] | None) -> int | None:
        chosen = [(k, v) for k, v in views if wanted is None or v.state in wanted]
        return len(chosen) if len({k for k, _ in chosen}) >= SUPPRESS_BELOW else None

    ended = [(k, v) for k, v in views if v.resolved_at is not None]
    median = None
    if len({k for k, _ in ended}) >= SUPPRESS_BELOW:
        median = statistics.median(
            (v.resolved_at - v.filed_at) / DAY_US for _, v in ended if v.resolved_at is not None
        )
    return DisputeFigures(
        filed=count(None),
        upheld=count({UPHELD}),
        lapsed=count({LAPSED}),
        median_days_to_resolve=median,
    )


def _upcoming(ledger: Ledger, at: int) -> tuple[UpcomingChange, ...]:
    versions = ledger.store.policy_versions()
    current = version_in_effect(versions, at)
    if current is None:
        return ()
    before = parse_policy(current.source, origin="policy in effect").policy
    found = []
    for v in sorted((v for v in versions if v.effective > at), key=lambda v: v.effective):
        after = parse_policy(v.source, origin=f"ledger policy {v.name} {v.version}").policy
        found.append(
            UpcomingChange(
                v.name, v.version, v.activated_at, v.effective, tuple(diff(before, after))
            )
        )
        before = after  # each change is read against the version it follows
    return tuple(found)


def register(ledger: Ledger) -> Register:
    """The public register now: no sign-in, nothing about any one subject."""
    at = ledger.clock.now()
    with ledger.unit_of_work():
        stored = ledger.stored_policy_at(at)
        policy = ledger.policy_at(at).policy
        total, counts = _tier_counts(ledger, at)
        figures = dispute_figures(ledger)
        upcoming = _upcoming(ledger, at)
    shown = suppress_cells(counts)
    return Register(
        as_of=at,
        policy=policy,
        version=stored,
        behaviours=_behaviours(policy),
        entitlements=tuple(policy.entitlements),
        subjects=suppress(total),
        tiers=tuple(TierCount(t, c) for t, c in zip(policy.tiers, shown, strict=True)),
        disputes=figures,
        upcoming=upcoming,
    )


def condition_parts(condition: EntitlementCondition) -> dict[str, Any]:
    """An entitlement's condition as plain data (for rendering): only the fields it sets."""
    return condition.model_dump(exclude_none=True)
