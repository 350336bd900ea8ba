"""The subject portal: signing in, every page, only one's own data, consents, the download."""

from __future__ import annotations

import re

import orjson
from fastapi.testclient import TestClient

from credence.service import subject_views
from credence.service.sessions import authenticate_session
from credence.types import format_date
from tests.web.conftest import ALICE, BOB, Site, csrf, sign_in

PAGES = (
    "/me",
    "/me/records",
    "/me/disputes",
    "/me/notices",
    "/me/consents",
    "/me/accesses",
    "/me/decisions",
    "/me/data",
)


def _events(text: str) -> set[str]:
    return set(re.findall(r"<code>([abc]\d+)</code>", text))


def test_the_sign_in_link_shows_a_button_and_posting_it_opens_the_portal(
    browser: TestClient, site: Site
) -> None:
    assert browser.get("/me", follow_redirects=False).headers["location"] == "/sign-in"
    sign_in(browser, site.ledger, ALICE)
    cookie = next(h for h in browser.cookies.jar if h.name == "credence_session")
    assert cookie.has_nonstandard_attr("HttpOnly") and not cookie.secure
    page = browser.get("/me")
    assert page.status_code == 200
    session = authenticate_session(site.ledger, cookie.value or "")
    own = subject_views.own_score(site.ledger, session).outcome
    assert f'<span class="score-value">{own.score}</span>' in page.text
    assert "custom:alice" in page.text


def test_a_sign_in_token_works_once(browser: TestClient, site: Site) -> None:
    from credence.service.sessions import issue_sign_in_token

    token = issue_sign_in_token(site.ledger, ALICE).token
    data = {"token": token, "csrf_token": csrf(browser)}
    assert browser.post("/sign-in", data=data, follow_redirects=False).status_code == 303
    again = browser.post("/sign-in", data=data, follow_redirects=False)
    assert again.status_code == 401 and 'role="alert"' in again.text


def test_signing_out_ends_the_session(browser: TestClient, site: Site) -> None:
    sign_in(browser, site.ledger, ALICE)
    token = browser.cookies["credence_session"]
    out = browser.post("/sign-out", data={"csrf_token": csrf(browser)}, follow_redirects=False)
    assert out.status_code == 303
    browser.cookies.set("credence_session", token)  # a copied cookie no longer works either
    assert browser.get("/me", follow_redirects=False).status_code == 303


def test_every_portal_page_renders_for_the_subject(browser: TestClient, site: Site) -> None:
    sign_in(browser, site.ledger, ALICE)
    for path in PAGES:
        page = browser.get(path)
        assert page.status_code == 200, path
        assert page.text.count("<h1>") == 1, path
        assert 'href="#main"' in page.text and '<main id="main"' in page.text, path
        assert 'aria-current="page"' in page.text, path
        assert "/language/zh-Hans?next=" in page.text, path


def test_a_subject_sees_only_their_own_records(site: Site) -> None:
    from credence.api import create_app

    seen = {}
    for ref in (ALICE, BOB):
        with TestClient(create_app(site.ledger)) as client:
            sign_in(client, site.ledger, ref)
            seen[ref.id] = set().union(*(_events(client.get(p).text) for p in PAGES))
            data = orjson.loads(client.get("/me/data.json").content)
            exported = {r["provider_event_id"] for r in data["records"]}
            assert data["subject"]["id"] == ref.id
            assert exported and all(e.startswith(ref.id[0]) for e in exported)
    assert seen["alice"] and all(e.startswith("a") for e in seen["alice"])
    assert seen["bob"] and all(e.startswith("b") for e in seen["bob"])


def test_records_show_what_each_counts_and_when_it_stops(browser: TestClient, site: Site) -> None:
    sign_in(browser, site.ledger, ALICE)
    page = browser.get("/me/records").text
    session = authenticate_session(site.ledger, browser.cookies["credence_session"])
    views = subject_views.own_records(site.ledger, session)
    assert views
    for view in views:
        assert f"<code>{view.provider_event_id}</code>" in page
        if view.expires_at is not None:
            assert format_date(view.expires_at) in page
        if view.counting:
            assert f"{view.points:+.1f}" in page


def test_the_chart_draws_24_month_ends_with_a_table_of_the_same(
    browser: TestClient, site: Site
) -> None:
    sign_in(browser, site.ledger, ALICE)
    page = browser.get("/me").text
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert svg.count('<circle class="point"') == 24
    assert svg.count('<rect class="band') == len(site.ledger.policy.tier_ids)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    session = authenticate_session(site.ledger, browser.cookies["credence_session"])
    history = subject_views.score_history(site.ledger, session)
    table = page[page.index('<details class="chart-table">') :]
    cells = re.findall(r'<td class="num">(\d+)</td>', table[: table.index("</table>")])
    assert [int(c) for c in cells] == [p.score for p in history.points]
    assert history.points[-1].score == subject_views.own_score(site.ledger, session).outcome.score


def test_consent_given_and_revoked_from_the_page(browser: TestClient, site: Site) -> None:
    sign_in(browser, site.ledger, BOB)
    token = csrf(browser)
    given = browser.post(
        "/me/consents",
        data={
            "choice": "acme-rentals|rentals",
            "scope": "decision",
            "days": "30",
            "csrf_token": token,
        },
    )
    assert given.status_code == 201 and "acme-rentals may receive decisions" in given.text
    consent_id = re.search(r"Consent (cns_[0-9a-f]+)", given.text).group(1)  # type: ignore[union-attr]
    revoked = browser.post(
        f"/me/consents/{consent_id}/revoke",
        data={"csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert revoked.status_code == 200 and revoked.text.lstrip().startswith("<tr")
    assert "revoked on" in revoked.text and "<html" not in revoked.text
    session = authenticate_session(site.ledger, browser.cookies["credence_session"])
    from credence.service.consents import list_consents

    mine = {c.id: c for c in list_consents(site.ledger, session)}
    assert mine[consent_id].revoked_at is not None


def test_a_consent_the_party_cannot_take_is_refused_on_the_page(
    browser: TestClient, site: Site
) -> None:
    sign_in(browser, site.ledger, BOB)
    answer = browser.post(
        "/me/consents",
        data={"choice": "acme-rentals|lending", "days": "30", "csrf_token": csrf(browser)},
    )
    assert answer.status_code == 422 and "consent.invalid" in answer.text
    assert "<form" in answer.text  # the form is there to try again


def test_another_subjects_consent_cannot_be_revoked(site: Site) -> None:
    from credence.api import create_app

    with TestClient(create_app(site.ledger), raise_server_exceptions=False) as alice:
        sign_in(alice, site.ledger, ALICE)
        given = alice.post(
            "/me/consents",
            data={"choice": "acme-rentals|rentals", "days": "10", "csrf_token": csrf(alice)},
        )
        consent_id = re.search(r"Consent (cns_[0-9a-f]+)", given.text).group(1)  # type: ignore[union-attr]
    with TestClient(create_app(site.ledger), raise_server_exceptions=False) as bob:
        sign_in(bob, site.ledger, BOB)
        refused = bob.post(f"/me/consents/{consent_id}/revoke", data={"csrf_token": csrf(bob)})
        assert refused.status_code == 404 and "consent.not_found" in refused.text


def test_download_my_data_holds_records_consents_accesses_and_decisions(
    browser: TestClient, site: Site
) -> None:
    sign_in(browser, site.ledger, ALICE)
    browser.post(
        "/me/consents",
        data={
            "choice": "acme-rentals|rentals",
            "scope": "decision+score",
            "csrf_token": csrf(browser),
        },
    )
    decided = browser.post(
        "/v1/decisions",
        json={"subject": "custom:alice", "entitlement": "deposit_free_rental"},
        headers={"Authorization": f"Bearer {site.keys['acme-rentals']}"},
    )
    assert decided.status_code == 200, decided.text
    answer = browser.get("/me/data.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-disposition"].startswith("attachment;")
    data = orjson.loads(answer.content)
    assert data["format"] == "credence-subject-export/1"
    assert {r["provider_event_id"] for r in data["records"]} >= {"a1", "a2", "a3"}
    assert any(c["party"] == "acme-rentals" for c in data["consents"])
    assert any(a["party"] == "acme-rentals" for a in data["accesses"])
    assert any(d["id"] == decided.json()["decision_id"] for d in data["decisions"])
    assert isinstance(data["disputes"], list)
    assert (
        data["score"]["score"]
        == browser.get("/v1/me", headers=_bearer(browser)).json()["score"]["score"]
    )
    page = browser.get("/me/decisions").text
    assert decided.json()["decision_id"] in page
    assert "acme-rentals" in browser.get("/me/accesses").text


def _bearer(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.cookies['credence_session']}"}


def test_a_record_is_disputed_from_its_row_and_the_dispute_shows_its_clock(
    browser: TestClient, site: Site
) -> None:
    sign_in(browser, site.ledger, ALICE)
    records = browser.get("/me/records").text
    link = re.search(r'href="(/me/disputes/new\?record=[^"]+)"', records)
    assert link, records
    form = browser.get(link.group(1).replace("&amp;", "&"))
    assert form.status_code == 200 and 'name="statement"' in form.text
    record = re.search(r'name="record" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    filed = browser.post(
        "/me/disputes",
        data={
            "record": record,
            "statement": "I paid this on time.",
            "evidence_url": "https://example.org/receipt.pdf",
            "csrf_token": csrf(browser),
        },
    )
    assert filed.status_code == 201 and "Dispute filed" in filed.text
    session = authenticate_session(site.ledger, browser.cookies["credence_session"])
    from credence.service.disputes import own_disputes

    (mine,) = [d for d in own_disputes(site.ledger, session) if d.record == record]
    assert mine.state == "open" and mine.evidence == "https://example.org/receipt.pdf"
    page = browser.get("/me/disputes").text
    assert f'id="dispute-{mine.id}"' in page and format_date(mine.deadline) in page
    assert f"{mine.days_left} days left" in page and "I paid this on time." in page
    again = browser.get("/me/records").text
    assert f'href="/me/disputes#dispute-{mine.id}"' in again  # the row now points at it
    added = browser.post(
        f"/me/disputes/{mine.id}/information",
        data={"text": "My bank statement shows the payment.", "csrf_token": csrf(browser)},
        follow_redirects=False,
    )
    assert added.status_code == 303
    (after,) = [d for d in own_disputes(site.ledger, session) if d.id == mine.id]
    assert after.extended and after.deadline > mine.deadline
    assert "extended" in browser.get("/me/disputes").text
    twice = browser.post(
        "/me/disputes",
        data={"record": record, "statement": "Again.", "csrf_token": csrf(browser)},
    )
    assert twice.status_code == 409 and "dispute.state" in twice.text


def test_a_subject_cannot_dispute_or_add_to_what_is_not_theirs(site: Site) -> None:
    from credence.api import create_app
    from credence.service.disputes import file_dispute, own_disputes

    with TestClient(create_app(site.ledger), raise_server_exceptions=False) as bob:
        sign_in(bob, site.ledger, BOB)
        alices = browser_free_record(site)
        refused = bob.post(
            "/me/disputes",
            data={"record": alices, "statement": "Not mine.", "csrf_token": csrf(bob)},
        )
        assert refused.status_code == 422 and "dispute.invalid" in refused.text
        assert bob.get(f"/me/disputes/new?record={alices}").status_code == 404
        session = authenticate_session(site.ledger, _fresh_alice_session(site))
        alice_dispute = next(
            (d for d in own_disputes(site.ledger, session) if d.state == "open"), None
        ) or file_dispute(site.ledger, session, alices, "Wrong amount.")
        answer = bob.post(
            f"/me/disputes/{alice_dispute.id}/information",
            data={"text": "x", "csrf_token": csrf(bob)},
        )
        assert answer.status_code == 404 and "dispute.not_found" in answer.text
        assert alice_dispute.id not in bob.get("/me/disputes").text


def browser_free_record(site: Site) -> str:
    """One of alice's records that no dispute has dropped, as a record id."""
    session = authenticate_session(site.ledger, _fresh_alice_session(site))
    (first, *_) = subject_views.own_records(site.ledger, session)
    return f"{first.provider}:{first.provider_event_id}"


def _fresh_alice_session(site: Site) -> str:
    from credence.service.sessions import issue_sign_in_token, start_session

    token, _ = start_session(site.ledger, issue_sign_in_token(site.ledger, ALICE).token)
    return token


def test_a_decision_has_its_signed_receipt_and_a_review_can_be_asked(site: Site) -> None:
    from credence.api import create_app
    from credence.receipt import load_receipt, read_public_key
    from credence.service.receipts import ledger_public_key
    from credence.service.reviews import own_reviews

    with TestClient(create_app(site.ledger), raise_server_exceptions=False) as alice:
        sign_in(alice, site.ledger, ALICE)
        alice.post(
            "/me/consents",
            data={"choice": "acme-rentals|rentals", "days": "5", "csrf_token": csrf(alice)},
        )
        decided = alice.post(
            "/v1/decisions",
            json={"subject": "custom:alice", "entitlement": "deposit_free_rental"},
            headers={"Authorization": f"Bearer {site.keys['acme-rentals']}"},
        ).json()["decision_id"]
        page = alice.get("/me/decisions").text
        assert f'href="/me/decisions/{decided}/receipt.json"' in page
        got = alice.get(f"/me/decisions/{decided}/receipt.json")
        assert got.status_code == 200 and got.headers["content-disposition"].startswith("attach")
        key = read_public_key(ledger_public_key(site.ledger).pem, origin="ledger")
        checked = load_receipt(got.text, origin="page", public_key=key)
        assert checked.body["decision_id"] == decided
        asked = alice.post(
            f"/me/decisions/{decided}/review",
            data={"statement": "Please look again.", "csrf_token": csrf(alice)},
        )
        assert asked.status_code == 201 and "Review asked" in asked.text
        session = authenticate_session(site.ledger, alice.cookies["credence_session"])
        (review,) = [r for r in own_reviews(site.ledger, session) if r.decision_id == decided]
        assert review.state == "open" and review.statement == "Please look again."
        assert "days left" in alice.get("/me/decisions").text
        again = alice.post(f"/me/decisions/{decided}/review", data={"csrf_token": csrf(alice)})
        assert again.status_code == 409 and "review.conflict" in again.text
        data = orjson.loads(alice.get("/me/data.json").content)
        (logged,) = [d for d in data["decisions"] if d["id"] == decided]
        assert logged["receipt"]["decision_id"] == decided
        assert any(r["decision_id"] == decided for r in data["reviews"])
    with TestClient(create_app(site.ledger), raise_server_exceptions=False) as bob:
        sign_in(bob, site.ledger, BOB)
        assert bob.get(f"/me/decisions/{decided}/receipt.json").status_code == 404
        refused = bob.post(f"/me/decisions/{decided}/review", data={"csrf_token": csrf(bob)})
        assert refused.status_code == 404 and "decision.not_found" in refused.text
