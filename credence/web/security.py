"""What every page gets: security headers, a CSRF form token, and cookies set safely.

``WebSecurity`` is ASGI middleware. On every web response (everything but the
API under ``/v1`` and its OpenAPI docs) it sets a Content-Security-Policy that
allows only this origin's own scripts, styles and images (no inline script or
style, no eval, no framing), ``X-Content-Type-Options: nosniff``,
``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store`` for pages.
It gives each browser a CSRF cookie once: a random nonce signed with a key
derived from the ledger's master key. Every form carries the same value in a
hidden ``csrf_token`` field (htmx requests may send it as ``X-CSRF-Token``
instead), and ``require_csrf`` — a dependency of every web router — refuses a
POST whose field does not match the cookie, or whose cookie is not one the
ledger signed, with 403 ``web.csrf``.

Cookies are HttpOnly and SameSite=Lax, and Secure when the request came over
https: directly, or as ``X-Forwarded-Proto`` from an address in
``CREDENCE_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any

from fastapi import Request, Response
from starlette.datastructures import MutableHeaders

from credence.errors import CsrfInvalid
from credence.service.ledger import Ledger
from credence.service.party_sessions import signed_payload, signed_value

CSRF_COOKIE = "credence_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CSRF_PURPOSE = "csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
_API_PREFIXES = ("/v1/", "/docs", "/openapi.json")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_web_path(path: str) -> bool:
    """Whether a path is one of the pages (not the JSON API or its docs)."""
    return not (path == "/v1" or path.startswith(_API_PREFIXES))


def _trusted(ledger: Ledger, host: str | None) -> bool:
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False)
        for net in ledger.settings.trusted_proxies
    )


def over_tls(scope: Scope, ledger: Ledger) -> bool:
    """Whether the browser reached us over https (directly or through a trusted proxy)."""
    if scope.get("scheme") == "https":
        return True
    client = scope.get("client")
    if not _trusted(ledger, client[0] if client else None):
        return False
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-proto":
            return bool(value.decode("latin-1").split(",")[0].strip().lower() == "https")
    return False


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Lax, path /, Secure over TLS."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int | None = None
) -> None:
    """Set a cookie on a page's response with the flags every Credence cookie has."""
    secure = over_tls(request.scope, request.app.state.ledger)
    response.headers.append(
        "set-cookie", cookie_header(name, value, secure=secure, max_age=max_age)
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    """Remove a cookie (sign-out)."""
    set_cookie(request, response, name, "", max_age=0)


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is no cookie
                continue
    return {key: morsel.value for key, morsel in jar.items()}


def csrf_valid(ledger: Ledger, token: str | None) -> bool:
    """Whether a CSRF token is one this ledger signed."""
    return bool(token) and signed_payload(ledger, CSRF_PURPOSE, token or "") is not None


class WebSecurity:
    """ASGI middleware: security headers on every page, and a CSRF cookie for each browser."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_web_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        ledger: Ledger = scope["app"].state.ledger
        token = _cookies(scope).get(CSRF_COOKIE)
        fresh = None
        if not csrf_valid(ledger, token):
            token = fresh = signed_value(ledger, CSRF_PURPOSE, {"n": secrets.token_hex(16)})
        scope.setdefault("state", {})["csrf_token"] = token
        secure = over_tls(scope, ledger)
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["content-security-policy"] = CSP
                headers["x-content-type-options"] = "nosniff"
                headers["referrer-policy"] = "no-referrer"
                headers["x-frame-options"] = "DENY"
                headers["cross-origin-opener-policy"] = "same-origin"
                if not static:
                    headers["cache-control"] = "no-store"
                    if fresh is not None:
                        headers.append(
                            "set-cookie", cookie_header(CSRF_COOKIE, fresh, secure=secure)
                        )
            await send(message)

        await self.app(scope, receive, with_headers)


async def require_csrf(request: Request) -> None:
    """Refuse a state-changing request without the browser's CSRF token.

    Raises:
        CsrfInvalid: when the form field (or ``X-CSRF-Token``) is missing, or differs
            from the CSRF cookie, or the cookie is not one this ledger signed.
    """
    if request.method not in UNSAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    ledger: Ledger = request.app.state.ledger
    if (
        cookie is None
        or sent is None
        or not csrf_valid(ledger, cookie)
        or not hmac.compare_digest(cookie.encode(), sent.encode())
    ):
        raise CsrfInvalid(
            "this form was not sent from a page of this site (its CSRF token is missing or stale)",
            suggestion="reload the page and send the form again",
        )
