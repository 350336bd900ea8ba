"""Entitlements, lists, due process for restrictions, and reasons."""

from __future__ import annotations

import pytest

from credence.engine import decide, explain, new_notice, score
from credence.errors import EntitlementNotFound
from credence.types import DAY_US
from tests.engine.helpers import policy, rec, t

RULES = [
    {
        "id": "on_time",
        "type": "bill.paid",
        "when": [{"attr": "days_late", "op": "<=", "value": 0}],
        "points": 50,
        "dimension": "pay",
        "reason": "Bills paid on time",
    },
    {
        "id": "late",
        "type": "bill.paid",
        "when": [{"attr": "days_late", "op": ">", "value": 30}],
        "points": -60,
        "dimension": "pay",
        "expires_after": "1y",
        "reason": "Bills paid late",
    },
    {
        "id": "slightly_late",
        "type": "bill.paid",
        "points": -5,
        "dimension": "pay",
        "expires_after": "90d",
        "reason": "Bills slightly late",
    },
]
ENTITLEMENTS = [
    {"id": "perk", "kind": "benefit", "context": "lending", "when": {"tier_at_least": "high"}},
    {
        "id": "combo",
        "kind": "benefit",
        "context": "lending",
        "when": {
            "any": [
                {"score_at_least": 650},
                {"all": [{"dimension": "pay", "at_least": 40}, {"on_list": "trusted"}]},
            ]
        },
    },
    {
        "id": "freeze",
        "kind": "restriction",
        "context": "lending",
        "when": {"score_below": 400},
        "notice_days": 14,
        "max_duration": "90d",
        "legal_basis": "Terms §1",
        "reason": "Late bills",
    },
]
LISTS = [{"id": "trusted", "kind": "redlist", "when": {"dimension": "pay", "at_least": 40}}]
AS_OF = t("2026-06-30")


def compiled():
    return policy(RULES, dimensions=[{"id": "pay"}], entitlements=ENTITLEMENTS, lists=LISTS)


def test_benefit_granted_with_its_positive_factors():
    p = compiled()
    outcome = score(p, [rec(str(i), f"2026-0{i + 1}-01") for i in range(4)], as_of=AS_OF)
    assert outcome.score == 700 and "trusted" in outcome.lists
    d = decide(p, outcome, "perk")
    assert (d.outcome, d.allowed) == ("granted", True)
    assert [r.code for r in d.reasons] == ["on_time"] and d.reasons[0].points == 200


def test_benefit_denied_says_why_and_what_would_change_it():
    p = compiled()
    records = [
        rec("1", "2026-01-01"),
        rec("2", "2026-02-01", days_late=45),
        rec("3", "2026-05-01", days_late=3),
    ]
    outcome = score(p, records, as_of=AS_OF)
    d = decide(p, outcome, "perk")
    assert (d.outcome, d.allowed) == ("denied", False)
    assert [r.code for r in d.reasons] == ["late", "slightly_late"]
    texts = [c.text for c in d.changes]
    assert any("2026-07-30" in x for x in texts)  # the 90-day record expires first
    assert any("215 more points reach tier 'high'" in x for x in texts)


def test_nested_any_all_and_lists():
    p = compiled()
    one = score(p, [rec("1", "2026-01-01")], as_of=AS_OF)  # pay 50, score 550, on the list
    assert decide(p, one, "combo").allowed
    none = score(p, [], as_of=AS_OF)
    assert not decide(p, none, "combo").allowed


def test_restriction_needs_notice_then_applies_after_the_notice_period():
    p = compiled()
    records = [rec("1", "2026-06-01", days_late=45), rec("2", "2026-06-02", days_late=45)]
    outcome = score(p, records, as_of=AS_OF)
    assert outcome.score == 380
    first = decide(p, outcome, "freeze")
    assert first.outcome == "pending" and first.allowed and first.notice_needed
    assert first.notice is not None and first.notice.effective_at == AS_OF + 14 * DAY_US
    notice = first.notice
    later = score(p, records, as_of=AS_OF + 14 * DAY_US)
    d = decide(p, later, "freeze", notices=[notice])
    assert (d.outcome, d.allowed, d.notice_needed) == ("restricted", False, False)
    assert d.legal_basis == "Terms §1" and d.reasons[0].code == "late"


def test_restriction_lapses_after_its_max_duration():
    p = compiled()
    ent = p.entitlements["freeze"]
    notice = new_notice(ent, issued_at=AS_OF)
    assert notice.ends_at == notice.effective_at + 90 * DAY_US
    records = [rec("1", "2026-06-01", days_late=45), rec("2", "2026-06-02", days_late=45)]
    after = score(p, records, as_of=notice.ends_at)
    d = decide(p, after, "freeze", notices=[notice])
    assert d.outcome == "pending" and d.notice_needed  # a new episode needs a new notice


def test_restriction_not_restricted_when_condition_fails():
    p = compiled()
    d = decide(p, score(p, [], as_of=AS_OF), "freeze", notices=[])
    assert (d.outcome, d.allowed, d.notice) == ("not_restricted", True, None)


def test_unknown_entitlement_suggests_the_closest():
    p = compiled()
    with pytest.raises(EntitlementNotFound) as info:
        decide(p, score(p, [], as_of=AS_OF), "perks")
    assert info.value.suggestion == "did you mean `perk`?"


def test_at_most_four_key_factors():
    rules = [
        {
            "id": f"r{i}",
            "type": "bill.paid",
            "when": [{"attr": "amount", "op": "==", "value": float(i)}],
            "points": -(i + 1),
            "expires_after": "1y",
            "reason": f"reason {i}",
        }
        for i in range(6)
    ]
    p = policy(rules)
    records = [rec(str(i), f"2026-01-0{i + 1}", amount=float(i)) for i in range(6)]
    ex = explain(p, score(p, records, as_of=AS_OF))
    assert [r.code for r in ex.lowering] == ["r5", "r4", "r3", "r2"]
