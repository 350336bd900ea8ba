"""The public register: the policy in effect, small figures withheld, scheduled changes diffed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from credence.lab.activation import activate
from credence.policy.diff import CHANGED
from credence.service.ledger import Ledger
from credence.service.policies import propose
from credence.service.register import (
    SUPPRESS_BELOW,
    dispute_figures,
    register,
    suppress,
    suppress_cells,
    tier_distribution,
)
from credence.service.scoring import score_all
from credence.service.setup import bundled_policy
from credence.types import DAY_US

JUSTIFIED = "\nfairness_justification: Reviewed by the programme board on 2026-05-20.\n"


def test_a_count_under_ten_is_withheld_and_ten_is_shown() -> None:
    assert suppress(SUPPRESS_BELOW - 1) is None
    assert suppress(0) is None
    assert suppress(SUPPRESS_BELOW) == SUPPRESS_BELOW
    assert suppress_cells([40, 3, 25, 12]) == [40, None, 25, None]  # 12 goes with the 3
    assert suppress_cells([40, 0, 25]) == [40, None, 25]  # a zero gives nothing away


@given(st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=8))
def test_no_withheld_cell_can_be_recovered_from_the_total(counts: list[int]) -> None:
    shown = suppress_cells(counts)
    for count, cell in zip(counts, shown, strict=True):
        assert cell is None or cell == count
        if count < SUPPRESS_BELOW:
            assert cell is None
    hidden = [c for c, s in zip(counts, shown, strict=True) if s is None]
    if any(hidden) and len(counts) > 1:
        assert len(hidden) >= 2  # the total minus the published cells is never one cell


def test_the_register_shows_the_policy_in_effect_and_names_no_one(ledger: Ledger) -> None:
    found = register(ledger)
    policy = ledger.loaded_policy.policy
    assert found.policy == policy
    assert found.version.version == policy.version
    rules = [r.id for b in found.behaviours for r in b.rules]
    assert sorted(rules) == sorted(r.id for r in policy.rules)
    late = next(r for b in found.behaviours for r in b.rules if r.id == "bill_late")
    assert late.when == ("days_late > 30",)
    assert late.points == -15 and late.expires_after == "2y"
    restriction = next(e for e in found.entitlements if e.kind.value == "restriction")
    assert restriction.notice_days is not None and restriction.legal_basis
    # three golden subjects: every figure is drawn from fewer than ten
    assert found.subjects is None
    assert all(t.subjects is None for t in found.tiers)
    assert [t.tier.id for t in found.tiers] == [t.id for t in policy.tiers]
    assert found.upcoming == ()


def test_the_exact_tier_counts_are_the_scores_of_everyone(ledger: Ledger) -> None:
    total, counts = tier_distribution(ledger)
    expected = Counter(s.outcome.tier for s in score_all(ledger))
    assert total == sum(expected.values()) == 3
    assert {t.id: n for t, n in counts} == {t: expected.get(t, 0) for t in ledger.policy.tier_ids}


def test_dispute_figures_of_fewer_than_ten_subjects_are_withheld(ledger: Ledger) -> None:
    from credence.service import disputes
    from credence.types import SubjectRef

    session = disputes.acting_for(ledger, SubjectRef("custom", "alice"))
    first = ledger.store.records(session.subject_key)[0]
    disputes.file_dispute(
        ledger,
        session,
        disputes.format_record_id(first.provider, first.provider_event_id),
        "Not mine.",
    )
    figures = dispute_figures(ledger)
    assert figures == register(ledger).disputes
    assert (figures.filed, figures.upheld, figures.lapsed) == (None, None, None)
    assert figures.median_days_to_resolve is None


def test_a_scheduled_version_is_listed_with_what_it_changes_from_when(
    ledger: Ledger, tmp_path: Path
) -> None:
    text = bundled_policy().read_text()
    text = text.replace('version: "2026.11.1"', 'version: "2026.12.1"')
    text = text.replace("when: {tier_at_least: good}", "when: {tier_at_least: excellent}", 1)
    path = tmp_path / "candidate.yaml"
    path.write_text(text + JUSTIFIED)
    propose(ledger, path)
    now = ledger.clock.now()
    done = activate(ledger, "2026.12.1", effective=now + 45 * DAY_US)
    found = register(ledger)
    assert found.version.version == "2026.11.1"  # not yet in effect
    (upcoming,) = found.upcoming
    assert (upcoming.version, upcoming.effective_at) == ("2026.12.1", done.effective_at)
    assert upcoming.activated_at == now
    sections = {(c.kind, c.section, c.field) for c in upcoming.changes}
    assert (CHANGED, "entitlements", "when") in sections
    assert (CHANGED, "policy", "fairness_justification") in sections
    when = next(c for c in upcoming.changes if c.field == "when")
    assert when.before == {"tier_at_least": "good"}
    assert when.after == {"tier_at_least": "excellent"}
