"""One JSON shape for every HTTP error, built from ``CredenceError``.

Every failure a client can see — a ``CredenceError`` raised by the service,
a request that does not fit its schema, an unknown path, a body over the
size limit, and even a defect — is answered with ``{"error": {"code",
"message", ...}}`` and the status its error class carries. Expected failures
are 4xx; only a defect is a 500, and its body says no more than that.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from credence.errors import (
    CredenceError,
    InternalError,
    MethodNotAllowed,
    RequestInvalid,
    RequestTooLarge,
    RouteNotFound,
    UsageError,
)

log = logging.getLogger("credence.api")


class ErrorBody(BaseModel):
    """What went wrong: a stable code, a message to act on, and where, when known."""

    code: str = Field(examples=["consent.missing"])
    message: str
    path: str | None = None
    line: int | None = None
    suggestion: str | None = None
    details: dict[str, Any] | None = None
    problems: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """The one error shape of the HTTP API."""

    error: ErrorBody


class JSONBody(Response):
    """A JSON response rendered with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(error: CredenceError) -> JSONBody:
    """The HTTP answer for an error: its status and the one shape."""
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONBody(error.to_dict(), status_code=error.status, headers=headers)


def _validation_error(exc: RequestValidationError) -> RequestInvalid:
    problems = []
    for item in exc.errors():
        loc = [str(p) for p in item.get("loc", ())]
        problems.append({"at": ".".join(loc), "message": str(item.get("msg", "invalid"))})
    first = problems[0] if problems else {"at": "", "message": "invalid request"}
    return RequestInvalid(
        f"{first['at'] or 'request'}: {first['message']}",
        path=first["at"] or None,
        details={"problems": problems},
    )


def _http_error(exc: StarletteHTTPException) -> CredenceError:
    if exc.status_code == 404:
        return RouteNotFound("no such endpoint", suggestion="see /openapi.json for the endpoints")
    if exc.status_code == 405:
        return MethodNotAllowed("this endpoint does not take that method")
    if exc.status_code == 413:
        return RequestTooLarge(str(exc.detail), suggestion="send the records in smaller batches")
    error = UsageError(str(exc.detail))
    error.status = exc.status_code  # type: ignore[misc]  # keep the status Starlette chose
    return error


def install(app: FastAPI) -> None:
    """Register the handlers that answer every error in the one shape."""

    async def credence_error(_request: Request, exc: Exception) -> JSONBody:
        assert isinstance(exc, CredenceError)
        if exc.status >= 500:
            log.error("%s", exc.one_line())
        return error_response(exc)

    async def invalid_request(_request: Request, exc: Exception) -> JSONBody:
        assert isinstance(exc, RequestValidationError)
        return error_response(_validation_error(exc))

    async def http_error(_request: Request, exc: Exception) -> JSONBody:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(_http_error(exc))

    async def defect(request: Request, exc: Exception) -> JSONBody:
        log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(InternalError("the server failed unexpectedly; it is logged"))

    app.add_exception_handler(CredenceError, credence_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, defect)
