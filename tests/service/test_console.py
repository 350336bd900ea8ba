"""The console's use cases: counts for the overview, restrictions with their access logged."""

from __future__ import annotations

import pytest

from credence.errors import Forbidden
from credence.service.console import DUE, overview, policy_audit, restrictions
from credence.service.ledger import Ledger
from credence.service.parties import PartyKind, add_party
from credence.service.register import tier_distribution
from credence.service.scoring import decide_subject
from credence.types import DAY_US, SubjectRef


def _parties(ledger: Ledger):  # type: ignore[no-untyped-def]
    return (
        add_party(ledger, "ops", kind=PartyKind.OPERATOR),
        add_party(ledger, "fair-review", kind=PartyKind.REVIEWER),
        add_party(ledger, "bank-a", kind=PartyKind.PROVIDER),
    )


def test_the_overview_counts_subjects_records_tiers_and_adverse_outcomes(ledger: Ledger) -> None:
    ops, reviewer, provider = _parties(ledger)
    found = overview(ledger, ops)
    assert overview(ledger, reviewer).subjects == found.subjects == 3
    assert found.records == ledger.store.counts()["records"]
    assert list(found.tiers) == tier_distribution(ledger)[1]
    assert (
        len(found.per_day) == 30 and found.per_day[-1].day == ledger.clock.now() // DAY_US * DAY_US
    )
    recent = sum(
        1
        for row, records in ledger.store.subjects_with_records()
        for r in records
        if r.occurred_at >= found.per_day[0].day
    )
    assert sum(d.records for d in found.per_day) == recent
    by_id = {a.entitlement: a for a in found.adverse}
    assert set(by_id) == set(ledger.policy.entitlements)
    assert by_id["credit_limit_review"].pending == 1  # carol: due a notice
    with pytest.raises(Forbidden):
        overview(ledger, provider)


def test_restrictions_name_each_subject_and_log_the_read(ledger: Ledger) -> None:
    ops, reviewer, _ = _parties(ledger)
    carol = SubjectRef("custom", "carol")
    (case,) = restrictions(ledger, ops)
    assert (case.subject, case.entitlement, case.state) == (carol, "credit_limit_review", DUE)
    assert case.reasons and case.legal_basis
    key = case_key(ledger, carol)
    logged = [a for a in ledger.store.accesses(key) if a.action == "console restrictions"]
    assert [(a.actor, a.purpose) for a in logged] == [("ops", "restriction oversight")]
    decide_subject(ledger, carol, "credit_limit_review")  # deciding now gives the notice
    (pending,) = restrictions(ledger, ops)
    assert pending.state == "pending" and pending.effective_at is not None
    assert pending.effective_at - pending.notice_issued_at == 30 * DAY_US  # type: ignore[operator]
    with pytest.raises(Forbidden):
        restrictions(ledger, reviewer)


def case_key(ledger: Ledger, ref: SubjectRef) -> int:
    from credence.service.subjects import resolve

    return resolve(ledger, ref).key


def test_the_policy_audit_has_a_row_per_element_and_the_lint_report(ledger: Ledger) -> None:
    _ops, reviewer, provider = _parties(ledger)
    found = policy_audit(ledger, reviewer)
    assert found.report.version == ledger.loaded_policy.policy.version
    elements = {row.element for row in found.rows}
    assert {f"rule {r.id}" for r in ledger.policy.policy.rules} <= elements
    kinds = {e.id: e.kind.value for e in ledger.policy.entitlements.values()}
    assert {f"{kind} {e}" for e, kind in kinds.items()} <= elements
    assert found.source == ledger.loaded_policy.source
    with pytest.raises(Forbidden):
        policy_audit(ledger, provider)
