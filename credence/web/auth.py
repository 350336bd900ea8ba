"""Who is looking at a page: a subject (portal) or a party (console), from their session cookie.

Two cookies, never mixed: ``credence_session`` holds a subject's session token
(``credence.service.sessions``), ``credence_console`` a party's signed session
(``credence.service.party_sessions``). A page asks for one with a dependency:

- ``SubjectDep``: the signed-in subject; anyone else gets ``SignInRequired``,
  which a GET answers with a redirect to ``/sign-in`` and any other method
  with a 401 page.
- ``OperatorDep``: a party session of an operator; no session redirects to
  ``/console/sign-in``; a party of another kind is 403 ``access.forbidden``.
- ``PartyDep``: any signed-in party (the console decides per page, through
  ``credence.service.access.authorize``).

A subject page reads only the session's own subject: there is no identifier
in any portal URL to change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from credence.errors import AuthenticationFailed, Forbidden
from credence.service.ledger import Ledger
from credence.service.parties import PartyKind
from credence.service.party_sessions import PartySession, authenticate_party_session
from credence.service.sessions import SubjectSession, authenticate_session

SUBJECT_COOKIE = "credence_session"
CONSOLE_COOKIE = "credence_console"


class SignInRequired(AuthenticationFailed):
    """No valid session for this page: send the browser to its sign-in page."""

    def __init__(self, sign_in_path: str) -> None:
        super().__init__("sign in to see this page", suggestion=f"open {sign_in_path}")
        self.sign_in_path = sign_in_path


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def optional_subject(request: Request) -> SubjectSession | None:
    """The signed-in subject, or None (no cookie, or a session that ended or expired)."""
    token = request.cookies.get(SUBJECT_COOKIE)
    if not token:
        return None
    try:
        return authenticate_session(_ledger(request), token)
    except AuthenticationFailed:
        return None


def optional_party(request: Request) -> PartySession | None:
    """The signed-in party, or None."""
    token = request.cookies.get(CONSOLE_COOKIE)
    if not token:
        return None
    try:
        return authenticate_party_session(_ledger(request), token)
    except AuthenticationFailed:
        return None


def require_subject(request: Request) -> SubjectSession:
    """The signed-in subject.

    Raises:
        SignInRequired: without a valid subject session.
    """
    session = optional_subject(request)
    if session is None:
        raise SignInRequired("/sign-in")
    return session


def require_party(request: Request) -> PartySession:
    """The signed-in party.

    Raises:
        SignInRequired: without a valid party session.
    """
    session = optional_party(request)
    if session is None:
        raise SignInRequired("/console/sign-in")
    return session


def require_operator(session: Annotated[PartySession, Depends(require_party)]) -> PartySession:
    """The signed-in operator.

    Raises:
        SignInRequired: without a valid party session.
        Forbidden: for a party that is not an operator.
    """
    if session.party.kind is not PartyKind.OPERATOR:
        raise Forbidden(
            f"{session.party.name} is a {session.party.kind.value.replace('_', ' ')}, "
            "not an operator: the console is the operator's"
        )
    return session


SubjectDep = Annotated[SubjectSession, Depends(require_subject)]
PartyDep = Annotated[PartySession, Depends(require_party)]
OperatorDep = Annotated[PartySession, Depends(require_operator)]
MaybeSubjectDep = Annotated[SubjectSession | None, Depends(optional_subject)]
MaybePartyDep = Annotated[PartySession | None, Depends(optional_party)]
