"""Web fixtures: one Chromium per run, one real server per module, a fresh page per test.

A browser test that fails leaves a screenshot of its page under
``test-artifacts/`` (git-ignored; CI keeps the directory).
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from tests.web.browser import (
    ARTIFACTS,
    VIEWPORT,
    WebServer,
    chromium_or_skip,
    watch,
    web_server_at,
)


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
