"""Due process over HTTP: overrides, human review, the review queue, the notice outbox,
the subject's own notices, overrides and reviews, and the receipt key.

Operators set and end overrides and read the outbox; reviewers resolve reviews;
both read the queue. A subject asks for review of its own decisions only,
through its session. Who may do what is the service's decision
(``credence.service.access``).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from credence.api.auth import SessionDep
from credence.api.deps import LedgerDep, LedgerRoute
from credence.api.models import SUBJECT_PATTERN, Model
from credence.api.routers.operator import acting
from credence.service.notices import MAX_OUTBOX_PAGE, OUTBOX_PAGE, SubjectNotice, outbox
from credence.service.overrides import (
    Override,
    end_override,
    overrides_in_force,
    own_overrides,
    set_override,
)
from credence.service.parties import Party
from credence.service.queue import review_queue
from credence.service.receipts import ledger_public_key
from credence.service.reviews import Review, own_reviews, request_review, resolve_review
from credence.types import SubjectRef, format_time, to_micros

router = APIRouter(route_class=LedgerRoute)
# Tags name the party each route serves, as in the other routers.
_OPERATOR: list[str | Enum] = ["operator"]
_SUBJECTS: list[str | Enum] = ["subjects"]
_REVIEWERS: list[str | Enum] = ["reviewers"]

OverrideManager = Annotated[Party, Depends(acting("overrides.manage"))]
Reviewer = Annotated[Party, Depends(acting("reviews.resolve"))]
QueueReader = Annotated[Party, Depends(acting("queue.read"))]
OutboxReader = Annotated[Party, Depends(acting("notices.outbox"))]
Id = Annotated[str, Path(min_length=1, max_length=100)]


def _t(value: int | None) -> str | None:
    return None if value is None else format_time(value)


# --- receipts --------------------------------------------------------------------------
class PublicKeyOut(BaseModel):
    """The ledger's Ed25519 public key: it checks decision receipts and checkpoints offline."""

    key_id: str
    public_key_pem: str


@router.get(
    "/receipts/public-key", tags=_OPERATOR, response_model=PublicKeyOut, summary="The receipt key"
)
def get_public_key(ledger: LedgerDep) -> PublicKeyOut:
    """The public key that checks every receipt this ledger signs; open to anyone (it is public)."""
    key = ledger_public_key(ledger)
    return PublicKeyOut(key_id=key.key_id, public_key_pem=key.pem)


# --- overrides -------------------------------------------------------------------------
class OverrideIn(Model):
    """An outcome to set by hand for one subject and one entitlement."""

    subject: str = Field(min_length=3, max_length=512, pattern=SUBJECT_PATTERN)
    entitlement: str = Field(min_length=1, max_length=200)
    outcome: str = Field(
        min_length=1,
        max_length=40,
        description="granted or denied for a benefit; not_restricted for a restriction.",
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why; the subject reads it.")
    ends_at: AwareDatetime | None = Field(
        default=None, description="At most 1 year from now (the default)."
    )


class OverrideOut(BaseModel):
    """An override: whom it is for, what it sets, why, by whom, until when, and its state."""

    id: str
    subject: str
    entitlement: str
    outcome: str
    reason: str
    set_by: str
    set_at: str
    ends_at: str
    ended_at: str | None
    ended_by: str | None
    review_id: str | None
    state: str


def override_out(o: Override, *, show_subject: bool = True) -> OverrideOut:
    return OverrideOut(
        id=o.id,
        subject=str(o.subject) if show_subject else "me",
        entitlement=o.entitlement,
        outcome=o.outcome,
        reason=o.reason,
        set_by=o.set_by,
        set_at=format_time(o.set_at),
        ends_at=format_time(o.ends_at),
        ended_at=_t(o.ended_at),
        ended_by=o.ended_by,
        review_id=o.review_id,
        state=o.state,
    )


@router.post(
    "/operator/overrides",
    tags=_OPERATOR,
    response_model=OverrideOut,
    status_code=201,
    summary="Set an override (operator)",
)
def post_override(body: OverrideIn, ledger: LedgerDep, party: OverrideManager) -> OverrideOut:
    """Set the outcome of one entitlement for one subject, with a reason, until an end date."""
    made = set_override(
        ledger,
        SubjectRef.parse(body.subject),
        body.entitlement,
        outcome=body.outcome,
        reason=body.reason,
        ends_at=None if body.ends_at is None else to_micros(body.ends_at),
        by=party.name,
    )
    return override_out(made)


@router.get(
    "/operator/overrides",
    tags=_OPERATOR,
    response_model=list[OverrideOut],
    summary="Overrides in force (operator)",
)
def get_overrides(ledger: LedgerDep, _party: OverrideManager) -> list[OverrideOut]:
    """Every override in force now, soonest to end first."""
    return [override_out(o) for o in overrides_in_force(ledger)]


@router.delete(
    "/operator/overrides/{override_id}",
    tags=_OPERATOR,
    response_model=OverrideOut,
    summary="End an override early (operator)",
)
def delete_override(override_id: Id, ledger: LedgerDep, party: OverrideManager) -> OverrideOut:
    """End an override now; decisions are the engine's again at once."""
    return override_out(end_override(ledger, override_id, by=party.name))


@router.get(
    "/me/overrides",
    tags=_SUBJECTS,
    response_model=list[OverrideOut],
    summary="Overrides of my outcomes",
)
def get_my_overrides(ledger: LedgerDep, session: SessionDep) -> list[OverrideOut]:
    """Every override set for the subject, ended and expired ones included, oldest first."""
    return [override_out(o) for o in own_overrides(ledger, session)]


# --- human review ----------------------------------------------------------------------
class ReviewRequestIn(Model):
    """Ask for a person to review one decision from your decision log."""

    decision_id: str = Field(
        min_length=1, max_length=100, examples=["dec_d45e9988b66f204d1983f9f3"]
    )
    statement: str = Field(
        default="", max_length=4000, description="What you want the reviewer to know."
    )


class ReviewOut(BaseModel):
    """A review request with its clock and, once resolved, its result."""

    id: str
    subject: str
    decision_id: str
    entitlement: str
    statement: str
    requested_at: str
    deadline: str
    days_left: int
    state: str
    resolved_at: str | None
    reviewer: str | None
    resolution: str | None
    override_id: str | None


def review_out(r: Review) -> ReviewOut:
    return ReviewOut(
        id=r.id,
        subject=str(r.subject),
        decision_id=r.decision_id,
        entitlement=r.entitlement,
        statement=r.statement,
        requested_at=format_time(r.requested_at),
        deadline=format_time(r.deadline),
        days_left=r.days_left,
        state=r.state,
        resolved_at=_t(r.resolved_at),
        reviewer=r.reviewer,
        resolution=r.resolution,
        override_id=r.override_id,
    )


@router.post(
    "/me/reviews",
    tags=_SUBJECTS,
    response_model=ReviewOut,
    status_code=201,
    summary="Ask for human review",
)
def post_my_review(body: ReviewRequestIn, ledger: LedgerDep, session: SessionDep) -> ReviewOut:
    """Ask for a person to review a decision about you; a reviewer answers within 30 days."""
    return review_out(request_review(ledger, session, body.decision_id, statement=body.statement))


@router.get(
    "/me/reviews", tags=_SUBJECTS, response_model=list[ReviewOut], summary="My review requests"
)
def get_my_reviews(ledger: LedgerDep, session: SessionDep) -> list[ReviewOut]:
    """Every review you asked for, oldest first, with its deadline and result."""
    return [review_out(r) for r in own_reviews(ledger, session)]


class ResolutionIn(Model):
    """A reviewer's answer: confirm the decision, or override it."""

    resolution: str = Field(min_length=1, max_length=20, description="confirmed or overridden")
    reason: str = Field(min_length=1, max_length=2000, description="Why; the subject is told.")
    outcome: str | None = Field(
        default=None, max_length=40, description="For overridden: the outcome to set."
    )
    ends_at: AwareDatetime | None = Field(
        default=None, description="For overridden: the override's end (default and most: 1 year)."
    )


@router.post(
    "/reviews/{review_id}/resolution",
    tags=_REVIEWERS,
    response_model=ReviewOut,
    summary="Resolve a review (reviewers)",
)
def post_resolution(
    review_id: Id, body: ResolutionIn, ledger: LedgerDep, party: Reviewer
) -> ReviewOut:
    """Confirm the reviewed decision or override it; the subject is given a notice of it."""
    return review_out(
        resolve_review(
            ledger,
            review_id,
            resolution=body.resolution,
            reason=body.reason,
            reviewer=party.name,
            outcome=body.outcome,
            ends_at=None if body.ends_at is None else to_micros(body.ends_at),
        )
    )


# --- the review queue ------------------------------------------------------------------
class CaseOut(BaseModel):
    """An open case with its deadline and days left (zero or below: overdue)."""

    kind: str
    id: str
    subject: str
    about: str
    opened_at: str
    deadline: str
    days_left: int


class QueuedRestrictionOut(BaseModel):
    """A restriction pending (notice period running) or in effect."""

    subject: str
    entitlement: str
    state: str
    issued_at: str
    effective_at: str
    ends_at: str | None


class QueueOut(BaseModel):
    """What waits for a person: cases by deadline, restrictions, overrides in force."""

    at: str
    cases: list[CaseOut]
    restrictions: list[QueuedRestrictionOut]
    overrides: list[OverrideOut]


@router.get(
    "/queue",
    tags=_OPERATOR,
    response_model=QueueOut,
    summary="The review queue (operators, reviewers)",
)
def get_queue(ledger: LedgerDep, party: QueueReader) -> QueueOut:
    """Open reviews and disputes by deadline, restrictions pending and in effect, overrides."""
    q = review_queue(ledger, party=party.name)
    return QueueOut(
        at=format_time(q.at),
        cases=[
            CaseOut(
                kind=c.kind,
                id=c.id,
                subject=str(c.subject),
                about=c.about,
                opened_at=format_time(c.opened_at),
                deadline=format_time(c.deadline),
                days_left=c.days_left,
            )
            for c in q.cases
        ],
        restrictions=[
            QueuedRestrictionOut(
                subject=str(r.subject),
                entitlement=r.entitlement,
                state=r.state,
                issued_at=format_time(r.issued_at),
                effective_at=format_time(r.effective_at),
                ends_at=_t(r.ends_at),
            )
            for r in q.restrictions
        ],
        overrides=[override_out(o) for o in q.overrides],
    )


# --- notices ---------------------------------------------------------------------------
class SubjectNoticeOut(BaseModel):
    """A notice given to a subject: what it is about and what it says."""

    seq: int
    kind: str
    entitlement: str
    outcome: str | None
    decision_id: str | None
    issued_at: str
    dispute_by: str | None
    body: dict[str, Any]


def subject_notice_out(n: SubjectNotice) -> SubjectNoticeOut:
    return SubjectNoticeOut(
        seq=n.seq,
        kind=n.kind,
        entitlement=n.entitlement,
        outcome=n.outcome,
        decision_id=n.decision_id,
        issued_at=format_time(n.issued_at),
        dispute_by=_t(n.dispute_by),
        body=n.body,
    )


class OutboxItemOut(SubjectNoticeOut):
    """A notice to deliver, with the subject it is for."""

    subject: str


class OutboxOut(BaseModel):
    """Notices after the cursor, in order; ask again with ``after=next_after``."""

    notices: list[OutboxItemOut]
    next_after: int
    more: bool


@router.get(
    "/operator/notices",
    tags=_OPERATOR,
    response_model=OutboxOut,
    summary="The notice outbox (operator)",
)
def get_outbox(
    ledger: LedgerDep,
    party: OutboxReader,
    after: Annotated[int, Query(ge=0, le=2**62, description="The last seq delivered")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_OUTBOX_PAGE)] = OUTBOX_PAGE,
) -> OutboxOut:
    """The next notices to deliver after seq ``after``, in seq order, at least once."""
    page = outbox(ledger, after=after, limit=limit, party=party.name)
    return OutboxOut(
        notices=[
            OutboxItemOut(subject=str(i.subject), **subject_notice_out(i.notice).model_dump())
            for i in page.items
        ],
        next_after=page.next_after,
        more=page.more,
    )
