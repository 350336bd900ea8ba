"""Rendering a page: one Jinja2 environment per language, the base context every page needs.

Templates live in ``templates/`` (pages at the top, fragments htmx swaps in
``templates/partials/``). Every template extends ``base.html`` (pages) or is a
partial, marks its text with ``{% trans %}`` or ``_()`` for the catalogs, and
gets, besides what its route passes: ``lang`` (the page's ``Language``),
``languages`` (for the switch), ``csrf_token`` (for every form; use the
``csrf_field()`` macro in ``macros.html``), ``static(name)`` (a versioned URL
of a vendored asset), ``path`` (the current path, for the switch and the
navigation), and the filters ``when`` (a time) and ``day`` (a date).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from credence.types import format_date, from_micros
from credence.web import i18n


def _version() -> str:
    try:
        return version("credence")
    except PackageNotFoundError:  # a source tree never installed
        return "0"


ASSET_VERSION = _version()


def static_url(name: str) -> str:
    """The URL of a vendored asset, with the package version so a new release is fetched anew."""
    return f"/static/{quote(name)}?v={ASSET_VERSION}"


def _when(micros: int | None) -> str:
    return "—" if micros is None else from_micros(micros).strftime("%Y-%m-%d %H:%M UTC")


def _day(micros: int | None) -> str:
    return "—" if micros is None else format_date(micros)


@cache
def environment(lang: i18n.Language) -> Environment:
    """The template environment of one language (its catalog installed), built once."""
    env = Environment(
        loader=PackageLoader("credence.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["static"] = static_url
    env.filters["when"] = _when
    env.filters["day"] = _day
    return env


def language(request: Request) -> i18n.Language:
    """The language of this request's page (cookie, else Accept-Language)."""
    return i18n.choose(
        cookie=request.cookies.get(i18n.COOKIE),
        accept_language=request.headers.get("accept-language"),
    )


def gettext(request: Request, message: str) -> str:
    """A message from Python code (e.g. a confirmation) in the page's language."""
    return i18n.translations(language(request)).gettext(message)


def render_text(request: Request, template: str, context: Mapping[str, Any] | None = None) -> str:
    """A template rendered for this request, as text."""
    lang = language(request)
    base = {
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "csrf_token": request.scope.get("state", {}).get("csrf_token", ""),
        "path": request.url.path,
        "query": request.url.query,
    }
    return environment(lang).get_template(template).render({**base, **(context or {})})


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A page (or an htmx fragment) rendered for this request."""
    response = HTMLResponse(render_text(request, template, context), status_code=status_code)
    response.headers["content-language"] = language(request).html
    response.headers["vary"] = "Accept-Language, Cookie, HX-Request"
    return response
