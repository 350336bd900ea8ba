"""A denied benefit (and any adverse outcome) always carries reason codes, whatever the records."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from credence.engine import decide, score
from credence.engine.decisions import CONDITION_REASON, DENIED, PENDING, RESTRICTED
from tests.engine.helpers import policy
from tests.engine.test_properties import TYPES, as_of_times, record_sets, rules

ENTITLEMENTS: list[dict[str, Any]] = [
    {"id": "top_tier", "kind": "benefit", "context": "lending", "when": {"tier_at_least": "high"}},
    {"id": "score_600", "kind": "benefit", "context": "lending", "when": {"score_at_least": 600}},
    {  # no record of its context can explain it: the condition is the reason
        "id": "housing_perk",
        "kind": "benefit",
        "context": "housing",
        "when": {"score_at_least": 520},
    },
    {
        "id": "low_score_hold",
        "kind": "restriction",
        "context": "lending",
        "when": {"score_below": 480},
        "notice_days": 14,
        "max_duration": "1y",
        "legal_basis": "Terms §1",
        "reason": "Low score",
    },
]


@settings(max_examples=120, deadline=None)
@given(rule_list=rules(), records=record_sets(), as_of=as_of_times)
def test_every_adverse_outcome_carries_reason_codes(
    rule_list: list[dict[str, Any]], records: list[Any], as_of: int
) -> None:
    compiled = policy(rule_list, event_types=TYPES, entitlements=ENTITLEMENTS)
    outcome = score(compiled, records, as_of=as_of)
    for ent in ENTITLEMENTS:
        decision = decide(compiled, outcome, ent["id"])
        if decision.outcome in (DENIED, PENDING, RESTRICTED):
            assert decision.reasons, (ent["id"], decision.outcome, outcome.score)
            assert all(r.code and r.text for r in decision.reasons)


def test_a_benefit_denied_with_nothing_counting_names_its_condition() -> None:
    on_time = {"id": "on_time", "type": "bill.paid", "points": 2, "reason": "Paid on time"}
    compiled = policy([on_time], event_types=TYPES, entitlements=ENTITLEMENTS)
    decision = decide(compiled, score(compiled, [], as_of=0), "housing_perk")
    assert decision.outcome == DENIED
    (reason,) = decision.reasons
    assert reason.code == CONDITION_REASON and "housing_perk" in reason.text
    assert "20 more points" in reason.text
