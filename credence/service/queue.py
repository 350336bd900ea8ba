"""The review queue for operators and reviewers: what waits for a person, and its clock.

Three parts: the open cases (review requests, and disputes once they are
kept) sorted by deadline with the days left, overdue ones first; the
restrictions pending or in effect now; and the overrides in force. Naming the
subject of a restriction reads its data, so each one listed is written to that
subject's access log.
"""

from __future__ import annotations

from dataclasses import dataclass

from credence.engine import decide, score
from credence.engine.decisions import PENDING, RESTRICTED, current_notice
from credence.service.history import log_access
from credence.service.ledger import Ledger
from credence.service.overrides import Override, apply_override, overrides_in_force
from credence.service.reviews import open_reviews
from credence.service.subjects import identity
from credence.types import SubjectRef


@dataclass(frozen=True, slots=True)
class Case:
    """An open case with a deadline: a review request (or a dispute)."""

    kind: str  # review | dispute
    id: str
    subject: SubjectRef
    about: str  # the decision reviewed (entitlement), or the record disputed
    opened_at: int
    deadline: int
    days_left: int


@dataclass(frozen=True, slots=True)
class QueuedRestriction:
    """A restriction pending (notice period running) or in effect now."""

    subject: SubjectRef
    entitlement: str
    state: str  # pending | restricted
    issued_at: int
    effective_at: int
    ends_at: int | None


@dataclass(frozen=True, slots=True)
class Queue:
    """What waits for a person, as of ``at``."""

    at: int
    cases: tuple[Case, ...]
    restrictions: tuple[QueuedRestriction, ...]
    overrides: tuple[Override, ...]


def _review_cases(ledger: Ledger) -> list[Case]:
    return [
        Case(
            kind="review",
            id=r.id,
            subject=r.subject,
            about=f"decision {r.decision_id} ({r.entitlement})",
            opened_at=r.requested_at,
            deadline=r.deadline,
            days_left=r.days_left,
        )
        for r in open_reviews(ledger)
    ]


def _dispute_cases(ledger: Ledger) -> list[Case]:
    """Open disputes, with their deadlines.

    DISPUTES JOIN HERE: once ``credence.service.disputes.open_disputes`` keeps
    disputes, each open one becomes a ``Case(kind="dispute", ...)``.
    """
    return []


def _restrictions(ledger: Ledger, *, party: str) -> list[QueuedRestriction]:
    now = ledger.clock.now()
    running = ledger.store.running_notices(now)
    found: list[QueuedRestriction] = []
    seen: set[tuple[int, str]] = set()
    policy = ledger.policy_at(now)
    for subject_key, notice in running:
        if (subject_key, notice.entitlement) in seen or notice.entitlement not in (
            policy.entitlements
        ):
            continue
        seen.add((subject_key, notice.entitlement))
        row = ledger.store.subject(subject_key)
        if row is None or row.sealed_id is None:
            continue  # erased: nothing to act on
        notices = ledger.store.notices(subject_key)
        latest = current_notice(notices, notice.entitlement, now)
        if latest is None:
            continue
        outcome = score(policy, ledger.store.records(subject_key), as_of=now, subject_kind=row.kind)
        decision = apply_override(
            ledger, subject_key, decide(policy, outcome, notice.entitlement, notices=notices)
        )
        if decision.outcome not in (PENDING, RESTRICTED):
            continue  # its condition no longer holds, or an override lifted it
        log_access(
            ledger,
            subject_key,
            party=party,
            action="queue",
            context=decision.context,
            consent_id=None,
            purpose="review queue",
        )
        found.append(
            QueuedRestriction(
                subject=identity(ledger, row),
                entitlement=notice.entitlement,
                state=decision.outcome,
                issued_at=latest.issued_at,
                effective_at=latest.effective_at,
                ends_at=latest.ends_at,
            )
        )
    return sorted(found, key=lambda r: (r.state != RESTRICTED, r.effective_at, str(r.subject)))


def review_queue(ledger: Ledger, *, party: str | None = None) -> Queue:
    """The queue now: open cases by deadline, restrictions pending and in effect, overrides.

    ``party`` is who reads it (by default the operator the settings name), for the
    access log.
    """
    with ledger.unit_of_work():
        cases = _review_cases(ledger) + _dispute_cases(ledger)
        restrictions = _restrictions(ledger, party=party or ledger.settings.actor)
        overrides = overrides_in_force(ledger)
    return Queue(
        at=ledger.clock.now(),
        cases=tuple(sorted(cases, key=lambda c: (c.deadline, c.kind, c.id))),
        restrictions=tuple(restrictions),
        overrides=tuple(overrides),
    )
