"""Who is calling: a dependency every route but health and readiness takes.

Parties send their API key and subjects their session token, both as
``Authorization: Bearer <token>``. A missing, unknown, revoked or expired
token is 401 ``auth.failed`` before the route runs, so no route can forget
to ask. What the caller may then do is the service's decision.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from credence.api.deps import LedgerDep, on_store
from credence.errors import AuthenticationFailed
from credence.service.parties import Party, authenticate
from credence.service.sessions import SubjectSession, authenticate_session

_bearer = HTTPBearer(
    auto_error=False,
    description="A party's API key, or a subject's session token from POST /v1/sessions.",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def bearer_token(credentials: BearerDep) -> str:
    """The bearer token of the request.

    Raises:
        AuthenticationFailed: when there is none.
    """
    if credentials is None or not credentials.credentials:
        raise AuthenticationFailed(
            "this endpoint needs `Authorization: Bearer <token>`",
            suggestion="send a party's API key, or a subject's session token",
        )
    return credentials.credentials


TokenDep = Annotated[str, Depends(bearer_token)]


async def _party(ledger: LedgerDep, token: TokenDep) -> Party:
    return await on_store(ledger, authenticate, ledger, token)


async def _session(ledger: LedgerDep, token: TokenDep) -> SubjectSession:
    return await on_store(ledger, authenticate_session, ledger, token)


PartyDep = Annotated[Party, Depends(_party)]
SessionDep = Annotated[SubjectSession, Depends(_session)]
