"""The public transparency register under ``/register``: no sign-in, nothing about any one subject.

What the policy in effect counts and for how long, its tiers, every benefit
and restriction with its context, notice, maximum duration and legal basis;
aggregate figures with small cells withheld; and the policy changes already
scheduled (``credence.service.register``).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from credence.policy.diff import render as policy_value
from credence.service import register as public
from credence.web import page_router
from credence.web.templating import render

router = page_router()


@router.get("/register")
def register_page(request: Request) -> Response:
    """The register of the policy in effect now."""
    found = public.register(request.app.state.ledger)
    return render(
        request,
        "register/index.html",
        {"register": found, "value": policy_value, "threshold": public.SUPPRESS_BELOW},
    )
