"""Policy versions: harmful changes wait out their notice, scores as of t use the version then."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lab.conftest import NOW, candidate

pytest.importorskip("fairlearn")

from credence.clock import FixedClock
from credence.engine import score
from credence.errors import PolicyError, UsageError
from credence.lab.activation import activate, policy_notice_id
from credence.lab.analyses import load_candidate
from credence.lab.backtest import backtest
from credence.ledger import StoredPolicy
from credence.policy import parse_policy
from credence.service.ledger import open_ledger, version_in_effect
from credence.service.policies import IN_EFFECT, PROPOSED, SCHEDULED, list_versions, propose
from credence.service.scoring import score_subject
from credence.service.subjects import identity
from credence.settings import load_settings
from credence.types import DAY_US

JUSTIFIED = "\nfairness_justification: Reviewed by the programme board on 2026-05-20.\n"
STRICTER = [("when: {tier_at_least: good}", "when: {tier_at_least: excellent}")]
KINDER = [
    ("when: {tier_at_least: good}", "when: {tier_at_least: fair}"),
    (
        "when: {dimension: payment_history, below: -100}",
        "when: {dimension: payment_history, below: -200}",
    ),
]


def opened(db: Path, at: int = NOW):  # type: ignore[no-untyped-def]
    return open_ledger(load_settings(db=str(db)), clock=FixedClock(at))


def test_a_harmful_change_waits_out_its_notice_and_every_harmed_subject_is_told(
    ledger_copy: Path, tmp_path: Path
) -> None:
    path = candidate(tmp_path, version="2026.12.1", edits=STRICTER, extra=JUSTIFIED)
    with opened(ledger_copy) as ledger:
        propose(ledger, path)
        expected = backtest(ledger, load_candidate(path), as_of=NOW).harmed
        assert expected  # the stricter benefit does harm someone
        with pytest.raises(UsageError) as caught:
            activate(ledger, "2026.12.1", effective=NOW + 13 * DAY_US)
        assert caught.value.code == "policy.notice_too_short"
        assert ledger.store.policy_versions()[-1].version == "2026.11.1"  # nothing activated
        result = activate(ledger, "2026.12.1")
        assert result.effective_at == NOW + 30 * DAY_US
        assert result.harmed == result.notices == len(expected)
        assert result.justified
        notice_id = policy_notice_id("consumer-trust", "2026.12.1")
        told = {
            row.key
            for row in ledger.store.subjects()
            if any(n.entitlement == notice_id for n in ledger.store.notices(row.key))
        }
        assert told == set(expected)
        statuses = {v.version: v.status for v in list_versions(ledger)}
        assert statuses == {"2026.11.1": IN_EFFECT, "2026.12.1": SCHEDULED}
        with pytest.raises(UsageError) as again:
            activate(ledger, "2026.11.1")
        assert again.value.code == "usage.invalid"  # already a version
        propose(ledger, candidate(tmp_path, version="2026.12.9", edits=KINDER, extra=JUSTIFIED))
        with pytest.raises(UsageError) as pending:
            activate(ledger, "2026.12.9")
        assert pending.value.code == "policy.scheduled"


def test_scores_as_of_a_time_use_the_version_in_effect_then(
    ledger_copy: Path, tmp_path: Path
) -> None:
    lower = [
        (
            "    points: 4\n    dimension: payment_history",
            "    points: 1\n    dimension: payment_history",
        )
    ]
    path = candidate(tmp_path, version="2026.12.2", edits=lower, extra=JUSTIFIED)
    with opened(ledger_copy) as ledger:
        old = ledger.policy
        propose(ledger, path)
        result = activate(ledger, "2026.12.2")
        assert result.harmed > 0 and result.effective_at == NOW + 30 * DAY_US
        new = load_candidate(path)
        later = NOW + 60 * DAY_US
        # A subject whose score the two versions tell apart, so the test can fail.
        row, records = next(
            (r, rs)
            for r, rs in ledger.store.subjects_with_records()
            if score(old, rs, as_of=later).score != score(new, rs, as_of=later).score
        )
        ref = identity(ledger, row)
        for at, policy in (
            (NOW + 29 * DAY_US, old),
            (result.effective_at, new),
            (NOW + 60 * DAY_US, new),
            (NOW - 400 * DAY_US, old),  # the first version covers every earlier time
        ):
            got = score_subject(ledger, ref, as_of=at).outcome
            assert got.score == score(policy, records, as_of=at, subject_kind=row.kind).score
    with opened(ledger_copy, NOW + 31 * DAY_US) as later:
        assert later.policy.policy.version == "2026.12.2"


def test_a_change_that_only_improves_outcomes_takes_effect_at_once(
    ledger_copy: Path, tmp_path: Path
) -> None:
    path = candidate(tmp_path, version="2026.12.3", edits=KINDER, extra=JUSTIFIED)
    with opened(ledger_copy) as ledger:
        propose(ledger, path)
        result = activate(ledger, "2026.12.3")
        assert result.harmed == result.notices == 0
        assert result.effective_at == NOW
        assert ledger.policy.policy.version == "2026.12.3"


def _biased_groups(db: Path, path: Path, tmp_path: Path) -> Path:
    """Group ``a`` holds the subjects the candidate grants deposit-free rental, ``b`` the rest."""
    with opened(db) as ledger:
        run = backtest(ledger, load_candidate(path), as_of=NOW).runs[1]
        lines = ["subject,band"]
        for row in ledger.store.subjects():
            granted = run.subjects[row.key].outcomes["deposit_free_rental"] == "granted"
            lines.append(f"{identity(ledger, row)},{'a' if granted else 'b'}")
    groups = tmp_path / "groups.csv"
    groups.write_text("\n".join(lines) + "\n")
    return groups


def test_a_version_failing_the_four_fifths_rule_needs_a_written_justification(
    ledger_copy: Path, tmp_path: Path
) -> None:
    plain = candidate(tmp_path, version="2026.12.4", edits=KINDER)
    groups = _biased_groups(ledger_copy, plain, tmp_path)
    with opened(ledger_copy) as ledger:
        propose(ledger, plain)
        with pytest.raises(PolicyError) as unaudited:
            activate(ledger, "2026.12.4")
        assert unaudited.value.code == "policy.unfair"
        with pytest.raises(PolicyError) as unfair:
            activate(ledger, "2026.12.4", groups=groups)
        assert unfair.value.code == "policy.unfair"
        assert "deposit_free_rental" in unfair.value.message and "band=b" in unfair.value.message
        assert [v.version for v in ledger.store.policy_versions()] == ["2026.11.1"]
        justified = candidate(tmp_path, version="2026.12.5", edits=KINDER, extra=JUSTIFIED)
        propose(ledger, justified)
        result = activate(ledger, "2026.12.5", groups=groups)
        assert result.justified and result.fairness is not None
        statuses = {v.version: v.status for v in list_versions(ledger)}
        assert statuses["2026.12.4"] == PROPOSED and statuses["2026.12.5"] == IN_EFFECT


def test_a_change_notice_under_14_days_is_not_a_valid_policy(tmp_path: Path) -> None:
    path = candidate(tmp_path, version="x", edits=[], extra="\nchange_notice_days: 13\n")
    with pytest.raises(PolicyError):
        parse_policy(path.read_text())


def test_the_first_version_covers_earlier_times_and_later_activations_win_ties() -> None:
    a = StoredPolicy("p", "1", "d1", "", 100)
    b = StoredPolicy("p", "2", "d2", "", 200, 300)
    c = StoredPolicy("p", "3", "d3", "", 250, 300)
    assert version_in_effect([], 0) is None
    assert version_in_effect([a, b], 50) is a
    assert version_in_effect([a, b], 299) is a
    assert version_in_effect([a, b], 300) is b
    assert version_in_effect([a, b, c], 300) is c
