"""The operator console under ``/console``: overview, restrictions, parties and keys, the policy.

Every page takes a party session (``PartyDep``) and asks the service whether
that party may take the page's action (``credence.service.access``): the
operator sees everything; a reviewer sees the overview and the policy;
other parties get 403. No session on a GET redirects to ``/console/sign-in``.

Forms post back with the CSRF token and redirect (post/redirect/get), so
they work without script; with htmx a form swaps only the part it changes
(``templates/console/partials/``). A new API key is shown once, in the
answer to the post that made it, and never again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from credence.errors import (
    CredenceError,
    DisputeInvalid,
    DisputeStateError,
    OverrideConflict,
    OverrideInvalid,
    PartyInvalid,
    ReviewConflict,
    ReviewInvalid,
)
from credence.service import console as console_service
from credence.service import disputes, overrides, parties, reviews
from credence.service.access import Caller, authorize, may
from credence.service.party_sessions import PartySession
from credence.types import format_date
from credence.web import page_router
from credence.web.auth import PartyDep
from credence.web.bar_chart import Bar, bar_chart
from credence.web.templating import render

router = page_router()

# The console's pages, in the navigation's order: path, label key, the action it needs.
PAGES: tuple[tuple[str, str, str], ...] = (
    ("/console", "overview", "console.overview"),
    ("/console/queue", "queue", "review.queue"),
    ("/console/restrictions", "restrictions", "restrictions.read"),
    ("/console/overrides", "overrides", "overrides.manage"),
    ("/console/parties", "parties", "parties.manage"),
    ("/console/policy", "policy", "policy.read"),
)


def acting(action: str) -> Callable[[PartySession], PartySession]:
    """A dependency: the signed-in party, once the service allows it ``action``."""

    def allowed(session: PartyDep) -> PartySession:
        authorize(session.party, action)
        return session

    return allowed


def _nav(caller: Caller) -> list[tuple[str, str]]:
    return [(path, key) for path, key, action in PAGES if may(caller, action)]


def _page(
    request: Request, template: str, session: PartySession, context: dict[str, Any], **kw: Any
) -> Response:
    base = {"party": session.party, "console_nav": _nav(session.party)}
    return render(request, template, {**base, **context}, **kw)


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


Viewer = Annotated[PartySession, Depends(acting("console.overview"))]
RestrictionReader = Annotated[PartySession, Depends(acting("restrictions.read"))]
PartyManager = Annotated[PartySession, Depends(acting("parties.manage"))]
KeyManager = Annotated[PartySession, Depends(acting("keys.manage"))]
PolicyReader = Annotated[PartySession, Depends(acting("policy.read"))]
Reviewer = Annotated[PartySession, Depends(acting("review.queue"))]
ReviewResolver = Annotated[PartySession, Depends(acting("reviews.resolve"))]
OverrideManager = Annotated[PartySession, Depends(acting("overrides.manage"))]
Name = Annotated[str, Path(min_length=1, max_length=200)]
DisputeId = Annotated[str, Path(min_length=1, max_length=100)]
KeyId = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/console")
def overview(request: Request, session: Viewer) -> Response:
    """Subjects, records per day, the tier distribution and adverse outcomes in force."""
    found = console_service.overview(request.app.state.ledger, session.party)
    tiers = [Bar(t.label or t.id, n) for t, n in found.tiers]
    days = [Bar(format_date(d.day)[5:], d.records) for d in found.per_day]
    return _page(
        request,
        "console/overview.html",
        session,
        {
            "overview": found,
            "tier_bars": tiers,
            "tier_figures": ", ".join(f"{b.label} {b.value}" for b in tiers),
            "day_bars": days,
            "bar_chart": bar_chart,
        },
    )


@router.get("/console/restrictions")
def restrictions(request: Request, session: RestrictionReader) -> Response:
    """Restrictions in effect, in their notice period, and due a notice."""
    found = console_service.restrictions(request.app.state.ledger, session.party)
    return _page(request, "console/restrictions.html", session, {"cases": found})


def _parties_context(request: Request) -> dict[str, Any]:
    ledger = request.app.state.ledger
    keys: dict[str, list[parties.KeyInfo]] = {}
    for key in parties.list_keys(ledger):
        keys.setdefault(key.party, []).append(key)
    return {
        "parties": parties.list_parties(ledger),
        "keys": keys,
        "kinds": [k.value for k in parties.PartyKind],
        "contexts": parties.decision_contexts(ledger),
        "issued": None,
        "error": None,
        "form": {"name": "", "kind": "provider", "contexts": ""},
    }


@router.get("/console/parties")
def parties_page(request: Request, session: PartyManager) -> Response:
    """Every party and its keys; forms to add a party, issue a key, revoke one."""
    return _page(request, "console/parties.html", session, _parties_context(request))


@router.post("/console/parties")
def add_party(
    request: Request,
    session: PartyManager,
    name: Annotated[str, Form(max_length=200)],
    kind: Annotated[str, Form(max_length=40)],
    contexts: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Register a party, then show the list again (or the form with what was wrong)."""
    wanted = [c.strip() for c in contexts.replace(",", " ").split() if c.strip()]
    try:
        kind_value = parties.PartyKind(kind)
    except ValueError:
        kind_value = None
    try:
        if kind_value is None:
            raise PartyInvalid(f"there is no kind of party {kind!r}", path="kind")
        parties.add_party(request.app.state.ledger, name.strip(), kind=kind_value, contexts=wanted)
    except CredenceError as e:
        context = _parties_context(request)
        context["error"] = e
        context["form"] = {"name": name, "kind": kind, "contexts": contexts}
        return _page(request, "console/parties.html", session, context, status_code=e.status)
    return RedirectResponse("/console/parties#party-" + name.strip(), status_code=303)


@router.post("/console/parties/{name}/keys")
def create_key(request: Request, session: KeyManager, name: Name) -> Response:
    """Issue an API key for the party and show it this once."""
    issued = parties.create_key(request.app.state.ledger, name)
    if _htmx(request):
        return render(request, "console/partials/issued_key.html", {"issued": issued})
    context = _parties_context(request)
    context["issued"] = issued
    return _page(request, "console/parties.html", session, context)


@router.post("/console/keys/{key_id}/revoke")
def revoke_key(request: Request, session: KeyManager, key_id: KeyId) -> Response:
    """Revoke an API key: every call and console session on it fails at once."""
    info = parties.revoke_key(request.app.state.ledger, key_id)
    if _htmx(request):
        return render(request, "console/partials/key_row.html", {"key": info})
    return RedirectResponse(f"/console/parties#key-{info.key_id}", status_code=303)


@router.get("/console/policy")
def policy_page(request: Request, session: PolicyReader) -> Response:
    """The policy in effect, its lint report and its audit table."""
    found = console_service.policy_audit(request.app.state.ledger, session.party)
    return _page(request, "console/policy.html", session, {"audit": found})


@router.get("/console/queue")
def queue(request: Request, session: Reviewer, resolved: str = "") -> Response:
    """Open disputes, soonest deadline first, each with a form to decide it."""
    return _queue_page(request, session, resolved=resolved[:100])


def _queue_page(
    request: Request,
    session: PartySession,
    *,
    resolved: str = "",
    error: CredenceError | None = None,
    error_for: str | None = None,
) -> Response:
    """The queue page, with one item's refusal shown beside it when a decision failed."""
    ledger = request.app.state.ledger
    context = {
        "disputes": disputes.open_disputes(ledger, party=session.party),
        "reviews": reviews.open_reviews(ledger),
        "may_review": may(session.party, "reviews.resolve"),
        "resolved": resolved,
        "error": error,
        "error_for": error_for,
    }
    status = error.status if error is not None else 200
    return _page(request, "console/queue.html", session, context, status_code=status)


@router.post("/console/disputes/{dispute_id}/resolve")
def resolve(
    request: Request,
    session: Reviewer,
    dispute_id: DisputeId,
    outcome: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Decide a dispute with a reason; htmx swaps the item for its result."""
    ledger = request.app.state.ledger
    try:
        done = disputes.resolve_dispute(ledger, session.party, dispute_id, outcome, reason)
    except (DisputeInvalid, DisputeStateError) as e:
        if _htmx(request):
            item = next((d for d in disputes.open_disputes(ledger) if d.id == dispute_id), None)
            context: dict[str, Any] = {
                "dispute": item,
                "error": e,
                "form": {"outcome": outcome, "reason": reason},
            }
            if item is None:  # ended meanwhile: say so in its place
                return render(request, "partials/error.html", {"error": e}, status_code=e.status)
            return render(
                request, "console/partials/dispute_item.html", context, status_code=e.status
            )
        return _queue_page(request, session, error=e, error_for=dispute_id)
    if _htmx(request):
        return render(request, "console/partials/dispute_done.html", {"dispute": done})
    return RedirectResponse(f"/console/queue?resolved={done.id}", status_code=303)


ReviewId = Annotated[str, Path(min_length=1, max_length=100)]
OverrideId = Annotated[str, Path(min_length=1, max_length=100)]


@router.post("/console/reviews/{review_id}/resolve")
def resolve_review(
    request: Request,
    session: ReviewResolver,
    review_id: ReviewId,
    resolution: Annotated[str, Form(max_length=20)] = "",
    outcome: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A reviewer confirms a decision or overrides it, with a reason; the subject is told."""
    ledger = request.app.state.ledger
    try:
        done = reviews.resolve_review(
            ledger,
            review_id,
            resolution=resolution,
            reason=reason,
            reviewer=session.party.name,
            outcome=outcome or None,
        )
    except (ReviewInvalid, ReviewConflict, OverrideInvalid, OverrideConflict) as e:
        return _queue_page(request, session, error=e, error_for=review_id)
    return RedirectResponse(f"/console/queue?resolved={done.id}", status_code=303)


@router.get("/console/overrides")
def overrides_page(request: Request, session: OverrideManager) -> Response:
    """Every override in force, soonest to end first, each with a button to end it."""
    found = overrides.overrides_in_force(request.app.state.ledger)
    return _page(request, "console/overrides.html", session, {"overrides": found})


@router.post("/console/overrides/{override_id}/end")
def end_override(request: Request, session: OverrideManager, override_id: OverrideId) -> Response:
    """End an override now: decisions are the engine's again at once, and the subject is told."""
    overrides.end_override(request.app.state.ledger, override_id, by=session.party.name)
    return RedirectResponse("/console/overrides", status_code=303)
