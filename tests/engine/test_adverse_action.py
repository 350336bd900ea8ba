"""Reason codes on scorecards: the characteristics that cost the most against their best bin."""

from __future__ import annotations

from credence.engine import decide, score
from credence.engine.adverse_action import scorecard_reasons
from credence.types import Record, parse_time
from tests.engine.helpers import policy

AS_OF = parse_time("2026-01-01T00:00:00Z")


def _bin(rid: str, group: str, points: float, attr: str, op: str, value: object) -> dict:
    return {
        "id": rid,
        "type": "bill.paid",
        "group": group,
        "points": points,
        "expires_after": "1y",
        "reason": f"{group}: {op} {value}",
        "when": [{"attr": attr, "op": op, "value": value}],
    }


# Both characteristics give only positive points: raw contributions would name no
# negative factor at all, yet lateness costs the applicant 40 points and size 5.
CARD = [
    _bin("late.none", "lateness", 50, "days_late", "<=", 0),
    _bin("late.some", "lateness", 10, "days_late", ">", 0),
    _bin("size.big", "size", 20, "amount", ">=", 100),
    _bin("size.small", "size", 15, "amount", "<", 100),
]
APPROVAL = [
    {
        "id": "approval",
        "kind": "benefit",
        "context": "lending",
        "when": {"score_at_least": 560},
    }
]


def _application(days_late: int, amount: float) -> Record:
    at = parse_time("2025-12-01T00:00:00Z")
    return Record("p", "a1", "bill.paid", at, {"days_late": days_late, "amount": amount})


def test_a_denial_names_the_characteristics_that_cost_most_against_their_best_bin():
    p = policy(CARD, entitlements=APPROVAL)
    outcome = score(p, [_application(3, 50.0)], as_of=AS_OF)
    assert outcome.score == 500 + 10 + 15
    decision = decide(p, outcome, "approval")
    assert decision.outcome == "denied"
    assert [(r.code, r.points) for r in decision.reasons] == [("lateness", -40.0), ("size", -5.0)]
    assert decision.reasons[0].text == "lateness: > 0 (40 points below the best bin, <= 0)"


def test_a_characteristic_at_its_best_bin_is_no_reason_and_no_bin_costs_the_best():
    p = policy(CARD, entitlements=APPROVAL)
    # days_late absent: no lateness bin applies, so lateness costs its whole best bin.
    record = Record("p", "a1", "bill.paid", parse_time("2025-12-01T00:00:00Z"), {"amount": 150.0})
    reasons = scorecard_reasons(p, score(p, [record], as_of=AS_OF))
    assert [(r.code, r.points) for r in reasons] == [("lateness", -50.0)]
    assert reasons[0].text.startswith("lateness: no bin applies")


def test_an_expired_application_gives_no_reasons():
    p = policy(CARD, entitlements=APPROVAL)
    later = parse_time("2027-01-01T00:00:00Z")
    assert scorecard_reasons(p, score(p, [_application(3, 50.0)], as_of=later)) == []


def test_a_granted_decision_and_policies_without_groups_keep_the_raw_key_factors():
    p = policy(CARD, entitlements=APPROVAL)
    granted = decide(p, score(p, [_application(0, 150.0)], as_of=AS_OF), "approval")
    assert granted.outcome == "granted" and granted.reasons[0].code == "late.none"
    plain = [{k: v for k, v in rule.items() if k != "group"} for rule in CARD]
    p = policy(plain, entitlements=APPROVAL)
    denied = decide(p, score(p, [_application(3, 50.0)], as_of=AS_OF), "approval")
    # First hit: late.some, +10; no record lowers the score, so the unmet condition is the reason.
    assert denied.outcome == "denied" and [r.code for r in denied.reasons] == ["condition"]
