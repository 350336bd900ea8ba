"""Errors on pages are pages: the API's JSON handlers stay for /v1, pages get HTML.

``install`` wraps the handlers the API registered: a request to a web path
gets ``error.html`` with the same status, code and message the JSON shape
would carry (an htmx request gets just the error fragment); anything else
goes to the API's handler unchanged. A GET that needs a session redirects to
its sign-in page instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from credence.errors import (
    CredenceError,
    InternalError,
    MethodNotAllowed,
    RequestInvalid,
    RouteNotFound,
    UsageError,
)
from credence.web.auth import SignInRequired
from credence.web.security import is_web_path
from credence.web.templating import render

log = logging.getLogger("credence.web")
Handler = Callable[[Request, Exception], Awaitable[Response] | Response]


def _as_credence(exc: Exception) -> CredenceError:
    if isinstance(exc, CredenceError):
        return exc
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
        return RequestInvalid(f"{where or 'form'}: {first.get('msg', 'invalid')}", path=where)
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return RouteNotFound("there is no page here")
        if exc.status_code == 405:
            return MethodNotAllowed("this page does not take that method")
        error = UsageError(str(exc.detail))
        error.status = exc.status_code  # type: ignore[misc]
        return error
    return InternalError("the server failed unexpectedly; it is logged")


def page_for_error(request: Request, exc: Exception) -> Response:
    """The HTML answer to an error on a page."""
    error = _as_credence(exc)
    if isinstance(exc, SignInRequired) and request.method in ("GET", "HEAD"):
        return RedirectResponse(exc.sign_in_path, status_code=303)
    if error.status >= 500:
        log.error("%s on %s %s", error.one_line(), request.method, request.url.path, exc_info=exc)
    template = "partials/error.html" if request.headers.get("hx-request") else "error.html"
    response = render(request, template, {"error": error}, status_code=error.status)
    if isinstance(exc, SignInRequired):
        response.headers["hx-redirect"] = exc.sign_in_path
    return response


def install(app: FastAPI) -> None:
    """Answer errors on web paths with pages; leave the API's JSON answers as they are."""
    for kind in (CredenceError, RequestValidationError, StarletteHTTPException, Exception):
        api_handler = app.exception_handlers.get(kind)

        def make(api: Handler | None) -> Handler:
            async def handle(request: Request, exc: Exception) -> Response:
                if is_web_path(request.url.path) or api is None:
                    return page_for_error(request, exc)
                answer = api(request, exc)
                return await answer if isinstance(answer, Awaitable) else answer

            return handle

        app.add_exception_handler(kind, make(api_handler))
