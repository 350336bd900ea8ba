"""The web pages ``credence serve`` serves beside the API: the subject portal, the console, the register.

Server-rendered Jinja2 with htmx for partial updates; every asset is vendored
in the package (``static/``), so a page makes no request to any other
origin. The pages call only ``credence.service`` (the same use cases as the
HTTP API) and never the ledger. ``install(app)`` mounts them on the API's app.

Structure (one module per concern; a new area adds a module and one line in ``AREAS``):

- ``security.py`` — ``WebSecurity`` middleware (CSP without inline script or
  style, nosniff, no referrer, no framing; the CSRF cookie), ``require_csrf``
  (every router made by ``page_router()`` checks it on each POST), and the
  cookie helpers (HttpOnly, SameSite=Lax, Secure behind TLS).
- ``auth.py`` — who is looking: ``SubjectDep`` (the portal), ``OperatorDep``
  and ``PartyDep`` (the console); no session on a GET redirects to sign-in.
- ``i18n.py`` — English and Simplified Chinese from the Babel catalogs in
  ``locales/`` (compiled in memory), chosen by cookie or Accept-Language.
- ``templating.py`` — ``render(request, "page.html", {...})`` and what every
  template gets (``lang``, ``languages``, ``csrf_token``, ``static()``).
- ``errors.py`` — errors on pages as HTML pages (the API keeps its JSON shape).
- ``sign_in.py`` — ``/``, ``/sign-in`` (subjects), ``/console/sign-in``
  (parties), sign-out, and ``/language/{code}`` (the switch on every page).
- ``portal.py`` — the subject portal under ``/me``; ``chart.py`` draws the
  score history as inline SVG on the server.
- ``templates/`` — ``base.html`` (skip link, header with the language switch,
  ``<main id="main">``, footer), ``macros.html`` (``csrf_field()``, form
  fields with labels), a template per page, ``partials/`` for htmx fragments.
- ``static/`` — ``credence.css`` (ours) and ``htmx.min.js`` (htmx.org 4.0.1,
  0BSD, ``htmx.LICENSE.txt``).
- ``locales/zh_Hans/LC_MESSAGES/messages.po`` — the Chinese catalog; after
  changing a string run ``pybabel extract -F credence/web/babel.cfg -o
  credence/web/locales/messages.pot credence/web`` and ``pybabel update -i
  credence/web/locales/messages.pot -d credence/web/locales``, then translate.
  A test fails while a message has no Chinese translation.

To add pages: make a module with ``router = page_router()``, write routes that
take a session dependency from ``auth.py``, call one service function and
``render(...)`` a template extending ``base.html``; put every form's
``{{ csrf_field() }}`` in; add the module to ``AREAS``.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from credence.web.security import WebSecurity, require_csrf

STATIC_DIR = Path(__file__).parent / "static"
# The modules of pages, each with a ``router``; the first ones win a path they share.
AREAS = ("sign_in", "portal", "register", "console")


def page_router() -> APIRouter:
    """A router for pages: CSRF checked on every unsafe method, kept out of the OpenAPI schema."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])


def create_router() -> APIRouter:
    """Every page of every area, in one router."""
    router = page_router()
    for area in AREAS:
        router.include_router(import_module(f"credence.web.{area}").router)
    return router


def page_routes() -> list[tuple[str, str]]:
    """``(method, path)`` of every page route, sorted: what the authorization matrix must cover."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any]) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)  # an included router
            if inner is not None:
                walk(inner.routes)
            elif isinstance(route, APIRoute):
                found.update((method, route.path) for method in route.methods or ())

    walk(create_router().routes)
    return sorted(found)


def install(app: FastAPI) -> None:
    """Mount the pages, their static assets, their error pages and their security headers."""
    from credence.web import errors

    app.include_router(create_router())
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    errors.install(app)
    app.add_middleware(WebSecurity)


__all__ = ["create_router", "install", "page_router", "page_routes"]
