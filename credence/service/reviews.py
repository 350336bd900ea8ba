"""Human review (GDPR Art. 22(3)): a subject asks a person to review a decision about them.

A request names one decision from the subject's decision log, with an
optional statement. A reviewer resolves it within ``REVIEW_DAYS`` days:
``confirmed`` (the decision stands, with the reviewer's reason) or
``overridden`` (an override for that subject and entitlement, set by the
reviewer, with the reason and an end date of at most a year). The subject is
given a notice of the result. States::

    open ──► confirmed
      └────► overridden

Every other transition is refused with ``review.conflict``; a second open
request for the same decision too. A request past its deadline stays open
and heads the queue (days left below zero): a person must still answer it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from credence.errors import DecisionNotFound, ReviewConflict, ReviewInvalid, ReviewNotFound
from credence.ledger import DecisionRow, SubjectRow
from credence.ledger.redress import ReviewRow
from credence.service.ledger import Ledger
from credence.service.notices import give_notice
from credence.service.overrides import add_override
from credence.service.sessions import SubjectSession, check_session
from credence.service.subjects import identity, resolve
from credence.types import DAY_US, SubjectRef, format_time

REVIEW_DAYS = 30
MAX_STATEMENT_CHARS = 4000
MAX_REASON_CHARS = 2000
OPEN, CONFIRMED, OVERRIDDEN = "open", "confirmed", "overridden"
TRANSITIONS: dict[str, frozenset[str]] = {
    OPEN: frozenset({CONFIRMED, OVERRIDDEN}),
    CONFIRMED: frozenset(),
    OVERRIDDEN: frozenset(),
}


def days_left(deadline: int, now: int) -> int:
    """Whole days until ``deadline`` (rounded down; below zero once it has passed)."""
    return (deadline - now) // DAY_US


@dataclass(frozen=True, slots=True)
class Review:
    """A review request as shown, with its clock."""

    id: str
    subject: SubjectRef
    decision_id: str
    entitlement: str
    statement: str
    requested_at: int
    deadline: int
    days_left: int
    state: str
    resolved_at: int | None
    reviewer: str | None
    resolution: str | None
    override_id: str | None


def _view(ledger: Ledger, row: ReviewRow, ref: SubjectRef | None = None) -> Review:
    if ref is None:
        stored = ledger.store.subject(row.subject_key)
        ref = identity(ledger, stored) if stored is not None else SubjectRef("-", "-")
    return Review(
        id=row.id,
        subject=ref,
        decision_id=row.decision_id,
        entitlement=row.entitlement,
        statement=row.statement,
        requested_at=row.requested_at,
        deadline=row.deadline,
        days_left=days_left(row.deadline, ledger.clock.now()),
        state=row.state,
        resolved_at=row.resolved_at,
        reviewer=row.reviewer,
        resolution=row.resolution,
        override_id=row.override_id,
    )


def _decision(ledger: Ledger, subject_key: int, decision_id: str) -> DecisionRow:
    for logged in ledger.store.decisions(subject_key):
        if logged.id == decision_id:
            return logged
    raise DecisionNotFound(
        f"no decision {decision_id} in your decision log",
        suggestion="GET /v1/me/decisions lists every decision made about you, with its id",
    )


def _request(
    ledger: Ledger, row: SubjectRow, ref: SubjectRef, decision_id: str, statement: str
) -> Review:
    text = statement.strip()
    if len(text) > MAX_STATEMENT_CHARS:
        raise ReviewInvalid(f"a statement may be at most {MAX_STATEMENT_CHARS} characters")
    decision = _decision(ledger, row.key, decision_id)
    for earlier in ledger.store.reviews(row.key):
        if earlier.decision_id == decision_id and earlier.state == OPEN:
            raise ReviewConflict(
                f"review {earlier.id} of decision {decision_id} is open already, due by "
                f"{format_time(earlier.deadline)}",
                details={"review_id": earlier.id},
            )
    now = ledger.clock.now()
    stored = ReviewRow(
        id="rev_" + secrets.token_hex(12),
        subject_key=row.key,
        decision_id=decision_id,
        entitlement=decision.entitlement,
        statement=text,
        requested_at=now,
        deadline=now + REVIEW_DAYS * DAY_US,
        state=OPEN,
    )
    ledger.store.add_review(stored)
    return _view(ledger, stored, ref)


def request_review(
    ledger: Ledger, session: SubjectSession, decision_id: str, *, statement: str = ""
) -> Review:
    """The signed-in subject asks for a person to review one of its decisions.

    Raises:
        AuthenticationFailed: when the session has expired.
        DecisionNotFound: when the decision is not in the subject's own decision log.
        ReviewConflict: when a review of that decision is open already.
        ReviewInvalid: for a statement over ``MAX_STATEMENT_CHARS`` characters.
    """
    check_session(ledger, session)
    with ledger.unit_of_work():
        row = ledger.store.subject(session.subject_key)
        if row is None:
            raise DecisionNotFound("your record is no longer in the ledger")
        return _request(ledger, row, session.subject, decision_id, statement)


def request_review_for(
    ledger: Ledger, ref: SubjectRef, decision_id: str, *, statement: str = ""
) -> Review:
    """Record a subject's request for review made another way (by letter, at a desk).

    Raises:
        SubjectNotFound, IdentifierError; otherwise as ``request_review``.
    """
    with ledger.unit_of_work():
        row = resolve(ledger, ref)
        return _request(ledger, row, identity(ledger, row), decision_id, statement)


def resolve_review(
    ledger: Ledger,
    review_id: str,
    *,
    resolution: str,
    reason: str,
    reviewer: str | None = None,
    outcome: str | None = None,
    ends_at: int | None = None,
) -> Review:
    """A reviewer confirms the decision or overrides it; the subject is given a notice.

    ``overridden`` needs the ``outcome`` to set (and takes an optional ``ends_at``,
    by default one year); it sets an override named after this review.

    Raises:
        ReviewNotFound: for an unknown review.
        ReviewConflict: when the review is not open (it was resolved already).
        ReviewInvalid: for a resolution other than confirmed or overridden, an empty or
            too long reason, or an override without an outcome.
        OverrideInvalid, OverrideConflict: when the override cannot be set.
    """
    name = reviewer or ledger.settings.actor
    if resolution not in (CONFIRMED, OVERRIDDEN):
        raise ReviewInvalid(
            f"a review is resolved as {CONFIRMED!r} or {OVERRIDDEN!r}, not {resolution!r}"
        )
    text = reason.strip()
    if not text or len(text) > MAX_REASON_CHARS:
        raise ReviewInvalid(
            f"a resolution needs a written reason of 1 to {MAX_REASON_CHARS} characters",
            suggestion="the subject is told it",
        )
    if resolution == OVERRIDDEN and not outcome:
        raise ReviewInvalid(
            "overriding needs the outcome to set",
            suggestion="pass outcome: granted or denied (benefit), not_restricted (restriction)",
        )
    if resolution == CONFIRMED and (outcome is not None or ends_at is not None):
        raise ReviewInvalid("confirming keeps the decision: it takes no outcome or end date")
    with ledger.unit_of_work():
        found = ledger.store.review(review_id)
        if found is None:
            raise ReviewNotFound(
                f"no review {review_id}", suggestion="`credence queue` lists the open ones"
            )
        if resolution not in TRANSITIONS[found.state]:
            raise ReviewConflict(
                f"review {review_id} is {found.state}: it cannot become {resolution}",
                suggestion="only an open review can be resolved, once",
            )
        row = ledger.store.subject(found.subject_key)
        assert row is not None  # subjects are erased, never deleted
        override_id = None
        if resolution == OVERRIDDEN:
            assert outcome is not None
            override_id = add_override(
                ledger,
                row,
                found.entitlement,
                outcome=outcome,
                reason=text,
                ends_at=ends_at,
                by=name,
                review_id=review_id,
            ).id
        now = ledger.clock.now()
        if not ledger.store.resolve_review(
            review_id,
            state=resolution,
            at=now,
            reviewer=name,
            resolution=text,
            override_id=override_id,
        ):
            raise ReviewConflict(f"review {review_id} was resolved meanwhile")
        give_notice(
            ledger,
            row.key,
            kind="review",
            entitlement=found.entitlement,
            outcome=outcome,
            decision_id=found.decision_id,
            body={
                "title": f"a person reviewed decision {found.decision_id}: {resolution}",
                "review_id": review_id,
                "decision_id": found.decision_id,
                "entitlement": found.entitlement,
                "result": resolution,
                "reason": text,
                "reviewer": name,
                "override_id": override_id,
                "resolved_at": format_time(now),
            },
        )
        resolved = ledger.store.review(review_id)
        assert resolved is not None
        return _view(ledger, resolved, identity(ledger, row))


def own_reviews(ledger: Ledger, session: SubjectSession) -> list[Review]:
    """Every review the signed-in subject asked for, oldest first, with their clocks.

    Raises:
        AuthenticationFailed: when the session has expired.
    """
    check_session(ledger, session)
    with ledger.unit_of_work():
        rows = ledger.store.reviews(session.subject_key)
        return [_view(ledger, r, session.subject) for r in rows]


def subject_reviews(ledger: Ledger, ref: SubjectRef) -> list[Review]:
    """Every review of one subject, oldest first (the operator's view)."""
    with ledger.unit_of_work():
        row = resolve(ledger, ref)
        named = identity(ledger, row)
        return [_view(ledger, r, named) for r in ledger.store.reviews(row.key)]


def open_reviews(ledger: Ledger) -> list[Review]:
    """Every open review request, soonest deadline first (overdue ones head the list)."""
    with ledger.unit_of_work():
        return [_view(ledger, r) for r in ledger.store.open_reviews()]
