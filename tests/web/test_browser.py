"""The pages in a real browser: people's journeys, axe-core on every page, the keyboard alone.

One ``credence serve`` for the module (``web_server``), one Chromium for the
run; each test has its own browser context, so cookies never leak between
tests. Pages a test only reads are entered with a session cookie made
through the service; the journeys sign in through the forms.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from credence.service.party_sessions import start_party_session
from credence.service.scoring import score_subject
from credence.types import SubjectRef
from credence.web.auth import CONSOLE_COOKIE, SUBJECT_COOKIE
from tests.web.browser import WebServer, assert_accessible, assert_keyboard_reaches_everything

pytestmark = pytest.mark.browser

PUBLIC = ("/", "/register", "/sign-in", "/console/sign-in")
PORTAL = (
    "/me",
    "/me/records",
    "/me/notices",
    "/me/consents",
    "/me/accesses",
    "/me/decisions",
    "/me/data",
)
CONSOLE = (
    "/console",
    "/console/queue",
    "/console/restrictions",
    "/console/overrides",
    "/console/parties",
    "/console/policy",
)


def as_subject(page: Any, server: WebServer, subject: str = "custom:alice") -> None:
    """Give the page's browser a subject's session cookie."""
    page.context.add_cookies(
        [{"name": SUBJECT_COOKIE, "value": server.session_token(subject), "url": server.url}]
    )


def as_party(page: Any, server: WebServer, role: str = "operator") -> None:
    """Give the page's browser a party's console session cookie."""
    with server.ledger() as ledger:
        token, _ = start_party_session(ledger, api_key=server.tokens[role])
    page.context.add_cookies([{"name": CONSOLE_COOKIE, "value": token, "url": server.url}])


@pytest.mark.parametrize("path", PUBLIC + PORTAL + CONSOLE)
def test_every_page_passes_axe_and_every_control_is_reached_by_keyboard(
    page: Any, web_server: WebServer, path: str
) -> None:
    if path in PORTAL:
        as_subject(page, web_server)
    elif path in CONSOLE:
        as_party(page, web_server)
    response = page.goto(path)
    assert response is not None and response.status == 200
    assert page.url.endswith(path)
    assert_accessible(page)
    assert assert_keyboard_reaches_everything(page) > 0


@pytest.mark.parametrize("path", ("/register", "/console", "/me"))
def test_pages_in_chinese_pass_axe_too(page: Any, web_server: WebServer, path: str) -> None:
    as_subject(page, web_server)
    as_party(page, web_server)
    page.context.add_cookies([{"name": "credence_lang", "value": "zh-Hans", "url": web_server.url}])
    page.goto(path)
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert_accessible(page)


def test_a_subject_signs_in_and_reads_their_score_and_reasons(
    page: Any, web_server: WebServer
) -> None:
    token = web_server.sign_in_token("custom:alice")
    page.goto(f"/sign-in?token={token}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/me")
    with web_server.ledger() as ledger:
        expected = score_subject(ledger, SubjectRef("custom", "alice")).outcome
    assert page.locator(".score-value").inner_text() == str(expected.score)
    assert page.get_by_role("heading", name="Key factors").is_visible()
    assert page.get_by_text("Rent paid on time").first.is_visible()
    # the token was spent: the same link signs no one in again
    page.context.clear_cookies()
    page.goto(f"/sign-in?token={token}")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").is_visible()


def test_a_subject_grants_a_consent_and_revokes_it_in_place(
    page: Any, web_server: WebServer
) -> None:
    as_subject(page, web_server, "custom:bob")
    page.goto("/me/consents")
    page.get_by_label("Relying party and context").select_option(label="acme-rentals — rentals")
    page.get_by_label("For how many days").fill("30")
    page.get_by_role("button", name="Give consent").click()
    assert page.get_by_role("status").filter(has_text="acme-rentals").first.is_visible()
    revoke = page.get_by_role("button", name="Revoke consent for acme-rentals")
    url = page.url
    revoke.click()  # htmx swaps the row; the page does not reload
    page.get_by_text(re.compile("revoked on")).wait_for()
    assert page.url == url
    assert page.get_by_role("button", name="Revoke consent for acme-rentals").count() == 0


def test_an_operator_signs_in_issues_a_key_seen_once_and_revokes_it(
    page: Any, web_server: WebServer
) -> None:
    page.goto("/console/sign-in")
    page.get_by_label("API key").fill(web_server.tokens["operator"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console")
    page.get_by_role("link", name="Parties and keys").click()
    page.get_by_role("button", name="Issue a new key for bank-a").click()
    secret = page.locator("#key-slot .secret code")
    secret.wait_for()
    token = secret.inner_text()
    assert token.startswith("cred_")
    key_id = token.split("_")[1]
    row = page.locator(f"#key-{key_id}")
    assert row.count() == 0  # the list on screen predates the key; a reload shows it
    page.reload()
    assert token not in page.content()
    page.get_by_role("button", name=f"Revoke key {key_id}").click()
    page.locator(f"#key-{key_id}").get_by_text("revoked").wait_for()
    from credence.errors import AuthenticationFailed
    from credence.service.parties import authenticate

    with web_server.ledger() as ledger, pytest.raises(AuthenticationFailed):
        authenticate(ledger, token)


def test_the_register_shows_the_policy_and_the_language_switch_works(
    page: Any, web_server: WebServer
) -> None:
    page.goto("/")
    page.get_by_role("link", name="Public register").click()
    page.wait_for_url("**/register")
    assert page.get_by_role("heading", name="Public register", level=1).is_visible()
    assert page.get_by_text("Bills paid more than 30 days late").first.is_visible()
    assert page.get_by_text("Rental platform terms §7.2").is_visible()
    assert page.get_by_text("fewer than 10").count() >= 1
    page.get_by_role("link", name="简体中文").click()
    page.wait_for_url("**/register")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.get_by_role("heading", name="即将生效的政策变更").is_visible()
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/register")
    assert page.get_attribute("html", "lang") == "en"


def test_a_reviewer_is_refused_the_operators_pages(page: Any, web_server: WebServer) -> None:
    as_party(page, web_server, "reviewer")
    response = page.goto("/console/parties")
    assert response is not None and response.status == 403
    assert_accessible(page)  # the error page too


def test_a_dispute_from_filing_to_upheld_drops_the_record_and_changes_the_score(
    page: Any, chromium: Any, web_server: WebServer
) -> None:
    as_subject(page, web_server, "custom:bob")
    page.goto("/me")
    before = int(page.locator(".score-value").inner_text())
    page.goto("/me/records")
    # the first record lowering bob's score that he may dispute
    row = (
        page.locator("tr", has=page.locator("td.negative"))
        .filter(has=page.get_by_role("link", name=re.compile("Dispute this record")))
        .first
    )
    link = row.get_by_role("link", name=re.compile("Dispute this record"))
    record = re.search(r"\((.+)\)", link.inner_text() or "")
    record_id = link.get_attribute("href").split("record=")[1].replace("%3A", ":")  # type: ignore[union-attr]
    assert record is None or record.group(1) == record_id
    record = record_id
    link.click()
    page.get_by_label("What is wrong").fill("I paid that month's rent on time.")
    page.get_by_role("button", name="File the dispute").click()
    filed = page.get_by_text(re.compile(rf"Dispute (dsp_\w+) of {record} is open"))
    filed.wait_for()
    dispute_id = re.search(r"dsp_\w+", filed.inner_text()).group(0)  # type: ignore[union-attr]
    assert page.get_by_text(re.compile(r"\d+ days left")).first.is_visible()  # its clock
    assert_accessible(page)

    reviewer = chromium.new_context(base_url=web_server.url)
    try:
        desk = reviewer.new_page()
        as_party(desk, web_server, "reviewer")
        desk.goto("/console/queue")
        item = desk.locator(f"#dispute-{dispute_id}")
        assert item.get_by_text("I paid that month's rent on time.").is_visible()
        assert_accessible(desk)
        item.get_by_label("Uphold: the record no longer counts").check()
        item.get_by_label("Reason (the subject sees it)").fill("The provider sent no proof.")
        item.get_by_role("button", name=f"Decide dispute {dispute_id}").click()
        desk.get_by_text(f"Dispute {dispute_id} upheld").wait_for()  # swapped in place
    finally:
        reviewer.close()

    page.goto("/me/records")
    event_id = record.split(":", 1)[1]
    row = page.locator("tr", has=page.locator("code", has_text=re.compile(f"^{event_id}$")))
    assert row.locator("td.negative").count() == 0  # gone from what counts against him
    page.goto("/me")
    assert int(page.locator(".score-value").inner_text()) > before
