"""Relying parties: decisions and scores, only under the subject's consent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from credence.api.auth import PartyDep
from credence.api.deps import LedgerDep, LedgerRoute
from credence.api.models import (
    SUBJECT_PATTERN,
    DecisionOut,
    DecisionRequest,
    ScoreOut,
    decision_out,
    ready,
    score_out,
)
from credence.service.scoring import decide_for_party, score_for_party
from credence.types import SubjectRef

router = APIRouter(tags=["relying parties"], route_class=LedgerRoute)


@router.post(
    "/decisions", response_model=DecisionOut, summary="Ask for a decision (relying parties)"
)
def post_decision(body: DecisionRequest, ledger: LedgerDep, party: PartyDep) -> Response:
    """May the subject have the entitlement? Needs the subject's consent for its context.

    Without a consent the answer is 403 ``consent.missing``, the same for an
    unknown subject as for a known one.
    """
    done = decide_for_party(ledger, party, SubjectRef.parse(body.subject), body.entitlement)
    return ready(
        decision_out(
            done.decision,
            decision_id=done.decision_id,
            consent_id=done.consent_id,
            receipt=done.receipt.to_dict(),
        )
    )


@router.get(
    "/subjects/{ref}/score", response_model=ScoreOut, summary="Read a score (relying parties)"
)
def get_score(
    ref: Annotated[
        str, Path(min_length=3, max_length=512, pattern=SUBJECT_PATTERN, description="scheme:id")
    ],
    context: Annotated[
        str, Query(min_length=1, max_length=100, description="The consent's context")
    ],
    ledger: LedgerDep,
    party: PartyDep,
) -> ScoreOut:
    """The subject's score, only under a ``decision+score`` consent for ``context``."""
    return score_out(score_for_party(ledger, party, SubjectRef.parse(ref), context=context).outcome)
