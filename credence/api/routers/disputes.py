"""Disputes: subjects file them on their records, providers answer, reviewers resolve.

``/v1/me/disputes`` is the signed-in subject's own; ``/v1/provider/disputes``
lists the disputes of the calling provider's records; ``/v1/disputes`` is the
review queue of reviewers and operators. Who may do what is decided in
``credence.service.disputes``, where the command line gets the same answers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from credence.api.auth import PartyDep, SessionDep
from credence.api.deps import LedgerDep, LedgerRoute
from credence.api.models import Model
from credence.service import disputes as service
from credence.service.disputes import DisputeView
from credence.types import format_time

router = APIRouter(route_class=LedgerRoute)
DisputeId = Annotated[str, Path(min_length=1, max_length=100)]
_TEXT = 5_000
_URL = 2_000


class NoteOut(BaseModel):
    """Information the subject added."""

    at: str
    text: str
    evidence: str | None


class DisputeOut(BaseModel):
    """A dispute as it stands now: an open one past its deadline reads ``lapsed``."""

    id: str
    record: str
    provider: str
    provider_event_id: str
    statement: str
    evidence: str | None
    information: list[NoteOut]
    state: Literal["open", "upheld", "rejected", "lapsed", "frivolous"]
    filed_at: str
    deadline: str
    extended: bool
    days_left: int
    provider_due: str
    answer: str | None
    correcting_record: str | None
    answered_at: str | None
    resolution: str | None
    resolved_at: str | None
    reason: str | None


def dispute_out(v: DisputeView) -> DisputeOut:
    return DisputeOut(
        id=v.id,
        record=v.record,
        provider=v.provider,
        provider_event_id=v.provider_event_id,
        statement=v.statement,
        evidence=v.evidence,
        information=[
            NoteOut(at=format_time(n.at), text=n.text, evidence=n.evidence) for n in v.notes
        ],
        state=v.state,
        filed_at=format_time(v.filed_at),
        deadline=format_time(v.deadline),
        extended=v.extended,
        days_left=v.days_left,
        provider_due=format_time(v.provider_due),
        answer=v.answer,
        correcting_record=v.answer_record,
        answered_at=None if v.answered_at is None else format_time(v.answered_at),
        resolution=v.resolution,
        resolved_at=None if v.resolved_at is None else format_time(v.resolved_at),
        reason=v.reason,
    )


class DisputeIn(Model):
    """A dispute of one of the subject's records."""

    record: str = Field(
        min_length=3,
        max_length=400,
        examples=["rent-it:a7"],
        description="The record's id as GET /v1/me/records shows it: provider:provider_event_id",
    )
    statement: str = Field(min_length=1, max_length=_TEXT, examples=["The item was not damaged"])
    evidence_url: str | None = Field(
        default=None, max_length=_URL, examples=["https://example.org/photo.jpg"]
    )


class InformationIn(Model):
    """More information for an open dispute (within 30 days of filing, extends it by 15)."""

    text: str = Field(min_length=1, max_length=_TEXT, examples=["The shop's receipt"])
    evidence_url: str | None = Field(default=None, max_length=_URL)


class AnswerIn(Model):
    """The provider's answer; a correction names the correcting record it sent."""

    answer: Literal["verified", "corrected", "retracted"]
    correcting_record: str | None = Field(
        default=None, max_length=400, description="provider_event_id of the correcting record"
    )


class ResolutionIn(Model):
    """A reviewer's resolution, with the reason the subject is told."""

    outcome: Literal["upheld", "rejected", "frivolous"]
    reason: str = Field(min_length=1, max_length=_TEXT, examples=["The provider verified it"])


@router.post(
    "/me/disputes",
    response_model=DisputeOut,
    status_code=201,
    tags=["subjects"],
    summary="Dispute one of my records",
)
def post_my_dispute(body: DisputeIn, ledger: LedgerDep, session: SessionDep) -> DisputeOut:
    """File a dispute of one of your records; it is decided within 30 days or lapses."""
    return dispute_out(
        service.file_dispute(ledger, session, body.record, body.statement, body.evidence_url)
    )


@router.get(
    "/me/disputes", response_model=list[DisputeOut], tags=["subjects"], summary="My disputes"
)
def get_my_disputes(ledger: LedgerDep, session: SessionDep) -> list[DisputeOut]:
    """Every dispute you filed, oldest first, as it stands now."""
    return [dispute_out(v) for v in service.own_disputes(ledger, session)]


@router.post(
    "/me/disputes/{dispute_id}/information",
    response_model=DisputeOut,
    tags=["subjects"],
    summary="Add information to my dispute",
)
def post_my_dispute_information(
    dispute_id: DisputeId, body: InformationIn, ledger: LedgerDep, session: SessionDep
) -> DisputeOut:
    """Add information to an open dispute; within its first 30 days this extends it once."""
    return dispute_out(
        service.add_information(ledger, session, dispute_id, body.text, body.evidence_url)
    )


@router.get(
    "/provider/disputes",
    response_model=list[DisputeOut],
    tags=["providers"],
    summary="Disputes of my records",
)
def get_provider_disputes(ledger: LedgerDep, party: PartyDep) -> list[DisputeOut]:
    """Every dispute of the calling provider's records, oldest first (each read is logged)."""
    return [dispute_out(v) for v in service.provider_disputes(ledger, party)]


@router.post(
    "/provider/disputes/{dispute_id}/answer",
    response_model=DisputeOut,
    tags=["providers"],
    summary="Answer a dispute of my record",
)
def post_provider_answer(
    dispute_id: DisputeId, body: AnswerIn, ledger: LedgerDep, party: PartyDep
) -> DisputeOut:
    """Answer once: verified, corrected (naming the correcting record) or retracted."""
    return dispute_out(
        service.answer_dispute(ledger, party, dispute_id, body.answer, body.correcting_record)
    )


@router.get(
    "/disputes",
    response_model=list[DisputeOut],
    tags=["operator"],
    summary="Open disputes (review queue)",
)
def get_open_disputes(ledger: LedgerDep, party: PartyDep) -> list[DisputeOut]:
    """Every dispute open now, soonest deadline first; for reviewers and operators."""
    return [dispute_out(v) for v in service.open_disputes(ledger, party=party)]


@router.post(
    "/disputes/{dispute_id}/resolution",
    response_model=DisputeOut,
    tags=["operator"],
    summary="Resolve a dispute",
)
def post_resolution(
    dispute_id: DisputeId, body: ResolutionIn, ledger: LedgerDep, party: PartyDep
) -> DisputeOut:
    """Uphold (the record is dropped for good), reject, or terminate as frivolous."""
    return dispute_out(
        service.resolve_dispute(ledger, party, dispute_id, body.outcome, body.reason)
    )
