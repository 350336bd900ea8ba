"""Backtests over generated ledgers: a policy against itself changes nothing, totals add up."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.batch.batch_strategies import Case, cases, policies

pytest.importorskip("duckdb")

from credence.batch.export import records_table
from credence.engine import CompiledPolicy, compile_policy, score
from credence.engine.decisions import decide
from credence.lab.backtest import compare, histogram
from credence.lab.runs import GRANTED, RESTRICTED, PolicyRun, run_policies, union_attributes, worse
from credence.policy.model import Policy

ENTITLEMENTS: list[dict[str, Any]] = [
    {"id": "perk", "kind": "benefit", "context": "testing", "when": {"tier_at_least": "mid"}},
    {
        "id": "block",
        "kind": "restriction",
        "context": "testing",
        "when": {"score_below": 480},
        "notice_days": 14,
        "max_duration": "1y",
        "legal_basis": "test terms",
        "reason": "low score",
    },
]


def with_entitlements(policy: Policy, *, version: str = "1") -> CompiledPolicy:
    data = policy.model_dump(mode="json", exclude_none=True)
    data["entitlements"] = ENTITLEMENTS
    data["version"] = version
    return compile_policy(Policy.model_validate(data))


def runs(case: Case, policies_: list[CompiledPolicy]) -> list[PolicyRun]:
    table = records_table(case.rows(), union_attributes(policies_))
    kinds = dict.fromkeys(case.subjects, "person")
    return run_policies(policies_, table, as_of=case.as_of, kinds=kinds)


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(cases())
def test_a_policy_backtested_against_itself_reports_no_change(case: Case) -> None:
    policy = with_entitlements(case.policy.policy)
    before, after = runs(case, [policy, policy])
    report = compare(before, after, as_of=case.as_of).report
    n = report["subjects"]
    assert report["score_change"]["unchanged"] == n
    assert report["harmed"] == {"subjects": 0, "by_entitlement": 0, "tier_lowered": 0}
    counts = report["migration"]["counts"]
    assert all(v == 0 for i, row in enumerate(counts) for j, v in enumerate(row) if i != j)
    assert all(r["change"] == 0.0 for r in report["rules"])
    for e in report["entitlements"]:
        assert e["before"] == e["after"] and e["newly_adverse"] == e["newly_favourable"] == 0


@FAST
@given(cases(), policies())
def test_the_migration_matrix_sums_to_the_subject_count(case: Case, other: Policy) -> None:
    active = with_entitlements(case.policy.policy)
    candidate = with_entitlements(other, version="2")
    before, after = runs(case, [active, candidate])
    comparison = compare(before, after, as_of=case.as_of)
    report = comparison.report
    scored = sum(1 for records in case.subjects.values() if records)
    assert report["subjects"] == scored
    assert sum(map(sum, report["migration"]["counts"])) == scored
    assert sum(n for _, n in report["tiers"]["before"]) == scored
    assert sum(report["score_change"]["histogram"]["counts"]) == scored
    # The harmed count is a direct count over the two runs' outcomes.
    direct = {
        key
        for key, b in before.subjects.items()
        if any(worse(b.outcomes[e], after.subjects[key].outcomes[e]) for e in b.outcomes)
    }
    assert report["harmed"]["by_entitlement"] == len(direct)
    assert direct <= comparison.harmed


@FAST
@given(cases())
def test_rule_totals_and_entitlements_agree_with_the_online_engine(case: Case) -> None:
    policy = with_entitlements(case.policy.policy)
    [run] = runs(case, [policy])
    sums = [0.0] * len(policy.rules)
    for key, records in case.subjects.items():
        if not records:
            continue
        outcome = score(policy, records, as_of=case.as_of, subject_kind="person")
        for i, (up, _, down, _) in enumerate(outcome.by_rule):
            sums[i] += up + down
        got = run.subjects[key]
        assert got.score == outcome.score
        for ent, expected in (("perk", GRANTED), ("block", RESTRICTED)):
            holds = decide(policy, outcome, ent).condition_holds
            assert (got.outcomes[ent] == expected) == holds
    for rule, total in zip(policy.rules, sums, strict=True):
        assert abs(run.rule_totals[rule.id] - total) <= 1e-6 * max(1.0, abs(total))


@given(st.lists(st.integers(-500, 500), min_size=1, max_size=200))
def test_the_histogram_counts_every_change_once(values: list[int]) -> None:
    hist = histogram(values)
    assert sum(hist["counts"]) == len(values)
    assert hist["edges"][0] <= min(values) and max(values) <= hist["edges"][-1]


def test_losing_a_benefit_or_gaining_a_restriction_is_harm() -> None:
    assert worse("granted", "denied") and worse("granted", "absent")
    assert worse("not_restricted", "restricted") and worse("absent", "restricted")
    assert not worse("denied", "granted") and not worse("restricted", "not_restricted")
    assert not worse("denied", "absent")
