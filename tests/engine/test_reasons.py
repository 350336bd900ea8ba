"""Reasons and "what would change it": every statement is what rescoring shows."""

from __future__ import annotations

from typing import Any

from credence.engine import decide, explain, score
from credence.types import DAY_US
from tests.engine.helpers import policy, rec, t

AS_OF = t("2026-06-30")
TWO_TIERS = [{"id": "good", "min": 650}, {"id": "fair", "min": 0}]
TYPES = [
    {
        "id": "bill.paid",
        "context": "lending",
        "attributes": {"days_late": "integer", "amount": "number"},
        "providers": ["p"],
    },
    {
        "id": "rental.returned",
        "context": "rentals",
        "attributes": {"days_late": "integer", "amount": "number"},
        "providers": ["p"],
    },
]


def rule(rule_id: str, points: float, **extra: Any) -> dict[str, Any]:
    """A bill.paid rule for records with ``amount`` equal to ``points`` (so each test picks)."""
    body: dict[str, Any] = {
        "id": rule_id,
        "type": extra.pop("type", "bill.paid"),
        "when": [{"attr": "amount", "op": "==", "value": float(points)}],
        "points": points,
        "reason": f"Reason {rule_id}",
    }
    if points < 0:
        body["expires_after"] = "1y"
    return body | extra


def at(points: float, pid: str, day: str = "2026-01-01", **extra: Any) -> Any:
    return rec(pid, day, amount=float(points), **extra)


def test_tier_gap_counts_rounding_half_up():
    p = policy([rule("plus", 40.5)], scale={"base": 600, "min": 0, "max": 1000}, tiers=TWO_TIERS)
    outcome = score(p, [at(40.5, "1")], as_of=AS_OF)
    assert (outcome.raw, outcome.score, outcome.tier) == (640.5, 641, "fair")
    (gap,) = [c for c in explain(p, outcome).changes if c.kind == "tier"]
    assert gap.points == 9 and gap.text.startswith("9 more points reach tier 'good'")
    # 640.5 + 9 = 649.5 rounds half up to 650; 8 would leave 649.
    assert gap.level == 650 and gap.dimension == "general" and gap.target == "good"


def test_score_threshold_gap_is_the_least_whole_number():
    ents = [
        {"id": "perk", "kind": "benefit", "context": "lending", "when": {"score_at_least": 630.5}}
    ]
    p = policy(
        [rule("plus", 20.25)],
        scale={"base": 600, "min": 0, "max": 1000},
        tiers=TWO_TIERS,
        entitlements=ents,
    )
    outcome = score(p, [at(20.25, "1")], as_of=AS_OF)
    d = decide(p, outcome, "perk")
    assert d.outcome == "denied"
    (gap,) = [c for c in d.changes if c.kind == "threshold"]
    # 620.25 needs 10.25 to reach 630.5: the score must be 631, i.e. 630.5 before rounding.
    assert gap.points == 11 and gap.text == "11 more points reach a score of 630.5"


def test_gap_from_the_floor_counts_the_clamp():
    p = policy(
        [rule("minus", -350)],
        scale={"base": 600, "min": 350, "max": 950},
        tiers=[{"id": "fair", "min": 550}, {"id": "poor", "min": 350}],
    )
    outcome = score(p, [at(-350, "1")], as_of=AS_OF)
    assert (outcome.score, outcome.total) == (350, 250.0)
    (gap,) = [c for c in explain(p, outcome).changes if c.kind == "tier"]
    assert gap.points == 300 and gap.text.startswith("300 more points reach tier 'fair'")


def test_dimension_gap_counts_the_dimension_bound():
    ents = [
        {
            "id": "freeze",
            "kind": "restriction",
            "context": "lending",
            "when": {"dimension": "pay", "below": -20},
        }
    ]
    p = policy(
        [rule("minus", -60, dimension="pay")],
        dimensions=[{"id": "pay", "min": -100, "max": 50, "weight": 2}],
        entitlements=ents,
    )
    outcome = score(p, [at(-60, "1"), at(-60, "2")], as_of=AS_OF)
    assert outcome.dimensions["pay"] == -100 and outcome.sums[0] == -120
    d = decide(p, outcome, "freeze")
    (gap,) = [c for c in d.changes if c.kind == "threshold"]
    # From the sum of -120 (not the clamped -100), in the dimension's own units (not x2).
    assert gap.points == 100 and gap.text == "100 more points in 'pay' lift it to -20 or above"


def test_unreachable_dimension_target_says_so():
    ents = [
        {
            "id": "perk",
            "kind": "benefit",
            "context": "lending",
            "when": {"dimension": "pay", "at_least": 80},
        }
    ]
    p = policy(
        [rule("plus", 10, dimension="pay")],
        dimensions=[{"id": "pay", "max": 50}],
        entitlements=ents,
    )
    d = decide(p, score(p, [at(10, "1")], as_of=AS_OF), "perk")
    (gap,) = [c for c in d.changes if c.kind == "threshold"]
    assert gap.points is None
    assert (
        gap.text == "no number of points in 'pay' can lift it to 80 or above: it is bounded at 50"
    )


def test_absorbed_expiry_does_not_claim_a_rise():
    p = policy(
        [
            rule("minus", -60, dimension="pay", expires_after="90d"),
            rule("late", -70, dimension="pay"),
        ],
        dimensions=[{"id": "pay", "min": -50}],
    )
    records = [at(-60, "1", "2026-06-01"), at(-70, "2", "2026-06-02")]
    outcome = score(p, records, as_of=AS_OF)
    assert outcome.dimensions["pay"] == -50  # -130 held at the floor
    # The first record's expiry leaves -70, still below the floor: nothing moves then.
    first_expiry = t("2026-06-01") + 90 * DAY_US
    assert score(p, records, as_of=first_expiry).score == 450
    absorbed, moving = [c for c in explain(p, outcome).changes if c.kind == "expiry"]
    assert absorbed.record == ("p", "1") and absorbed.at == first_expiry
    assert absorbed.before == absorbed.after == 450 and absorbed.points == 0
    assert "rises" not in absorbed.text and absorbed.text.endswith("the score stays at 450")
    assert moving.record == ("p", "2") and (moving.before, moving.after) == (450, 500)
    assert moving.text.endswith("expires on 2027-06-02; the score rises from 450 to 500")


def test_expiry_absorbed_by_rounding_says_the_score_stays():
    p = policy([rule("minus", -0.25, expires_after="90d")])
    records = [at(-0.25, "1", "2026-06-01")]
    outcome = score(p, records, as_of=AS_OF)
    assert (outcome.raw, outcome.score) == (499.75, 500)
    (change,) = [c for c in explain(p, outcome).changes if c.kind == "expiry"]
    assert change.before == change.after == 500 and change.points == 0
    assert "rises" not in change.text and change.text.endswith("the score stays at 500")


def test_expiry_that_moves_the_score_says_from_and_to():
    p = policy([rule("minus", -60, expires_after="90d")])
    records = [at(-60, "1", "2026-06-01")]
    change = explain(p, score(p, records, as_of=AS_OF)).changes[0]
    assert change.at is not None
    assert change.text.endswith("expires on 2026-08-30; the score rises from 440 to 500")
    assert score(p, records, as_of=change.at - 1).score == change.before == 440
    assert score(p, records, as_of=change.at).score == change.after == 500


def test_negative_weight_rule_lowers_the_score():
    p = policy(
        [rule("risky", 10, dimension="risk", expires_after="90d")],
        dimensions=[{"id": "risk", "weight": -2}],
    )
    records = [at(10, "1", "2026-06-01")]
    outcome = score(p, records, as_of=AS_OF)
    assert outcome.score == 480
    ex = explain(p, outcome)
    assert [(r.code, r.points) for r in ex.lowering] == [("risky", -20.0)]
    assert ex.raising == ()
    (expiry,) = [c for c in ex.changes if c.kind == "expiry"]
    assert expiry.record == ("p", "1") and (expiry.before, expiry.after) == (480, 500)
    assert "the score rises from 480 to 500" in expiry.text


def test_denied_benefit_has_a_reason():
    ents = [
        {"id": "perk", "kind": "benefit", "context": "lending", "when": {"tier_at_least": "good"}}
    ]
    p = policy(
        [rule("risky", 10, dimension="risk", expires_after="90d")],
        dimensions=[{"id": "risk", "weight": -2}],
        scale={"base": 650, "min": 0, "max": 1000},
        tiers=TWO_TIERS,
        entitlements=ents,
    )
    d = decide(p, score(p, [at(10, "1", "2026-06-01")], as_of=AS_OF), "perk")
    assert d.outcome == "denied"
    assert [r.code for r in d.reasons] == ["risky"] and d.reasons[0].points == -20


def test_restriction_reasons_only_from_related_contexts():
    ents = [
        {
            "id": "rental_ban",
            "kind": "restriction",
            "context": "rentals",
            "when": {"score_below": 400},
        },
        {
            "id": "rental_ban_with_lending",
            "kind": "restriction",
            "context": "rentals",
            "related_contexts": ["lending"],
            "when": {"score_below": 400},
        },
    ]
    p = policy(
        [rule("bill_late", -80), rule("damaged", -30, type="rental.returned")],
        event_types=TYPES,
        entitlements=ents,
    )
    records = [
        at(-80, "1", "2026-03-01"),
        at(-80, "2", "2026-03-02"),
        at(-30, "3", "2026-04-01", kind="rental.returned"),
    ]
    outcome = score(p, records, as_of=AS_OF)
    assert outcome.score == 310
    d = decide(p, outcome, "rental_ban")
    assert d.outcome == "restricted"  # no notice period
    assert [r.code for r in d.reasons] == ["damaged"]
    expiries = [c for c in d.changes if c.kind == "expiry"]
    assert [c.record for c in expiries] == [("p", "3")]
    wide = decide(p, outcome, "rental_ban_with_lending")
    assert [r.code for r in wide.reasons] == ["bill_late", "damaged"]
    assert [c.record for c in wide.changes if c.kind == "expiry"] == [
        ("p", "1"),
        ("p", "2"),
        ("p", "3"),
    ]
    # The subject's own explanation keeps every context.
    assert [r.code for r in explain(p, outcome).lowering] == ["bill_late", "damaged"]


def test_restriction_gap_lifts_the_score_out_of_it():
    ents = [
        {
            "id": "ban",
            "kind": "restriction",
            "context": "lending",
            "when": {"any": [{"score_below": 450}, {"score_below": 450}]},
        }
    ]
    p = policy([rule("late", -60.5)], entitlements=ents)
    outcome = score(p, [at(-60.5, "1")], as_of=AS_OF)
    assert (outcome.raw, outcome.score) == (439.5, 440)
    d = decide(p, outcome, "ban")
    gaps = [c for c in d.changes if c.kind == "threshold"]
    # Said once; 439.5 + 10 = 449.5 rounds to 450, which is no longer below 450.
    assert [c.text for c in gaps] == ["10 more points lift the score to 450 or above"]
