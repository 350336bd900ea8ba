"""The subject portal under ``/me``: the signed-in subject's own score, records and rights.

Every route takes ``SubjectDep``: the session's own subject is the only one
a page can show, and no portal URL names a subject.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from credence.service import subject_views
from credence.web import page_router
from credence.web.auth import SubjectDep
from credence.web.templating import render

router = page_router()


@router.get("/me")
def overview(request: Request, session: SubjectDep) -> Response:
    """The subject's score, tier and dimensions now."""
    own = subject_views.own_score(request.app.state.ledger, session)
    return render(request, "portal/overview.html", {"own": own, "session": session})
