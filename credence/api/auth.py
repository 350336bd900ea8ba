"""Who is calling: a dependency every route but health and readiness takes.

Parties send their API key and subjects their session token, both as
``Authorization: Bearer <token>``. A missing, unknown, revoked or expired
token is 401 ``auth.failed`` before the route runs, so no route can forget
to ask. What the caller may then do is the service's decision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from credence.api.deps import on_store
from credence.errors import AuthenticationFailed
from credence.service.ledger import Ledger
from credence.service.parties import Party, authenticate
from credence.service.sessions import SubjectSession, authenticate_session

T = TypeVar("T")

_DESCRIPTION = "A party's API key, or a subject's session token from POST /v1/sessions."
_SCHEME = "HTTPBearer"  # one security scheme in the OpenAPI document for every check

_bearer = HTTPBearer(auto_error=False, scheme_name=_SCHEME, description=_DESCRIPTION)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise AuthenticationFailed(
            "this endpoint needs `Authorization: Bearer <token>`",
            suggestion="send a party's API key, or a subject's session token",
        )
    return credentials.credentials


async def bearer_token(credentials: BearerDep) -> str:
    """The bearer token of the request.

    Raises:
        AuthenticationFailed: when there is none.
    """
    return _token(credentials)


TokenDep = Annotated[str, Depends(bearer_token)]


class _Checked(HTTPBearer, Generic[T]):
    """The bearer token, checked on the request's ledger, as one dependency.

    The token, the ledger and the check would be three dependencies more, and
    FastAPI's work per dependency cost more than the check itself on the hot path.
    Being an ``HTTPBearer``, it still puts the bearer scheme in the OpenAPI document.
    """

    def __init__(self, check: Callable[[Ledger, str], T]) -> None:
        super().__init__(auto_error=False, scheme_name=_SCHEME, description=_DESCRIPTION)
        self._check = check

    async def __call__(self, request: Request) -> T:  # type: ignore[override]
        token = _token(await super().__call__(request))
        ledger: Ledger = request.app.state.ledger
        return await on_store(ledger, self._check, ledger, token)


PartyDep = Annotated[Party, Depends(_Checked(authenticate))]
SessionDep = Annotated[SubjectSession, Depends(_Checked(authenticate_session))]
