"""Rule groups (DESIGN.md "Rule groups") and the ``absent`` test, online."""

from __future__ import annotations

import pytest

from credence.engine import score
from credence.engine.plan import build_plan
from credence.errors import PolicyError
from credence.policy import parse_policy
from credence.types import Record, parse_time
from tests.engine.helpers import policy

AS_OF = parse_time("2026-01-01T00:00:00Z")


def _bin(rid: str, group: str | None, points: float, *when: dict) -> dict:
    rule = {"id": rid, "type": "bill.paid", "points": points, "reason": rid, "when": list(when)}
    if group is not None:
        rule["group"] = group
    if points < 0:
        rule["expires_after"] = "1y"
    return rule


LATE = {"attr": "days_late", "op": ">", "value": 0}
BIG = {"attr": "amount", "op": ">=", "value": 100}


def _record(attrs: dict) -> Record:
    return Record("p", "e1", "bill.paid", parse_time("2025-06-01T00:00:00Z"), attrs)


def test_a_record_gets_the_first_hit_of_each_group_summed():
    p = policy(
        [
            _bin("late", "lateness", -10, LATE),
            _bin("any_lateness", "lateness", -99),  # shadowed within its group
            _bin("big", "size", 7, BIG),
            _bin("small", "size", 3),
        ]
    )
    outcome = score(p, [_record({"days_late": 5, "amount": 150.0})], as_of=AS_OF)
    assert outcome.score == 500 - 10 + 7
    assert [c.rule.id for c in outcome.contributions] == ["late", "big"]


def test_rules_without_a_group_form_one_default_group_beside_named_ones():
    rules = [_bin("late", None, -10, LATE), _bin("on_time", None, 5), _bin("big", "size", 7, BIG)]
    p = policy(rules)
    assert [c.rule.id for c in score(p, [_record({"days_late": 0, "amount": 150.0})], as_of=AS_OF).contributions] == ["on_time", "big"]  # fmt: skip


def test_a_policy_without_groups_scores_and_plans_exactly_as_before():
    rules = [_bin("late", None, -10, LATE), _bin("on_time", None, 5)]
    p = policy(rules)
    # One chain per type: the plan has no per-group repetition of records.
    assert "grp" not in build_plan(p, as_of=AS_OF).sql
    outcome = score(p, [_record({"days_late": 3, "amount": 1.0})], as_of=AS_OF)
    assert (outcome.score, [c.rule.id for c in outcome.contributions]) == (490, ["late"])


def test_absent_holds_only_on_a_missing_attribute():
    p = policy(
        [
            _bin("missing", "lateness", -4, {"attr": "days_late", "op": "absent"}),
            _bin("late", "lateness", -10, LATE),
        ]
    )
    assert score(p, [_record({"amount": 1.0})], as_of=AS_OF).score == 496
    assert score(p, [_record({"days_late": 2, "amount": 1.0})], as_of=AS_OF).score == 490
    # Every other operator on a missing attribute is false, as before.
    assert score(p, [_record({"days_late": 0})], as_of=AS_OF).score == 500


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"attr": "days_late", "op": "absent", "value": 1}, "takes no value"),
        ({"attr": "days_late", "op": ">"}, "needs a value"),
    ],
)
def test_absent_takes_no_value_and_other_operators_need_one(condition: dict, message: str):
    text = f"""
credence: 1
name: t
version: "1"
purpose: t
scale: {{base: 0, min: -10, max: 10}}
event_types: [{{id: e, context: c, attributes: {{days_late: integer}}, providers: [p]}}]
rules: [{{id: r, type: e, points: 1, reason: r, when: [{condition}]}}]
tiers: [{{id: t, min: -10}}]
"""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text.replace("'", '"'))
    assert any(message in p.message for p in caught.value.problems)


def test_a_record_hitting_several_groups_is_purged_only_when_every_hit_has_expired():
    from credence.engine.redemption import purgeable

    short = {**_bin("late", "lateness", -10, LATE), "expires_after": "30d"}
    long = {**_bin("big", "size", -7, BIG), "expires_after": "1y"}
    p = policy([short, long])
    record = _record({"days_late": 5, "amount": 150.0})  # 2025-06-01
    between = parse_time("2025-09-01T00:00:00Z")  # past 30 days, within a year
    assert purgeable(p, [record], as_of=between, grace_us=0) == []
    after = parse_time("2026-07-01T00:00:00Z")
    assert purgeable(p, [record], as_of=after, grace_us=0) == [record]
    # A hit without expiry keeps the record for good.
    keep = policy([short, {**_bin("big", "size", 7, BIG)}])
    assert purgeable(keep, [record], as_of=after, grace_us=0) == []
