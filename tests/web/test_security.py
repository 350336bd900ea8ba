"""Page security: CSRF on every POST, the CSP and its neighbours, cookies, who may see what."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from credence.api import create_app
from credence.service.parties import revoke_key
from credence.service.party_sessions import (
    issue_party_sign_in_token,
    signed_value,
)
from credence.settings import load_settings
from credence.web import page_routes
from credence.web.security import CSRF_PURPOSE, over_tls
from tests.web.conftest import ALICE, Site, csrf, sign_in

PAGES = ("/", "/sign-in", "/console/sign-in", "/me", "/me/records", "/me/consents", "/nowhere")


def test_every_post_route_refuses_a_request_without_the_csrf_token(
    browser: TestClient, site: Site
) -> None:
    sign_in(browser, site.ledger, ALICE)
    posts = [path for method, path in page_routes() if method == "POST"]
    assert "/me/consents" in posts and "/sign-in" in posts
    for path in posts:
        concrete = re.sub(r"\{[^}]+\}", "cns_000000000000", path)
        answer = browser.post(concrete, data={"token": "x"}, follow_redirects=False)
        assert answer.status_code == 403, path
        assert "web.csrf" in answer.text and "<html" in answer.text, path


def test_a_csrf_token_must_match_the_cookie_and_be_signed_by_this_ledger(
    browser: TestClient, site: Site
) -> None:
    sign_in(browser, site.ledger, ALICE)
    form = {"choice": "acme-rentals|rentals", "days": "5"}
    mine = csrf(browser)
    other = signed_value(site.ledger, CSRF_PURPOSE, {"n": "someone-else"})
    assert browser.post("/me/consents", data={**form, "csrf_token": other}).status_code == 403
    forged = "eyJuIjoiMSJ9.AAAA"
    browser.cookies.set("credence_csrf", forged)
    assert browser.post("/me/consents", data={**form, "csrf_token": forged}).status_code == 403
    browser.cookies.set("credence_csrf", mine)
    assert browser.post("/me/consents", data={**form, "csrf_token": mine}).status_code == 201
    # htmx may send it as a header instead of a field
    sent = browser.post("/me/consents", data=form, headers={"X-CSRF-Token": mine})
    assert sent.status_code == 201


def test_every_page_has_the_csp_without_unsafe_inline_and_its_neighbours(
    browser: TestClient, site: Site
) -> None:
    sign_in(browser, site.ledger, ALICE)
    for path in PAGES:
        answer = browser.get(path)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "no-referrer", path
        text = answer.text
        # nothing inline for the CSP to refuse: scripts have a src, no style element or attribute
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert "<style" not in text and not re.search(r"\sstyle=", text), path
        assert not re.search(r"\son[a-z]+=", text), path  # no inline event handlers
        # and nothing from another origin
        assert not re.search(r'(src|href)="(https?:)?//', text), path


def test_the_api_keeps_its_own_headers(browser: TestClient) -> None:
    answer = browser.get("/v1/health")
    assert "content-security-policy" not in answer.headers
    assert answer.headers["content-type"] == "application/json"


def test_assets_are_vendored_and_served_from_the_package(browser: TestClient) -> None:
    page = browser.get("/").text
    for asset in re.findall(r'(?:src|href)="(/static/[^"?]+)', page):
        answer = browser.get(asset)
        assert answer.status_code == 200 and answer.content, asset
    assert browser.get("/static/htmx.min.js").text.startswith(("var htmx", "(()", "(function"))


def test_session_cookies_are_secure_over_tls(site: Site) -> None:
    with TestClient(create_app(site.ledger), base_url="https://credence.test") as client:
        sign_in(client, site.ledger, ALICE)
        cookies = {c.name: c for c in client.cookies.jar}
        assert cookies["credence_session"].secure and cookies["credence_csrf"].secure


def _scope(scheme: str, client: str, proto: str | None) -> dict[str, object]:
    headers = [] if proto is None else [(b"x-forwarded-proto", proto.encode())]
    return {"scheme": scheme, "client": (client, 4000), "headers": headers}


class _Ledger:
    def __init__(self, proxies: str) -> None:
        self.settings = load_settings({}, trusted_proxies=proxies)


@pytest.mark.parametrize(
    ("scheme", "client", "proto", "proxies", "secure"),
    [
        ("https", "203.0.113.9", None, "", True),
        ("http", "203.0.113.9", None, "", False),
        ("http", "203.0.113.9", "https", "", False),  # nobody is trusted to say so
        ("http", "10.1.2.3", "https", "10.0.0.0/8", True),
        ("http", "10.1.2.3", "http", "10.0.0.0/8", False),
        ("http", "192.0.2.1", "https", "10.0.0.0/8,127.0.0.1", False),
        ("http", "127.0.0.1", "https, http", "10.0.0.0/8,127.0.0.1", True),
        ("http", "testclient", "https", "10.0.0.0/8", False),  # not an address at all
    ],
)
def test_forwarded_proto_counts_only_from_a_trusted_proxy(
    scheme: str, client: str, proto: str | None, proxies: str, secure: bool
) -> None:
    ledger = _Ledger(proxies)
    assert over_tls(_scope(scheme, client, proto), ledger) is secure  # type: ignore[arg-type]


def test_a_bad_trusted_proxies_setting_is_refused() -> None:
    from credence.errors import UsageError

    with pytest.raises(UsageError, match="CREDENCE_TRUSTED_PROXIES"):
        load_settings({"CREDENCE_TRUSTED_PROXIES": "10.0.0.0/8,not-an-ip"})


def test_a_subject_session_opens_no_console_and_a_console_session_no_portal(
    browser: TestClient, site: Site
) -> None:
    sign_in(browser, site.ledger, ALICE)
    browser.cookies.set("credence_console", browser.cookies["credence_session"])
    assert browser.get("/me").status_code == 200
    with TestClient(create_app(site.ledger), raise_server_exceptions=False) as operator:
        signed = operator.post(
            "/console/sign-in",
            data={"api_key": site.keys["ops"], "csrf_token": csrf(operator)},
            follow_redirects=False,
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/console"
        operator.cookies.set("credence_session", operator.cookies["credence_console"])
        assert operator.get("/me", follow_redirects=False).status_code == 303


def test_a_console_session_ends_when_its_key_is_revoked(browser: TestClient, site: Site) -> None:
    from credence.errors import AuthenticationFailed
    from credence.service.parties import create_key, list_keys
    from credence.service.party_sessions import authenticate_party_session

    key = create_key(site.ledger, "fair-review")
    link = issue_party_sign_in_token(site.ledger, "fair-review")
    page = browser.get(f"/console/sign-in?token={link.token}")
    assert page.status_code == 200 and link.token in page.text
    signed = browser.post(
        "/console/sign-in",
        data={"token": link.token, "csrf_token": csrf(browser)},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    session = authenticate_party_session(site.ledger, browser.cookies["credence_console"])
    assert session.party.name == "fair-review" and session.key_id == key.key_id
    for info in list_keys(site.ledger, party_name="fair-review"):
        revoke_key(site.ledger, info.key_id)
    with pytest.raises(AuthenticationFailed):
        authenticate_party_session(site.ledger, browser.cookies["credence_console"])
    refused = browser.post(
        "/console/sign-in",
        data={"token": link.token, "csrf_token": csrf(browser)},
        follow_redirects=False,
    )
    assert refused.status_code == 401
