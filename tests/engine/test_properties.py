"""Properties of the fold that must hold for every policy and every record set."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from functools import lru_cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from credence.engine import score
from credence.engine.compiled import period_bounds
from credence.types import DAY_US, Record
from tests.engine.helpers import policy, t

START = t("2025-01-01")
AS_OF_RANGE = (START, START + 800 * DAY_US)


@st.composite
def rules(draw: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        points = draw(st.sampled_from([-20, -7.5, -1, 0.5, 3, 12]))
        rule: dict[str, Any] = {
            "id": f"r{i}",
            "type": "bill.paid",
            "points": points,
            "reason": f"rule {i}",
        }
        if draw(st.booleans()):
            rule["when"] = [
                {
                    "attr": "days_late",
                    "op": draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="])),
                    "value": draw(st.integers(0, 5)),
                }
            ]
        if points < 0 or draw(st.booleans()):
            rule["expires_after"] = draw(st.sampled_from(["1d", "10d", "30d", "1y"]))
        if draw(st.booleans()):
            rule["cap"] = {
                "points": draw(st.sampled_from([5, 10, 25])),
                "per": draw(st.sampled_from(["day", "month", "year"])),
            }
        if draw(st.booleans()):
            rule["half_life"] = draw(st.sampled_from(["7d", "90d"]))
        out.append(rule)
    return out


@st.composite
def record_sets(draw: Any) -> list[Record]:
    n = draw(st.integers(0, 25))
    records = []
    for i in range(n):
        at = (
            START
            + draw(st.integers(0, 700)) * DAY_US
            + draw(st.sampled_from([0, 1, 3_600_000_000]))
        )
        provider = draw(st.sampled_from(["p", "q"]))
        records.append(
            Record(
                provider,
                f"e{i}",
                "bill.paid",
                at,
                {"days_late": draw(st.integers(0, 6)), "amount": 1.0},
            )
        )
    return records


TYPES = [
    {
        "id": "bill.paid",
        "context": "lending",
        "attributes": {"days_late": "integer", "amount": "number"},
        "providers": ["p", "q"],
    }
]


def compiled(rule_list: list[dict[str, Any]]) -> Any:
    return _compiled(json.dumps(rule_list))


@lru_cache(maxsize=512)
def _compiled(rules_json: str) -> Any:
    return policy(json.loads(rules_json), event_types=TYPES)


as_of_times = st.integers(*AS_OF_RANGE)


@settings(max_examples=80, deadline=None)
@given(rules(), record_sets(), as_of_times, st.data())
def test_a_retraction_removes_exactly_the_retracted_records_effect(rule_list, records, as_of, data):
    p = compiled(rule_list)
    if not records:
        return
    target = data.draw(st.sampled_from(records))
    retraction = Record(
        target.provider, "fix", "bill.paid", START, {}, retracts=target.provider_event_id
    )
    with_retraction = score(p, [*records, retraction], as_of=as_of)
    without = score(p, [r for r in records if r is not target], as_of=as_of)
    assert with_retraction.raw == without.raw
    assert with_retraction.dimensions == without.dimensions


@settings(max_examples=80, deadline=None)
@given(rules(), record_sets(), as_of_times)
def test_a_capped_rule_never_exceeds_its_cap_in_any_period(rule_list, records, as_of):
    p = compiled(rule_list)
    totals: dict[tuple[str, int], float] = defaultdict(float)
    for c in score(p, records, as_of=as_of).contributions:
        if c.rule.cap is not None:
            start, _ = period_bounds(c.rule.step[4], c.record.occurred_at)
            totals[(c.rule.id, start)] += c.capped
            assert abs(totals[(c.rule.id, start)]) <= c.rule.cap + 1e-9


@settings(max_examples=80, deadline=None)
@given(rules(), record_sets(), as_of_times)
def test_a_record_contributes_nothing_at_and_after_its_expiry(rule_list, records, as_of):
    p = compiled(rule_list)
    for c in score(p, records, as_of=as_of).contributions:
        if c.expires_at is not None and as_of >= c.expires_at:
            assert c.value == 0.0
        elif c.capped != 0.0:
            assert c.value != 0.0


@settings(max_examples=80, deadline=None)
@given(rules(), record_sets(), as_of_times, st.floats(-5000, 5000), st.floats(0, 500))
def test_the_score_stays_within_the_scale(rule_list, records, as_of, base_offset, width):
    scale = {"base": 500, "min": 500 - width, "max": 500 + width}
    types = [
        {
            "id": "bill.paid",
            "context": "lending",
            "attributes": {"days_late": "integer", "amount": "number"},
            "providers": ["p", "q"],
        }
    ]
    weighted = [{**r, "points": r["points"] * (1 + abs(base_offset))} for r in rule_list]
    tiers = [{"id": "only", "min": math.floor(500 - width)}]
    p = policy(weighted, event_types=types, scale=scale, tiers=tiers)
    outcome = score(p, records, as_of=as_of)
    assert scale["min"] <= outcome.raw <= scale["max"]
    assert scale["min"] - 0.5 <= outcome.score <= scale["max"] + 0.5
    assert outcome.tier == "only"


@settings(max_examples=100, deadline=None)
@given(rules(), record_sets(), as_of_times, st.randoms())
def test_the_order_records_arrive_in_does_not_matter(rule_list, records, as_of, rng):
    p = compiled(rule_list)
    shuffled = list(records)
    rng.shuffle(shuffled)
    a, b = score(p, records, as_of=as_of), score(p, shuffled, as_of=as_of)
    assert a.raw == b.raw and a.dimensions == b.dimensions


@settings(max_examples=80, deadline=None)
@given(rules(), record_sets(), as_of_times, st.sampled_from([-1, 1]))
def test_soonest_expiries_from_each_rules_first_records_equal_a_full_scan(
    rule_list, records, as_of, direction
):
    from credence.engine.reasons import soonest_expiring

    p = compiled(rule_list)
    outcome = score(p, records, as_of=as_of)
    fast = soonest_expiring(p, outcome, direction=direction, limit=3)
    full = [
        c for c in outcome.contributions if c.expires_at is not None and c.value * direction > 0
    ]
    full.sort(key=lambda c: (c.expires_at, c.record.order))
    assert fast == full[:3]
