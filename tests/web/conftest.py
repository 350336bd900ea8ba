"""Web fixtures: in-process pages over a golden ledger per backend, and real browsers.

``site``/``browser`` give a browser-like TestClient over a golden ledger with
parties, on SQLite and PostgreSQL. ``chromium``/``web_server``/``page`` drive
Debian's Chromium (Playwright) against a real ``credence serve``: one browser
per run, one server per module, a fresh page per test. A browser test that
fails leaves a screenshot of its page under ``test-artifacts/`` (git-ignored;
CI keeps the directory).
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from credence.api import create_app
from credence.service.ledger import Ledger, open_ledger
from credence.service.parties import PartyKind, add_party, create_key
from credence.service.sessions import issue_sign_in_token
from credence.types import SubjectRef
from tests.api.conftest import backend_settings
from tests.web.browser import (
    ARTIFACTS,
    VIEWPORT,
    WebServer,
    chromium_or_skip,
    watch,
    web_server_at,
)

ALICE = SubjectRef("custom", "alice")
BOB = SubjectRef("custom", "bob")


@dataclass(frozen=True)
class Site:
    """The open ledger behind the pages, and the API keys of its parties."""

    ledger: Ledger
    keys: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """One golden ledger per backend with an operator, a provider, a relying party and a reviewer."""
    with ExitStack() as stack:
        settings = stack.enter_context(
            backend_settings(request.param, tmp_path_factory.mktemp("web"), request)
        )
        ledger = stack.enter_context(open_ledger(settings))
        add_party(ledger, "ops", kind=PartyKind.OPERATOR)
        add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
        add_party(ledger, "acme-rentals", kind=PartyKind.RELYING_PARTY, contexts=("rentals",))
        add_party(ledger, "fair-review", kind=PartyKind.REVIEWER)
        keys = {
            name: create_key(ledger, name).token for name in ("ops", "acme-rentals", "fair-review")
        }
        yield Site(ledger, keys)


@pytest.fixture
def browser(site: Site) -> Iterator[TestClient]:
    """A fresh browser: its own cookies, no session."""
    with TestClient(create_app(site.ledger), raise_server_exceptions=False) as client:
        yield client


def csrf(client: TestClient) -> str:
    """The browser's CSRF token, fetching a page first if it has none yet."""
    if "credence_csrf" not in client.cookies:
        assert client.get("/").status_code == 200
    return client.cookies["credence_csrf"]


def sign_in(client: TestClient, ledger: Ledger, ref: SubjectRef) -> None:
    """Sign a subject in through the pages, as the sign-in link does."""
    token = issue_sign_in_token(ledger, ref).token
    form = client.get(f"/sign-in?token={token}")
    assert form.status_code == 200 and token in form.text
    answer = client.post(
        "/sign-in", data={"token": token, "csrf_token": csrf(client)}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/me", answer.text


# --- real browsers ---------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    """Keep each phase's report on the test item, so the page fixture knows if the test failed."""
    outcome: Any = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, headless; never a browser Playwright downloads."""
    path = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(path), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """A real ``credence serve`` over a demo-like SQLite ledger, shared by a module's tests."""
    with web_server_at(tmp_path_factory.mktemp("web")) as server:
        yield server


@pytest.fixture
def page(request: pytest.FixtureRequest, chromium: Any, web_server: WebServer) -> Iterator[Any]:
    """A page in a fresh browser context (no cookies) whose base URL is the module's server.

    After the test: a screenshot if it failed, and a failure if the page asked
    anything of another origin or raised a script error.
    """
    context = chromium.new_context(base_url=web_server.url, viewport=VIEWPORT, locale="en-GB")
    page = context.new_page()
    seen = watch(page, web_server.url)
    try:
        yield page
        failed = getattr(request.node, "report_call", None)
        if failed is not None and failed.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        else:
            assert seen.offsite == [], f"the page asked other origins: {seen.offsite}"
            assert seen.errors == [], f"the page raised script errors: {seen.errors}"
    finally:
        context.close()
