"""The public register page: anyone may read it; it shows the policy, withholds small figures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from credence.api import create_app
from credence.lab.activation import activate
from credence.service.ledger import open_ledger
from credence.service.policies import propose
from credence.service.register import tier_distribution
from credence.service.setup import bundled_policy
from credence.types import DAY_US
from tests.api.conftest import build_ledger
from tests.web.browser import build_demo_ledger


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = build_demo_ledger(tmp_path_factory.mktemp("register"))
    with open_ledger(settings) as ledger, TestClient(create_app(ledger)) as c:
        c.app_state_ledger = ledger  # type: ignore[attr-defined]
        yield c


def _cells(html: str) -> dict[str, str]:
    rows = re.findall(
        r'<tr><th scope="row">([^<]+)</th><td class="num">\d+</td>'
        r'<td class="num">(.*?)</td></tr>',
        html,
    )
    return dict(rows)


def test_anyone_reads_the_register_without_signing_in(client: TestClient) -> None:
    page = client.get("/register")
    assert page.status_code == 200
    html = page.text
    assert "consumer-trust" in html and "2026.11.1" in html
    assert "Bills paid more than 30 days late" in html and "days_late &gt; 30" in html
    assert "Rental platform terms §7.2" in html  # a restriction's legal basis
    assert "No change to the policy is scheduled." in html
    assert re.search(r'Filed</th><td class="num"><span class="suppressed">fewer than 10', html)
    assert "custom:alice" not in html and "alice" not in html


def test_tier_figures_match_the_scores_and_small_ones_are_withheld(client: TestClient) -> None:
    ledger = client.app_state_ledger  # type: ignore[attr-defined]
    _total, exact = tier_distribution(ledger)
    cells = _cells(client.get("/register").text)
    assert len(cells) == len(exact)
    shown = {t.label or t.id: n for t, n in exact}
    withheld = [name for name, cell in cells.items() if "fewer than 10" in cell]
    assert withheld  # the demo has small tiers
    for name, cell in cells.items():
        if name in withheld:
            continue
        assert int(cell) == shown[name] >= 10
    assert all(shown[name] < 10 for name in withheld) or len(withheld) >= 2


def test_the_register_speaks_chinese_when_asked(client: TestClient) -> None:
    html = client.get("/register", headers={"accept-language": "zh-CN"}).text
    assert 'lang="zh-Hans"' in html and "即将生效的政策变更" in html
    assert "少于 10" in html


def test_a_scheduled_version_appears_with_its_changes(tmp_path: Path) -> None:
    settings = build_ledger(str(tmp_path / "ledger.db"), tmp_path)
    text = bundled_policy().read_text().replace('version: "2026.11.1"', 'version: "2027.1.1"')
    text = text.replace("notice_days: 14", "notice_days: 21", 1)
    candidate = tmp_path / "next.yaml"
    candidate.write_text(text + "\nfairness_justification: Longer notice harms no one.\n")
    with open_ledger(settings) as ledger:
        propose(ledger, candidate)
        done = activate(ledger, "2027.1.1", effective=ledger.clock.now() + 40 * DAY_US)
        with TestClient(create_app(ledger)) as c:
            html = c.get("/register").text
    assert "Version 2027.1.1, from" in html
    assert done.effective_at > 0
    assert re.search(
        r"entitlements rental_suspension\.notice_days</code></th>\s*"
        r"<td><code>14</code></td>\s*<td><code>21</code></td>",
        html,
    )


def test_dispute_figures_appear_once_ten_subjects_stand_behind_them(tmp_path: Path) -> None:
    from credence.service import disputes
    from credence.service.parties import PartyKind, add_party
    from credence.service.register import dispute_figures
    from credence.service.subjects import identity

    settings = build_demo_ledger(tmp_path)
    with open_ledger(settings) as ledger:
        reviewer = add_party(ledger, "fair-review", kind=PartyKind.REVIEWER)
        refs = [
            identity(ledger, row) for row in ledger.store.subjects() if row.sealed_id is not None
        ][:12]
        filed = []
        for ref in refs:
            session = disputes.acting_for(ledger, ref)
            first = ledger.store.records(session.subject_key)[0]
            record = disputes.format_record_id(first.provider, first.provider_event_id)
            filed.append(disputes.file_dispute(ledger, session, record, "This is not mine."))
        few = dispute_figures(ledger)
        assert few.filed == 12 and few.upheld is None and few.lapsed is None
        assert few.median_days_to_resolve is None
        for d in filed[:10]:
            disputes.resolve_dispute(ledger, reviewer, d.id, "upheld", "the provider has no proof")
        many = dispute_figures(ledger)
        assert (many.filed, many.upheld, many.lapsed) == (12, 10, None)
        assert many.median_days_to_resolve is not None and 0 <= many.median_days_to_resolve < 0.01
        with TestClient(create_app(ledger)) as c:
            html = c.get("/register").text
    assert re.search(r'Filed</th><td class="num">12</td>', html)
    assert re.search(r'Upheld \(the record no longer counts\)</th><td class="num">10</td>', html)
    assert re.search(
        r"Lapsed.*?</th><td class=\"num\"><span class=\"suppressed\">fewer than 10", html
    )
    assert re.search(r'Median days to resolve</th><td class="num">0.0</td>', html)
