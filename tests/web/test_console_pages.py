"""The operator console's pages: what each shows, and forms that work with and without htmx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from credence.api import create_app
from credence.errors import AuthenticationFailed
from credence.service.ledger import Ledger, open_ledger
from credence.service.parties import authenticate, get_party, list_keys, list_parties
from credence.service.register import tier_distribution
from tests.web.browser import build_demo_ledger, register_parties


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ledger, dict[str, str]]]:
    settings = build_demo_ledger(tmp_path_factory.mktemp("console"))
    tokens = register_parties(settings)
    with open_ledger(settings) as ledger:
        yield ledger, tokens


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def signed_in(ledger: Ledger, api_key: str) -> TestClient:
    client = TestClient(create_app(ledger))
    form = client.get("/console/sign-in")
    answer = client.post(
        "/console/sign-in",
        data={"api_key": api_key, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console"
    return client


@pytest.fixture(scope="module")
def operator(setup: tuple[Ledger, dict[str, str]]) -> Iterator[TestClient]:
    ledger, tokens = setup
    with signed_in(ledger, tokens["operator"]) as client:
        yield client


def test_the_overview_charts_the_tiers_with_a_text_alternative(
    operator: TestClient, setup: tuple[Ledger, Any]
) -> None:
    ledger, _ = setup
    html = operator.get("/console").text
    total, tiers = tier_distribution(ledger)
    assert f'<span class="figure">{total}</span>' in html
    svg = re.search(r'<svg class="chart" id="tier-chart" role="img".*?</svg>', html, re.S)
    assert svg is not None
    assert '<title id="tier-chart-title">Subjects per tier</title>' in svg.group(0)
    assert svg.group(0).count('<rect class="bar"') == len(tiers)
    for tier, n in tiers:  # the same figures in the description and in the table
        assert f"{tier.label} {n}" in svg.group(0)
        assert f'<th scope="row">{tier.label}</th><td class="num">{n}</td>' in html
    assert 'id="day-chart"' in html and "Adverse outcomes in force" in html
    assert "script" not in svg.group(0) and "style=" not in svg.group(0)


def test_restrictions_list_each_subject_and_state(operator: TestClient) -> None:
    html = operator.get("/console/restrictions").text
    assert "custom:carol" in html and "credit_limit_review" in html
    assert "notice not yet given" in html


def test_a_new_key_is_shown_once_and_works_and_revoking_it_ends_it(
    operator: TestClient, setup: tuple[Ledger, Any]
) -> None:
    ledger, _ = setup
    page = operator.get("/console/parties")
    csrf = csrf_of(page.text)
    issued = operator.post("/console/parties/bank-a/keys", data={"csrf_token": csrf})
    assert issued.status_code == 200
    token = re.search(r'<p class="secret"><code>(cred_[^<]+)</code></p>', issued.text)
    assert token is not None and "shown this once" in issued.text
    assert authenticate(ledger, token.group(1)).name == "bank-a"
    again = operator.get("/console/parties").text
    assert token.group(1) not in again  # never shown again
    key_id = token.group(1).split("_")[1]
    assert f'id="key-{key_id}"' in again
    # with htmx: just the row comes back, now revoked
    row = operator.post(
        f"/console/keys/{key_id}/revoke", data={"csrf_token": csrf}, headers={"hx-request": "true"}
    )
    assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr id="key-{key_id}">')
    assert "revoked" in row.text and "<html" not in row.text
    with pytest.raises(AuthenticationFailed):
        authenticate(ledger, token.group(1))


def test_without_script_revoking_redirects_back_to_the_list(
    operator: TestClient, setup: tuple[Ledger, Any]
) -> None:
    ledger, _ = setup
    csrf = csrf_of(operator.get("/console/parties").text)
    issued = operator.post(
        "/console/parties/fair-review/keys",
        data={"csrf_token": csrf},
        headers={"hx-request": "true"},
    )
    assert "<html" not in issued.text and 'id="issued-key"' in issued.text
    key_id = re.search(r"cred_([a-z0-9]+)_", issued.text).group(1)  # type: ignore[union-attr]
    done = operator.post(
        f"/console/keys/{key_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == f"/console/parties#key-{key_id}"
    assert next(k for k in list_keys(ledger) if k.key_id == key_id).revoked_at is not None


def test_a_party_form_with_a_bad_name_says_why_and_keeps_what_was_typed(
    operator: TestClient, setup: tuple[Ledger, Any]
) -> None:
    ledger, _ = setup
    csrf = csrf_of(operator.get("/console/parties").text)
    before = {p.name for p in list_parties(ledger)}
    bad = operator.post(
        "/console/parties", data={"csrf_token": csrf, "name": "no spaces", "kind": "provider"}
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    assert 'value="no spaces"' in bad.text
    good = operator.post(
        "/console/parties",
        data={
            "csrf_token": csrf,
            "name": "acme-lending",
            "kind": "relying_party",
            "contexts": "lending",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert get_party(ledger, "acme-lending").contexts == ("lending",)
    assert "no spaces" not in before and "no spaces" not in {p.name for p in list_parties(ledger)}


def test_the_policy_page_shows_the_lint_report_and_the_audit(operator: TestClient) -> None:
    html = operator.get("/console/policy").text
    assert "Lint report" in html and "Audit" in html
    assert "<code>rule bill_late</code>" in html or "bill_late" in html
    assert "consumer-trust" in html


def test_a_reviewer_sees_only_its_pages_in_the_navigation(setup: tuple[Ledger, Any]) -> None:
    ledger, tokens = setup
    with signed_in(ledger, tokens["reviewer"]) as reviewer:
        html = reviewer.get("/console").text
        nav = re.search(r'<nav class="console-nav".*?</nav>', html, re.S).group(0)  # type: ignore[union-attr]
        assert 'href="/console/policy"' in nav and 'href="/console/parties"' not in nav
        assert reviewer.get("/console/parties").status_code == 403


def test_a_reviewer_decides_a_dispute_from_the_queue_and_the_record_stops_counting(
    setup: tuple[Ledger, dict[str, str]],
) -> None:
    from credence.service import disputes
    from credence.service.scoring import score_subject
    from credence.types import SubjectRef

    ledger, tokens = setup
    carol = SubjectRef("custom", "carol")
    session = disputes.acting_for(ledger, carol)
    late = next(
        r
        for r in ledger.store.records(session.subject_key)
        if r.attributes.get("days_late", 0) > 30
    )
    before = score_subject(ledger, carol).outcome
    filed = disputes.file_dispute(
        ledger,
        session,
        disputes.format_record_id(late.provider, late.provider_event_id),
        "I paid on time.",
    )
    with signed_in(ledger, tokens["reviewer"]) as reviewer:
        page = reviewer.get("/console/queue")
        assert f'id="dispute-{filed.id}"' in page.text and "I paid on time." in page.text
        csrf = csrf_of(page.text)
        url = f"/console/disputes/{filed.id}/resolve"
        # no reason: said where, and the dispute stays open (plain post: the whole page)
        empty = reviewer.post(url, data={"csrf_token": csrf, "outcome": "upheld", "reason": " "})
        assert empty.status_code == 422 and 'role="alert"' in empty.text
        assert f'id="dispute-{filed.id}"' in empty.text
        done = reviewer.post(
            url,
            data={"csrf_token": csrf, "outcome": "upheld", "reason": "No proof of lateness."},
            headers={"hx-request": "true"},
        )
        assert done.status_code == 200 and "<html" not in done.text
        assert f"Dispute {filed.id} upheld" in done.text
        assert f'id="dispute-{filed.id}"' not in reviewer.get("/console/queue").text
        again = reviewer.post(
            url,
            data={"csrf_token": csrf, "outcome": "rejected", "reason": "x"},
            follow_redirects=False,
        )
        assert again.status_code == 409
    after = score_subject(ledger, carol).outcome  # carol sits at the floor: her sums tell
    assert after.considered == before.considered - 1 and after.sums[0] > before.sums[0]
    assert all(c.record.key != late.key for c in after.contributions)


def test_overrides_in_force_are_listed_and_an_operator_ends_one(
    operator: TestClient, setup: tuple[Ledger, Any]
) -> None:
    from credence.service.overrides import overrides_in_force, set_override
    from credence.types import SubjectRef

    ledger, _ = setup
    made = set_override(
        ledger,
        SubjectRef("custom", "bob"),
        "deposit_free_rental",
        outcome="granted",
        reason="Verified income documents",
        by="ops",
    )
    page = operator.get("/console/overrides")
    assert f'id="override-{made.id}"' in page.text and "Verified income documents" in page.text
    done = operator.post(
        f"/console/overrides/{made.id}/end",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert made.id not in {o.id for o in overrides_in_force(ledger)}
    assert f'id="override-{made.id}"' not in operator.get("/console/overrides").text


def test_a_reviewer_confirms_a_decision_under_review_from_the_queue(
    setup: tuple[Ledger, dict[str, str]],
) -> None:
    from credence.service.parties import get_party
    from credence.service.reviews import open_reviews, request_review_for
    from credence.service.scoring import decide_for_party
    from credence.types import SubjectRef

    ledger, tokens = setup
    alice = SubjectRef("custom", "alice")
    made = decide_for_party(ledger, get_party(ledger, "ops"), alice, "deposit_free_rental")
    review = request_review_for(ledger, alice, made.decision_id, statement="Please look again.")
    with signed_in(ledger, tokens["reviewer"]) as reviewer:
        page = reviewer.get("/console/queue")
        assert f'id="review-{review.id}"' in page.text and "Please look again." in page.text
        csrf = csrf_of(page.text)
        url = f"/console/reviews/{review.id}/resolve"
        bad = reviewer.post(url, data={"csrf_token": csrf, "resolution": "confirmed", "reason": ""})
        assert bad.status_code == 422 and 'role="alert"' in bad.text
        done = reviewer.post(
            url,
            data={"csrf_token": csrf, "resolution": "confirmed", "reason": "The rule was applied."},
            follow_redirects=False,
        )
        assert done.status_code == 303
    assert review.id not in {r.id for r in open_reviews(ledger)}
