"""Decisions on entitlements, with due process for restrictions, and explanations.

A benefit is granted while its condition holds. A restriction is adverse: it
takes effect only after the subject has been given notice and the notice
period has run, and it lapses after ``max_duration`` (a new notice starts a
new episode). Notices are facts the service records; the engine only reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from credence.engine.adverse_action import is_scorecard, scorecard_reasons
from credence.engine.compiled import CompiledPolicy
from credence.engine.entitlements import holds
from credence.engine.reasons import (
    Change,
    Reason,
    condition_gaps,
    expiring_soonest,
    key_factors,
    next_tier,
)
from credence.engine.scoring import Outcome
from credence.errors import EntitlementNotFound
from credence.policy.check import suggest
from credence.policy.model import Entitlement, EntitlementKind
from credence.types import DAY_US, MICROS, Notice, parse_duration

GRANTED, DENIED = "granted", "denied"
RESTRICTED, PENDING, NOT_RESTRICTED = "restricted", "pending", "not_restricted"
HELD = "held"  # an adverse outcome not applied while a dispute it rests on is open
ADVERSE = frozenset({DENIED, RESTRICTED, PENDING})


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a decision is held: the adverse ``outcome`` it would have, the open disputes it
    rests on, and the latest of their deadlines (the hold ends with them)."""

    outcome: str
    disputes: tuple[str, ...]
    until: int


@dataclass(frozen=True, slots=True)
class Statement:
    """A subject's statement on a record they disputed in vain, shown with the decision."""

    dispute: str
    provider: str
    provider_event_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to "may this subject have this?", with reasons and what would change it."""

    entitlement: str
    kind: str
    context: str
    as_of: int
    score: int
    tier: str | None
    condition_holds: bool
    outcome: str  # granted | denied | restricted | pending | not_restricted | held
    allowed: bool  # benefit granted, or no restriction in effect
    reasons: tuple[Reason, ...]
    changes: tuple[Change, ...]
    notice: Notice | None = None
    notice_needed: bool = False  # no notice was running: one is due now
    notice_issued: bool = False  # set by the service when it recorded that notice
    legal_basis: str | None = None
    reason: str | None = None
    # disputes: set by the service (credence.service.disputes)
    hold: Hold | None = None
    statements: tuple[Statement, ...] = ()
    override: str | None = None  # the id of the override that set this outcome, if any


def entitlement(policy: CompiledPolicy, entitlement_id: str) -> Entitlement:
    """The entitlement with this id.

    Raises:
        EntitlementNotFound: with a "did you mean" when the id is unknown.
    """
    found = policy.entitlements.get(entitlement_id)
    if found is None:
        known = list(policy.entitlements)
        raise EntitlementNotFound(
            f"the policy has no entitlement {entitlement_id!r}",
            suggestion=suggest(entitlement_id, known)
            or (f"known: {', '.join(known)}" if known else "the policy declares none"),
        )
    return found


def new_notice(ent: Entitlement, *, issued_at: int) -> Notice:
    """The notice to issue now for a restriction whose condition holds."""
    effective = issued_at + (ent.notice_days or 0) * DAY_US
    ends = effective + parse_duration(ent.max_duration) * MICROS if ent.max_duration else None
    return Notice(ent.id, issued_at, effective, ends)


def current_notice(notices: Sequence[Notice], entitlement_id: str, as_of: int) -> Notice | None:
    """The latest notice for this entitlement issued by ``as_of`` whose episode has not ended."""
    live = [
        n
        for n in notices
        if n.entitlement == entitlement_id
        and n.issued_at <= as_of
        and (n.ends_at is None or as_of < n.ends_at)
    ]
    return max(live, key=lambda n: n.issued_at, default=None)


def decide(
    policy: CompiledPolicy,
    outcome: Outcome,
    entitlement_id: str,
    *,
    notices: Sequence[Notice] = (),
) -> Decision:
    """Decide one entitlement for a scored subject.

    Raises:
        EntitlementNotFound: when the policy has no such entitlement.
    """
    ent = entitlement(policy, entitlement_id)
    cond = holds(
        ent.when,
        policy,
        score=outcome.score,
        tier_rank=outcome.tier_rank,
        dimensions=outcome.dimensions,
        lists=outcome.lists,
    )
    notice: Notice | None = None
    notice_needed = False
    if ent.kind is EntitlementKind.BENEFIT:
        result, allowed = (GRANTED, True) if cond else (DENIED, False)
        direction = +1 if cond else -1
    elif not cond:
        result, allowed, direction = NOT_RESTRICTED, True, +1
    else:
        direction = -1
        notice = current_notice(notices, ent.id, outcome.as_of)
        if notice is None:
            notice_needed = True
            notice = new_notice(ent, issued_at=outcome.as_of)
        in_effect = outcome.as_of >= notice.effective_at
        result, allowed = (RESTRICTED, False) if in_effect else (PENDING, True)
    # Purpose binding: reasons and expiries come from the records this entitlement may draw on.
    contexts = {ent.context, *ent.related_contexts}
    changes: list[Change] = []
    if result in (DENIED, RESTRICTED, PENDING):
        changes += expiring_soonest(policy, outcome, direction=-1, contexts=contexts)
        changes += _unique(condition_gaps(policy, ent.when, outcome, wanted=not cond))
    reasons = tuple(
        scorecard_reasons(policy, outcome)  # points lost against each best bin
        if direction < 0 and is_scorecard(policy)
        else key_factors(policy, outcome, direction=direction, contexts=contexts)
    )
    if not reasons and result in (DENIED, RESTRICTED, PENDING):
        reasons = (condition_reason(ent, changes),)
    return Decision(
        entitlement=ent.id,
        kind=ent.kind.value,
        context=ent.context,
        as_of=outcome.as_of,
        score=outcome.score,
        tier=outcome.tier,
        condition_holds=cond,
        outcome=result,
        allowed=allowed,
        reasons=reasons,
        changes=tuple(changes),
        notice=notice,
        notice_needed=notice_needed,
        legal_basis=ent.legal_basis,
        reason=ent.reason,
    )


CONDITION_REASON = "condition"  # an adverse outcome no single rule's records explain


def condition_reason(ent: Entitlement, changes: Sequence[Change]) -> Reason:
    """The reason an adverse outcome carries when no record lowers the score in its
    contexts (a subject at the base score): the condition itself, and its gap."""
    gap = next((c.text for c in changes if c.kind == "threshold"), None)
    what = "is not met" if ent.kind is EntitlementKind.BENEFIT else "holds"
    text = ent.reason or f"The condition for {ent.id} {what}"
    return Reason(CONDITION_REASON, text + (f" ({gap})" if gap else ""), 0.0, 0)


def _unique(changes: Iterable[Change]) -> list[Change]:
    """Changes in order, each said once (two tests of a condition may share a threshold)."""
    seen: set[str] = set()
    kept = []
    for change in changes:
        if change.text not in seen:
            seen.add(change.text)
            kept.append(change)
    return kept


@dataclass(frozen=True, slots=True)
class Explanation:
    """Everything a subject should see about their score."""

    outcome: Outcome
    lowering: tuple[Reason, ...]
    raising: tuple[Reason, ...]
    changes: tuple[Change, ...]


def explain(policy: CompiledPolicy, outcome: Outcome) -> Explanation:
    """Key factors both ways and what would change the score, from records of every context."""
    changes = list(expiring_soonest(policy, outcome, direction=-1))
    changes += expiring_soonest(policy, outcome, direction=+1, limit=1)
    tier_change = next_tier(policy, outcome)
    if tier_change is not None:
        changes.append(tier_change)
    return Explanation(
        outcome=outcome,
        lowering=tuple(key_factors(policy, outcome, direction=-1)),
        raising=tuple(key_factors(policy, outcome, direction=+1)),
        changes=tuple(changes),
    )
