"""The one app factory: an open ledger in, a FastAPI app out, versioned under ``/v1``.

The web pages (``credence.web``) are mounted on the same app, at ``/``.

The app shares the one ``Ledger`` (and so one store) across requests. Its
endpoints are plain functions, which FastAPI runs in its thread pool; the
SQLite store serialises writes behind its lock and reads from a small pool,
and the PostgreSQL store keeps a connection pool, so both are safe to share.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import Depends, FastAPI

from credence.api import errors
from credence.api.deps import refuse_nul
from credence.api.errors import ErrorResponse
from credence.api.limits import BodyLimit
from credence.api.routers import (
    disputes,
    health,
    operator,
    providers,
    redress,
    relying_parties,
    subjects,
)
from credence.service.ledger import Ledger

API_VERSION = "v1"
# Matched in this order, and no two share a path: the machine-to-machine routes,
# asked thousands of times a second, come first so that they are found first.
API_ROUTERS = tuple(
    m.router for m in (relying_parties, providers, health, subjects, operator, disputes, redress)
)

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "The request cannot work"),
        (401, "No valid API key or session"),
        (403, "Not allowed for this caller, or no consent"),
        (404, "Not found"),
        (409, "Conflict"),
        (413, "Body over the size limit"),
        (422, "The request does not fit its schema"),
        (503, "The ledger is unavailable"),
    )
}


def _version() -> str:
    try:
        return version("credence")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def create_app(
    ledger: Ledger,
    *,
    max_body_bytes: int | None = None,
    on_shutdown: Callable[[], None] | None = None,
) -> FastAPI:
    """The HTTP service over an open ledger; the caller keeps it open while the app runs.

    ``on_shutdown`` runs when the server stops the app (a worker closes its ledger).
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if on_shutdown is not None:
                on_shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="Credence",
        version=_version(),
        summary="Accountable trust scoring: decisions with reasons, only with the subject's consent.",
        description='Every error is `{"error": {"code", "message", ...}}`; see docs/api.md.',
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        responses=_ERRORS,
        dependencies=[Depends(refuse_nul)],
    )
    app.state.ledger = ledger
    errors.install(app)
    prefix = f"/{API_VERSION}"
    for router in API_ROUTERS:
        app.include_router(router, prefix=prefix)
    limit = max_body_bytes if max_body_bytes is not None else ledger.settings.max_body_bytes
    app.add_middleware(BodyLimit, limit=limit)
    _install_pages(app)
    return app


def _install_pages(app: FastAPI) -> None:
    # The web pages need the [web] extra; without it the API runs alone.
    try:
        from credence.web import install
    except ImportError as e:
        if e.name not in ("jinja2", "babel", "multipart", "python_multipart"):
            raise
        return
    install(app)
