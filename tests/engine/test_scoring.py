"""The scoring fold against hand-computed values, one DESIGN.md step at a time."""

from __future__ import annotations

import math

import pytest

from credence.engine import round_half_up, score
from tests.engine.helpers import policy, rec, t

AS_OF = t("2026-06-30T00:00:00Z")


def test_no_records_scores_the_base():
    p = policy([{"id": "r", "type": "bill.paid", "points": 1, "reason": "x"}])
    outcome = score(p, [], as_of=AS_OF)
    assert (outcome.score, outcome.raw, outcome.tier) == (500, 500.0, "mid")


def test_first_matching_rule_applies_in_policy_order():
    p = policy(
        [
            {
                "id": "on_time",
                "type": "bill.paid",
                "when": [{"attr": "days_late", "op": "<=", "value": 0}],
                "points": 4,
                "reason": "a",
            },
            {
                "id": "very_late",
                "type": "bill.paid",
                "when": [{"attr": "days_late", "op": ">", "value": 30}],
                "points": -15,
                "expires_after": "2y",
                "reason": "b",
            },
            {"id": "late", "type": "bill.paid", "points": -3, "expires_after": "1y", "reason": "c"},
            {
                "id": "never",
                "type": "bill.paid",
                "points": -100,
                "expires_after": "1y",
                "reason": "shadowed by late",
            },
        ]
    )
    records = [
        rec("1", "2026-01-01", days_late=0),
        rec("2", "2026-01-02", days_late=45),
        rec("3", "2026-01-03", days_late=10),
    ]
    outcome = score(p, records, as_of=AS_OF)
    assert [c.rule.id for c in outcome.contributions] == ["on_time", "very_late", "late"]
    assert outcome.raw == 500 + 4 - 15 - 3


def test_a_record_matching_no_rule_contributes_nothing():
    p = policy(
        [
            {
                "id": "r",
                "type": "bill.paid",
                "when": [{"attr": "days_late", "op": ">", "value": 5}],
                "points": -5,
                "expires_after": "1y",
                "reason": "x",
            }
        ]
    )
    outcome = score(p, [rec("1", "2026-01-01", days_late=1)], as_of=AS_OF)
    assert outcome.contributions == () and outcome.score == 500 and outcome.considered == 1


def test_per_attribute_points():
    p = policy(
        [
            {
                "id": "r",
                "type": "bill.paid",
                "points": 0.01,
                "per": "amount",
                "expires_after": "1y",
                "reason": "x",
            }
        ]
    )
    outcome = score(p, [rec("1", "2026-01-01", amount=1234.0)], as_of=AS_OF)
    assert outcome.raw == pytest.approx(512.34)
    assert outcome.score == 512


def test_records_after_as_of_do_not_count():
    p = policy([{"id": "r", "type": "bill.paid", "points": 10, "reason": "x"}])
    records = [rec("1", "2026-06-30T00:00:00Z"), rec("2", "2026-06-30T00:00:00.000001Z")]
    assert score(p, records, as_of=AS_OF).raw == 510


def test_cap_clips_the_crossing_record_and_zeroes_later_ones():
    p = policy(
        [
            {
                "id": "r",
                "type": "bill.paid",
                "points": 15,
                "cap": {"points": 40, "per": "month"},
                "reason": "x",
            }
        ]
    )
    records = [rec(str(i), f"2026-03-0{i + 1}") for i in range(4)]
    outcome = score(p, records, as_of=AS_OF)
    assert [c.capped for c in outcome.contributions] == [15, 15, 10, 0]
    assert outcome.raw == 540


def test_cap_periods_are_utc_calendar_periods():
    p = policy(
        [
            {
                "id": "r",
                "type": "bill.paid",
                "points": 30,
                "cap": {"points": 40, "per": "month"},
                "reason": "x",
            }
        ]
    )
    # 23:30 at -02:00 on 31 Jan is 01:30 UTC on 1 Feb: a new month.
    records = [
        rec("1", "2026-01-31T10:00:00Z"),
        rec("2", "2026-01-31T23:30:00-02:00"),
        rec("3", "2026-02-03"),
    ]
    outcome = score(p, records, as_of=AS_OF)
    assert [c.capped for c in outcome.contributions] == [30, 30, 10]


@pytest.mark.parametrize(
    ("per", "expected"), [("day", [5, 5, 5]), ("month", [5, 3, 0]), ("year", [5, 3, 0])]
)
def test_cap_per_day_month_year(per, expected):
    p = policy(
        [
            {
                "id": "r",
                "type": "bill.paid",
                "points": 5,
                "cap": {"points": 8, "per": per},
                "reason": "x",
            }
        ]
    )
    records = [rec("1", "2026-05-01"), rec("2", "2026-05-02"), rec("3", "2026-05-03")]
    assert [c.capped for c in score(p, records, as_of=AS_OF).contributions] == expected


def test_cap_ties_count_in_provider_then_event_id_order():
    p = policy(
        [
            {
                "id": "r",
                "type": "bill.paid",
                "points": 6,
                "cap": {"points": 10, "per": "day"},
                "reason": "x",
            }
        ],
        event_types=[
            {
                "id": "bill.paid",
                "context": "lending",
                "attributes": {"days_late": "integer", "amount": "number"},
                "providers": ["a", "b"],
            }
        ],
    )
    same = "2026-05-01T12:00:00Z"
    records = [
        rec("2", same, provider="b"),
        rec("9", same, provider="a"),
        rec("10", same, provider="a"),
    ]
    got = {
        (c.record.provider, c.record.provider_event_id): c.capped
        for c in score(p, records, as_of=AS_OF).contributions
    }
    # order: (a, "10") < (a, "9") < (b, "2") as strings
    assert got == {("a", "10"): 6, ("a", "9"): 4, ("b", "2"): 0}


def test_negative_cap_bounds_the_magnitude():
    p = policy(
        [
            {
                "id": "r",
                "type": "bill.paid",
                "points": -7,
                "expires_after": "1y",
                "cap": {"points": 10, "per": "year"},
                "reason": "x",
            }
        ]
    )
    records = [rec("1", "2026-01-01"), rec("2", "2026-01-02"), rec("3", "2026-01-03")]
    assert [c.capped for c in score(p, records, as_of=AS_OF).contributions] == [-7, -3, 0]


def test_caps_are_taken_before_expiry_so_capped_points_never_change():
    p = policy(
        [
            {
                "id": "r",
                "type": "bill.paid",
                "points": 6,
                "expires_after": "10d",
                "cap": {"points": 10, "per": "month"},
                "reason": "x",
            }
        ]
    )
    records = [rec("1", "2026-05-01"), rec("2", "2026-05-20")]
    late = score(p, records, as_of=t("2026-05-25"))
    # the first record has expired, but the second is still clipped to the month's remainder
    assert [(c.capped, c.value) for c in late.contributions] == [(6, 0.0), (4, 4)]


def test_expiry_is_exclusive_at_the_boundary():
    p = policy(
        [{"id": "r", "type": "bill.paid", "points": -20, "expires_after": "30d", "reason": "x"}]
    )
    records = [rec("1", "2026-01-01")]
    assert score(p, records, as_of=t("2026-01-30T23:59:59.999999Z")).raw == 480
    assert score(p, records, as_of=t("2026-01-31")).raw == 500
    assert score(p, records, as_of=t("2026-03-01")).raw == 500


def test_half_life_decay():
    p = policy([{"id": "r", "type": "bill.paid", "points": 40, "half_life": "10d", "reason": "x"}])
    records = [rec("1", "2026-01-01")]
    assert score(p, records, as_of=t("2026-01-01")).raw == pytest.approx(540)
    assert score(p, records, as_of=t("2026-01-11")).raw == pytest.approx(520)
    assert score(p, records, as_of=t("2026-01-21")).raw == pytest.approx(510)
    three_days = score(p, records, as_of=t("2026-01-04")).raw
    assert three_days == pytest.approx(500 + 40 * 0.5**0.3)


def test_dimensions_weights_and_bounds():
    p = policy(
        [
            {
                "id": "good",
                "type": "bill.paid",
                "when": [{"attr": "days_late", "op": "==", "value": 0}],
                "points": 30,
                "dimension": "pay",
                "reason": "a",
            },
            {
                "id": "bad",
                "type": "bill.paid",
                "points": -50,
                "dimension": "other",
                "expires_after": "1y",
                "reason": "b",
            },
        ],
        dimensions=[
            {"id": "pay", "weight": 2.0, "max": 50},
            {"id": "other", "weight": 0.5, "min": -60},
        ],
    )
    records = [
        rec("1", "2026-01-01"),
        rec("2", "2026-01-02"),
        rec("3", "2026-01-03", days_late=3),
        rec("4", "2026-01-04", days_late=3),
    ]
    outcome = score(p, records, as_of=AS_OF)
    assert outcome.dimensions == {"pay": 50, "other": -60, "general": 0}
    assert outcome.raw == 500 + 2 * 50 + 0.5 * -60


def test_rules_without_a_dimension_count_in_general():
    p = policy(
        [{"id": "r", "type": "bill.paid", "points": 7, "reason": "x"}],
        dimensions=[{"id": "pay", "weight": 3}],
    )
    outcome = score(p, [rec("1", "2026-01-01")], as_of=AS_OF)
    assert outcome.dimensions == {"pay": 0, "general": 7} and outcome.raw == 507


def test_score_is_clamped_to_the_scale():
    p = policy([{"id": "r", "type": "bill.paid", "points": 400, "reason": "x"}])
    records = [rec(str(i), f"2026-01-0{i + 1}") for i in range(3)]
    outcome = score(p, records, as_of=AS_OF)
    assert (outcome.raw, outcome.score, outcome.tier) == (1000, 1000, "high")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(612.5, 613), (612.4999999, 612), (-0.5, 0), (0.1 + 0.2 + 0.2, 1), (612.49999999999994, 613)],
)
def test_round_half_up(raw, expected):
    assert round_half_up(raw) == expected


def test_decimal_points_round_as_people_expect():
    # five records of 0.1 sum to 0.49999999999999994 in binary floating point
    p = policy(
        [{"id": "r", "type": "bill.paid", "points": 0.1, "reason": "x"}],
        scale={"base": 500, "min": 0, "max": 1000},
    )
    records = [rec(str(i), f"2026-01-0{i + 1}") for i in range(5)]
    assert score(p, records, as_of=AS_OF).score == 501


def test_tier_is_the_first_whose_min_the_score_reaches():
    p = policy([{"id": "r", "type": "bill.paid", "points": 200, "reason": "x"}])
    assert score(p, [rec("1", "2026-01-01")], as_of=AS_OF).tier == "high"  # exactly 700
    p2 = policy([{"id": "r", "type": "bill.paid", "points": 199.4, "reason": "x"}])
    assert score(p2, [rec("1", "2026-01-01")], as_of=AS_OF).tier == "mid"  # 699.4 rounds to 699


def test_retraction_withdraws_the_record_at_every_time():
    p = policy(
        [{"id": "r", "type": "bill.paid", "points": -30, "expires_after": "2y", "reason": "x"}]
    )
    records = [
        rec("1", "2026-01-01"),
        rec("2", "2026-01-02"),
        rec("fix-1", "2026-06-01", retracts="1"),
    ]
    # even before the retraction arrived, the withdrawn record does not count
    assert score(p, records, as_of=t("2026-03-01")).raw == 470
    assert score(p, records, as_of=AS_OF).considered == 1


def test_retraction_only_withdraws_its_own_providers_record():
    p = policy(
        [{"id": "r", "type": "bill.paid", "points": -30, "expires_after": "2y", "reason": "x"}],
        event_types=[
            {
                "id": "bill.paid",
                "context": "lending",
                "attributes": {"days_late": "integer", "amount": "number"},
                "providers": ["a", "b"],
            }
        ],
    )
    records = [
        rec("1", "2026-01-01", provider="a"),
        rec("1", "2026-01-01", provider="b"),
        rec("x", "2026-02-01", provider="b", retracts="1"),
    ]
    outcome = score(p, records, as_of=AS_OF)
    assert [c.record.provider for c in outcome.contributions] == ["a"]


def test_input_order_does_not_matter():
    p = policy(
        [
            {
                "id": "r",
                "type": "bill.paid",
                "points": 6,
                "half_life": "30d",
                "cap": {"points": 10, "per": "day"},
                "reason": "x",
            }
        ]
    )
    records = [rec(str(i), f"2026-01-0{1 + i % 3}T0{i}:00:00Z") for i in range(9)]
    forward = score(p, records, as_of=AS_OF)
    backward = score(p, list(reversed(records)), as_of=AS_OF)
    assert forward.raw == backward.raw and math.isclose(
        forward.dimensions["general"], backward.dimensions["general"]
    )


CURED = {
    "id": "unpaid",
    "type": "bill.paid",
    "when": [{"attr": "days_late", "op": ">", "value": 30}],
    "points": -40,
    "expires_after": "2y",
    "cured_by": "debt.settled",
    "min_period": "30d",
    "reason": "Unpaid bill",
}
CURE_TYPES = [
    {
        "id": "bill.paid",
        "context": "lending",
        "attributes": {"days_late": "integer", "amount": "number"},
        "providers": ["p"],
    },
    {"id": "debt.settled", "context": "lending", "attributes": {}, "providers": ["p"]},
]


def test_a_cure_ends_a_negative_records_effect_after_the_minimum_period():
    from credence.types import Record

    p = policy([CURED], event_types=CURE_TYPES)
    unpaid = rec("1", "2026-01-01", days_late=60)
    settled = Record("p", "s1", "debt.settled", t("2026-01-10"), {})
    assert score(p, [unpaid], as_of=t("2026-03-01")).raw == 460  # no cure yet
    # cured on 10 January, but it counts for at least 30 days: until 31 January
    mid = score(p, [unpaid, settled], as_of=t("2026-01-20"))
    assert mid.raw == 460 and mid.contributions[0].expires_at == t("2026-01-31")
    assert score(p, [unpaid, settled], as_of=t("2026-01-31")).raw == 500
    # a cure after the minimum period ends the effect when it arrives
    late = Record("p", "s2", "debt.settled", t("2026-05-01"), {})
    assert score(p, [unpaid, late], as_of=t("2026-04-30")).raw == 460
    assert score(p, [unpaid, late], as_of=t("2026-05-01")).raw == 500


def test_a_cure_before_the_record_does_not_count():
    from credence.types import Record

    p = policy([CURED], event_types=CURE_TYPES)
    early = Record("p", "s0", "debt.settled", t("2025-12-01"), {})
    assert score(p, [early, rec("1", "2026-01-01", days_late=60)], as_of=t("2026-06-01")).raw == 460


def test_a_retracted_cure_cures_nothing():
    from credence.types import Record

    p = policy([CURED], event_types=CURE_TYPES)
    cure = Record("p", "s1", "debt.settled", t("2026-01-10"), {})
    withdrawn = Record("p", "s1-fix", "debt.settled", t("2026-01-11"), {}, retracts="s1")
    assert (
        score(p, [rec("1", "2026-01-01", days_late=60), cure, withdrawn], as_of=t("2026-06-01")).raw
        == 460
    )
