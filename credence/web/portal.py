"""The subject portal under ``/me``: the signed-in subject's own score, records and rights.

Every route takes ``SubjectDep``: the session's own subject is the only one
a page can show, and no portal URL names a subject. Each route calls the
service (the same use cases as ``/v1/me``) and renders one template from
``templates/portal/``; actions are plain forms that work without script,
and htmx swaps just the changed part in when it is there.

- ``/me`` — score, tier, dimensions, the 24-month chart, key factors both
  ways and what would change the score
- ``/me/records`` — every record with what it counts and when it stops, and
  a *Dispute* link to ``/me/disputes/new?record=…``
- ``/me/disputes`` — disputes with their clock and outcome; file one, add
  information to an open one
- ``/me/notices`` — notices of adverse outcomes
- ``/me/consents`` — consents given; grant one, revoke one
- ``/me/accesses`` — who looked at the subject's data
- ``/me/decisions`` — decisions made about the subject, each with its signed
  receipt (``/me/decisions/{id}/receipt.json``) and a request for human
  review; the overrides a person set
- ``/me/data.json`` — everything held about the subject (GDPR Art. 15/20)
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from credence.errors import (
    ConsentInvalid,
    CredenceError,
    DecisionNotFound,
    DisputeInvalid,
    DisputeStateError,
    PartyNotFound,
    ReviewConflict,
    ReviewInvalid,
)
from credence.service import subject_views
from credence.service.consents import Scope, grant_consent, list_consents, revoke_consent
from credence.service.disputes import (
    MAX_TEXT,
    MAX_URL,
    DisputeView,
    add_information,
    file_dispute,
    own_disputes,
    record_id,
)
from credence.service.history import list_accesses, list_decisions
from credence.service.ledger import Ledger
from credence.service.notices import own_notices as own_subject_notices
from credence.service.overrides import own_overrides
from credence.service.parties import PartyKind, list_parties
from credence.service.reviews import MAX_STATEMENT_CHARS, own_reviews, request_review
from credence.service.subject_data import export_subject_data
from credence.types import DAY_US, format_date
from credence.web import chart, page_router
from credence.web.auth import SubjectDep
from credence.web.templating import render

router = page_router()


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@router.get("/me")
def overview(request: Request, session: SubjectDep) -> Response:
    """The subject's score, tier and dimensions, its history, and why."""
    ledger = _ledger(request)
    explanation = subject_views.own_explanation(ledger, session)
    history = subject_views.score_history(ledger, session, months=24)
    dimensions = {d.id: d.label for d in ledger.policy.policy.dimensions}
    context = {
        "session": session,
        "outcome": explanation.outcome,
        "explanation": explanation,
        "history": history,
        "chart": chart.layout(history),
        "dimension_labels": dimensions,
        "notices": subject_views.own_notices(ledger, session),
    }
    return render(request, "portal/overview.html", context)


@router.get("/me/records")
def records(request: Request, session: SubjectDep) -> Response:
    """Every record that met a rule: what it counts now and when it stops counting."""
    views = subject_views.own_records(_ledger(request), session)
    context = {
        "session": session,
        "records": views,
        "disputes": _disputes_by_record(request, session),
        "record_id": record_id,
    }
    return render(request, "portal/records.html", context)


def _disputes_by_record(request: Request, session: SubjectDep) -> dict[str, DisputeView]:
    # The latest dispute of each record: what the records page says about it.
    latest: dict[str, DisputeView] = {}
    for dispute in own_disputes(_ledger(request), session):
        latest[dispute.record] = dispute
    return latest


@router.get("/me/disputes")
def disputes(request: Request, session: SubjectDep) -> Response:
    """Every dispute the subject filed, with its clock and how it ended."""
    rows = list(reversed(own_disputes(_ledger(request), session)))
    context = {"session": session, "disputes": rows, "filed": None, "error": None}
    return render(request, "portal/disputes.html", context)


def _dispute_form(
    request: Request,
    session: SubjectDep,
    record: str,
    *,
    error: CredenceError | None = None,
    statement: str = "",
    evidence_url: str = "",
) -> Response:
    views = {
        record_id(v.provider, v.provider_event_id): v
        for v in subject_views.own_records(_ledger(request), session)
    }
    context = {
        "session": session,
        "record_id": record,
        "record": views.get(record),
        "error": error,
        "statement": statement,
        "evidence_url": evidence_url,
    }
    status = 200 if error is None else error.status
    if views.get(record) is None and error is None:
        status = 404
    return render(request, "portal/dispute_new.html", context, status_code=status)


@router.get("/me/disputes/new")
def new_dispute(
    request: Request, session: SubjectDep, record: Annotated[str, Query(max_length=400)] = ""
) -> Response:
    """The form to dispute one record: what is wrong, and a link to evidence."""
    return _dispute_form(request, session, record)


@router.post("/me/disputes")
def file_new(
    request: Request,
    session: SubjectDep,
    record: Annotated[str, Form(max_length=400)],
    statement: Annotated[str, Form(max_length=MAX_TEXT)],
    evidence_url: Annotated[str, Form(max_length=MAX_URL)] = "",
) -> Response:
    """File the dispute; the page then shows it with its deadline."""
    ledger = _ledger(request)
    try:
        filed = file_dispute(ledger, session, record, statement, evidence_url=evidence_url or None)
    except (DisputeInvalid, DisputeStateError) as e:
        return _dispute_form(
            request, session, record, error=e, statement=statement, evidence_url=evidence_url
        )
    rows = list(reversed(own_disputes(ledger, session)))
    context = {"session": session, "disputes": rows, "filed": filed, "error": None}
    return render(request, "portal/disputes.html", context, status_code=201)


@router.post("/me/disputes/{dispute_id}/information")
def add_to_dispute(
    request: Request,
    session: SubjectDep,
    dispute_id: str,
    text: Annotated[str, Form(max_length=MAX_TEXT)],
    evidence_url: Annotated[str, Form(max_length=MAX_URL)] = "",
) -> Response:
    """Add information to an open dispute (within 30 days it extends the deadline once)."""
    ledger = _ledger(request)
    try:
        add_information(ledger, session, dispute_id, text, evidence_url=evidence_url or None)
    except (DisputeInvalid, DisputeStateError) as e:
        rows = list(reversed(own_disputes(ledger, session)))
        context = {"session": session, "disputes": rows, "filed": None, "error": e}
        return render(request, "portal/disputes.html", context, status_code=e.status)
    return RedirectResponse(f"/me/disputes#dispute-{dispute_id}", status_code=303)


@router.get("/me/notices")
def notices(request: Request, session: SubjectDep) -> Response:
    """Every notice given to the subject: restrictions to come, adverse outcomes, overrides
    and reviews."""
    ledger = _ledger(request)
    context = {
        "session": session,
        "notices": subject_views.own_notices(ledger, session),
        "given": list(reversed(own_subject_notices(ledger, session))),
    }
    return render(request, "portal/notices.html", context)


def _consent_context(request: Request, session: SubjectDep) -> dict[str, object]:
    ledger = _ledger(request)
    now = ledger.clock.now()
    parties = [p for p in list_parties(ledger) if p.kind is PartyKind.RELYING_PARTY]
    consents = sorted(list_consents(ledger, session), key=lambda c: c.granted_at, reverse=True)
    return {
        "session": session,
        "consents": consents,
        "now": now,
        "choices": [(p.name, c) for p in parties for c in p.contexts],
        "scopes": [s.value for s in Scope],
        "receipt": None,
        "error": None,
    }


@router.get("/me/consents")
def consents(request: Request, session: SubjectDep) -> Response:
    """The consents the subject gave, and a form to give one."""
    return render(request, "portal/consents.html", _consent_context(request, session))


@router.post("/me/consents")
def grant(
    request: Request,
    session: SubjectDep,
    choice: Annotated[str, Form(max_length=300)],
    scope: Annotated[Scope, Form()] = Scope.DECISION,
    days: Annotated[int, Form(ge=1, le=365)] = 90,
) -> Response:
    """Consent to a relying party deciding in one context, for a number of days."""
    ledger = _ledger(request)
    party, _, context = choice.partition("|")
    try:
        receipt = grant_consent(
            ledger,
            session,
            party_name=party,
            context=context,
            scope=scope,
            expires_at=ledger.clock.now() + days * DAY_US,
        )
    except (ConsentInvalid, PartyNotFound) as e:
        page = _consent_context(request, session)
        page["error"] = e
        return render(request, "portal/consents.html", page, status_code=e.status)
    page = _consent_context(request, session)
    page["receipt"] = receipt
    return render(request, "portal/consents.html", page, status_code=201)


@router.post("/me/consents/{consent_id}/revoke")
def revoke(request: Request, session: SubjectDep, consent_id: str) -> Response:
    """Revoke one of the subject's consents; it ends with the next request."""
    ledger = _ledger(request)
    consent = revoke_consent(ledger, session, consent_id)
    if _htmx(request):
        context = {"consent": consent, "now": ledger.clock.now(), "just_revoked": True}
        return render(request, "partials/consent_row.html", context)
    return RedirectResponse("/me/consents", status_code=303)


@router.get("/me/accesses")
def accesses(request: Request, session: SubjectDep) -> Response:
    """Every read of the subject's data by anyone else, newest first."""
    rows = list(reversed(list_accesses(_ledger(request), session)))
    return render(request, "portal/accesses.html", {"session": session, "accesses": rows})


def _decisions_context(request: Request, session: SubjectDep) -> dict[str, object]:
    ledger = _ledger(request)
    reviews = {r.decision_id: r for r in own_reviews(ledger, session)}
    return {
        "session": session,
        "decisions": list(reversed(list_decisions(ledger, session))),
        "reviews": reviews,
        "overrides": list(reversed(own_overrides(ledger, session))),
        "requested": None,
        "error": None,
    }


@router.get("/me/decisions")
def decisions(request: Request, session: SubjectDep) -> Response:
    """Every decision made about the subject, newest first, who asked, its receipt, and
    the human review asked of it; the overrides a person set."""
    return render(request, "portal/decisions.html", _decisions_context(request, session))


@router.get("/me/decisions/{decision_id}/receipt.json")
def receipt(request: Request, session: SubjectDep, decision_id: str) -> Response:
    """A decision's signed receipt, to keep and check offline with the ledger's public key.

    Raises:
        DecisionNotFound: when the subject's log holds no such decision, or it has no receipt.
    """
    found = next(
        (d for d in list_decisions(_ledger(request), session) if d.id == decision_id), None
    )
    if found is None or found.receipt is None:
        raise DecisionNotFound(
            f"no decision {decision_id!r} with a receipt in your decision log",
            suggestion="see /me/decisions",
        )
    return Response(
        found.receipt,
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="receipt-{found.id}.json"'},
    )


@router.post("/me/decisions/{decision_id}/review")
def ask_review(
    request: Request,
    session: SubjectDep,
    decision_id: str,
    statement: Annotated[str, Form(max_length=MAX_STATEMENT_CHARS)] = "",
) -> Response:
    """Ask for a person to review one decision (GDPR Art. 22(3)); answered within 30 days."""
    ledger = _ledger(request)
    try:
        asked = request_review(ledger, session, decision_id, statement=statement)
    except (ReviewConflict, ReviewInvalid) as e:  # an unknown decision is a 404 page
        context = _decisions_context(request, session)
        context["error"] = e
        return render(request, "portal/decisions.html", context, status_code=e.status)
    context = _decisions_context(request, session)
    context["requested"] = asked
    return render(request, "portal/decisions.html", context, status_code=201)


@router.get("/me/data")
def data_page(request: Request, session: SubjectDep) -> Response:
    """What the download holds, and the link to it."""
    return render(request, "portal/data.html", {"session": session})


@router.get("/me/data.json")
def download(request: Request, session: SubjectDep) -> Response:
    """Everything held about the subject, as one JSON file to keep or take elsewhere."""
    ledger = _ledger(request)
    body = export_subject_data(ledger, session)
    name = f"credence-my-data-{format_date(ledger.clock.now())}.json"
    return Response(
        orjson.dumps(body, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
