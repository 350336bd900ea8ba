"""Subjects (``/v1/me``): their own score, why, records, notices, who looked, and consents.

A subject exchanges a single-use sign-in token (issued by the operator after
verifying identity elsewhere) for a session token at ``POST /v1/sessions``,
then sends it as ``Authorization: Bearer``. Every ``/v1/me`` route reads the
session's own subject only: there is no identifier to change.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Response
from pydantic import AwareDatetime, BaseModel, Field

from credence.api.auth import SessionDep, TokenDep
from credence.api.deps import LedgerDep, LedgerRoute
from credence.api.models import (
    AccessOut,
    ExplanationOut,
    Model,
    RecordOut,
    ScoreOut,
    SubjectOut,
    access_out,
    explanation_out,
    records_out,
    score_out,
    subject_out,
)
from credence.api.routers.redress import SubjectNoticeOut, subject_notice_out
from credence.service import subject_views
from credence.service.consents import Consent, Scope, grant_consent, list_consents, revoke_consent
from credence.service.history import list_accesses, list_decisions
from credence.service.notices import own_notices
from credence.service.sessions import end_session, start_session
from credence.types import format_time, to_micros

router = APIRouter(tags=["subjects"], route_class=LedgerRoute)


class SessionRequest(Model):
    """A sign-in token, exchanged once for a session."""

    sign_in_token: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    """A session: send ``session_token`` as ``Authorization: Bearer``."""

    session_token: str
    subject: str
    expires_at: str


@router.post("/sessions", response_model=SessionOut, summary="Sign in (subjects)")
def post_session(body: SessionRequest, ledger: LedgerDep) -> SessionOut:
    """Exchange a sign-in token (single use, short-lived) for a session token."""
    token, session = start_session(ledger, body.sign_in_token)
    return SessionOut(
        session_token=token,
        subject=str(session.subject),
        expires_at=format_time(session.expires_at),
    )


@router.delete("/sessions", status_code=204, response_class=Response, summary="Sign out (subjects)")
def delete_session(ledger: LedgerDep, session: SessionDep, token: TokenDep) -> Response:
    """End the session whose token is sent; it fails at once afterwards."""
    end_session(ledger, token)
    return Response(status_code=204)


class MeOut(BaseModel):
    """The signed-in subject and their score now."""

    subject: SubjectOut
    score: ScoreOut


@router.get("/me", response_model=MeOut, summary="Who am I, and my score")
def get_me(ledger: LedgerDep, session: SessionDep) -> MeOut:
    """The signed-in subject and their score now."""
    own = subject_views.own_score(ledger, session)
    return MeOut(subject=subject_out(own.ref, own.kind), score=score_out(own.outcome))


@router.get("/me/score", response_model=ScoreOut, summary="My score")
def get_my_score(ledger: LedgerDep, session: SessionDep) -> ScoreOut:
    """The signed-in subject's score, tier and dimensions now."""
    return score_out(subject_views.own_score(ledger, session).outcome)


@router.get("/me/explanation", response_model=ExplanationOut, summary="Why my score is what it is")
def get_my_explanation(ledger: LedgerDep, session: SessionDep) -> ExplanationOut:
    """What lowers and raises the score most, and what would change it."""
    return explanation_out(subject_views.own_explanation(ledger, session))


@router.get("/me/records", response_model=list[RecordOut], summary="My records")
def get_my_records(ledger: LedgerDep, session: SessionDep) -> list[RecordOut]:
    """Every record considered, with what it counts now and when it expires."""
    own = subject_views.own_score(ledger, session)
    return records_out(ledger.policy, own.outcome)


@router.get("/me/notices", response_model=list[SubjectNoticeOut], summary="Notices given to me")
def get_my_notices(ledger: LedgerDep, session: SessionDep) -> list[SubjectNoticeOut]:
    """Every notice given to the subject, oldest first: adverse outcomes with their reasons,
    what would change them and how to dispute, overrides, and review results."""
    return [subject_notice_out(n) for n in own_notices(ledger, session)]


@router.get("/me/accesses", response_model=list[AccessOut], summary="Who looked at my data")
def get_my_accesses(ledger: LedgerDep, session: SessionDep) -> list[AccessOut]:
    """Every read of the subject's data by someone else: party, action, context, consent."""
    return [access_out(a) for a in list_accesses(ledger, session)]


class DecisionLogOut(BaseModel):
    """A decision made about the subject: who asked, on what, the outcome and its reason codes."""

    id: str
    party: str
    entitlement: str
    outcome: str
    reason_codes: list[str]
    as_of: str
    at: str
    receipt: dict[str, Any] | None = Field(
        default=None, description="The signed receipt (none for decisions logged before them)."
    )


@router.get("/me/decisions", response_model=list[DecisionLogOut], summary="Decisions made about me")
def get_my_decisions(ledger: LedgerDep, session: SessionDep) -> list[DecisionLogOut]:
    """Every decision made about the subject, and who asked for it, oldest first."""
    return [
        DecisionLogOut(
            id=d.id,
            party=d.party,
            entitlement=d.entitlement,
            outcome=d.outcome,
            reason_codes=list(d.reasons),
            as_of=format_time(d.as_of),
            at=format_time(d.at),
            receipt=None if d.receipt is None else orjson.loads(d.receipt),
        )
        for d in list_decisions(ledger, session)
    ]


class ConsentRequest(Model):
    """A consent to one relying party for one context."""

    party: str = Field(min_length=1, max_length=200, examples=["acme-rentals"])
    context: str = Field(min_length=1, max_length=100, examples=["rentals"])
    entitlements: list[str] = Field(default_factory=list, max_length=50)
    scope: Scope = Scope.DECISION
    expires_at: AwareDatetime | None = Field(
        default=None, description="Default 90 days from now; at most 1 year."
    )


class ConsentOut(BaseModel):
    """A consent as the subject gave it."""

    id: str
    party: str
    context: str
    entitlements: list[str]
    scope: str
    granted_at: str
    expires_at: str
    revoked_at: str | None


class ReceiptOut(BaseModel):
    """The consent given, and its receipt in words."""

    consent: ConsentOut
    receipt: str


def consent_out(c: Consent) -> ConsentOut:
    return ConsentOut(
        id=c.id,
        party=c.party,
        context=c.context,
        entitlements=list(c.entitlements),
        scope=str(c.scope),
        granted_at=format_time(c.granted_at),
        expires_at=format_time(c.expires_at),
        revoked_at=None if c.revoked_at is None else format_time(c.revoked_at),
    )


@router.get("/me/consents", response_model=list[ConsentOut], summary="My consents")
def get_my_consents(ledger: LedgerDep, session: SessionDep) -> list[ConsentOut]:
    """Every consent the subject gave, revoked and expired ones included."""
    return [consent_out(c) for c in list_consents(ledger, session)]


@router.post("/me/consents", response_model=ReceiptOut, status_code=201, summary="Give a consent")
def post_my_consent(body: ConsentRequest, ledger: LedgerDep, session: SessionDep) -> ReceiptOut:
    """Consent to one relying party deciding in one context; returns the receipt."""
    receipt = grant_consent(
        ledger,
        session,
        party_name=body.party,
        context=body.context,
        entitlements=tuple(body.entitlements),
        scope=body.scope,
        expires_at=None if body.expires_at is None else to_micros(body.expires_at),
    )
    return ReceiptOut(consent=consent_out(receipt.consent), receipt=receipt.text)


@router.delete("/me/consents/{consent_id}", response_model=ConsentOut, summary="Revoke a consent")
def delete_my_consent(
    consent_id: Annotated[str, Path(min_length=1, max_length=100)],
    ledger: LedgerDep,
    session: SessionDep,
) -> ConsentOut:
    """Revoke a consent; it stops counting on the next request."""
    return consent_out(revoke_consent(ledger, session, consent_id))
