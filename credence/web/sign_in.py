"""The front door: the home page, signing in and out (subjects and parties), the language switch.

A subject's sign-in link is ``/sign-in?token=<sign-in token>``; the page
shows a button that posts the token (a link a mail scanner prefetches never
spends it), and the answer sets the session cookie and goes to ``/me``. A
party signs in at ``/console/sign-in`` with a sign-in token
(``credence party sign-in``) or its API key.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from credence.errors import AuthenticationFailed
from credence.service.party_sessions import start_party_session
from credence.service.sessions import end_session, start_session
from credence.web import i18n, page_router
from credence.web.auth import (
    CONSOLE_COOKIE,
    SUBJECT_COOKIE,
    MaybePartyDep,
    MaybeSubjectDep,
)
from credence.web.security import clear_cookie, set_cookie
from credence.web.templating import render

router = page_router()

TokenQuery = Annotated[str, Query(max_length=400)]
TokenForm = Annotated[str, Form(max_length=400)]
YEAR_S = 365 * 86_400


def _seconds_left(request: Request, expires_at: int) -> int:
    now: int = request.app.state.ledger.clock.now()
    return max(1, (expires_at - now) // 1_000_000)


@router.get("/")
def home(request: Request, subject: MaybeSubjectDep, party: MaybePartyDep) -> Response:
    """What Credence is, and where to go from here."""
    return render(request, "home.html", {"subject": subject, "party": party})


@router.get("/sign-in")
def sign_in_page(request: Request, token: TokenQuery = "") -> Response:
    """The subject's sign-in form, the token from the link already in it."""
    return render(request, "sign_in.html", {"token": token, "failed": False})


@router.post("/sign-in")
def sign_in(request: Request, token: TokenForm) -> Response:
    """Exchange the sign-in token for a session cookie, then open the portal."""
    try:
        session_token, session = start_session(request.app.state.ledger, token)
    except AuthenticationFailed:
        return render(request, "sign_in.html", {"token": "", "failed": True}, status_code=401)
    response = RedirectResponse("/me", status_code=303)
    set_cookie(
        request,
        response,
        SUBJECT_COOKIE,
        session_token,
        max_age=_seconds_left(request, session.expires_at),
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    """End the subject's session (it fails at once) and forget the cookie."""
    token = request.cookies.get(SUBJECT_COOKIE)
    if token:
        # ended or expired already: nothing left to end
        with contextlib.suppress(AuthenticationFailed):
            end_session(request.app.state.ledger, token)
    response = RedirectResponse("/", status_code=303)
    clear_cookie(request, response, SUBJECT_COOKIE)
    return response


@router.get("/console/sign-in")
def console_sign_in_page(request: Request, token: TokenQuery = "") -> Response:
    """A party's sign-in form: a sign-in token from a link, or an API key."""
    return render(request, "console_sign_in.html", {"token": token, "failed": False})


@router.post("/console/sign-in")
def console_sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=400)] = "",
    api_key: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Exchange a party sign-in token or API key for a console session cookie."""
    ledger = request.app.state.ledger
    try:
        if api_key.strip():
            session_token, session = start_party_session(ledger, api_key=api_key.strip())
        elif token.strip():
            session_token, session = start_party_session(ledger, sign_in_token=token.strip())
        else:
            raise AuthenticationFailed("give a sign-in token or an API key")
    except AuthenticationFailed:
        context = {"token": "", "failed": True}
        return render(request, "console_sign_in.html", context, status_code=401)
    response = RedirectResponse("/console", status_code=303)
    set_cookie(
        request,
        response,
        CONSOLE_COOKIE,
        session_token,
        max_age=_seconds_left(request, session.expires_at),
    )
    return response


@router.post("/console/sign-out")
def console_sign_out(request: Request) -> Response:
    """Forget the console session cookie."""
    response = RedirectResponse("/", status_code=303)
    clear_cookie(request, response, CONSOLE_COOKIE)
    return response


def _local(target: str) -> str:
    # Only a path of this site: never another origin (no open redirect).
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/language/{code}")
def switch_language(
    request: Request,
    code: str,
    back: Annotated[str, Query(alias="next", max_length=2000)] = "/",
) -> Response:
    """Remember the reader's language in a cookie and go back to the page they were on."""
    lang = i18n.by_code(code)
    response = RedirectResponse(_local(back), status_code=303)
    if lang is not None:
        set_cookie(request, response, i18n.COOKIE, lang.code, max_age=YEAR_S)
    return response
