"""Every "what would change it" claim holds when checked by scoring again.

Policies are generated with bounded and weighted dimensions (negative weights
included), caps, decay, expiry, several tiers and entitlements over score,
tier and dimension tests in several contexts. Each generated policy also has
a ``bonus`` rule per dimension (``points: 1, per: n``): one ``bonus`` record
adds exactly n to that dimension's sum, which is how a reader would take
"n more points". Each claim is then checked with ``score``: an expiry at the
stated moment and just before it, a gap with the stated points added and
with one fewer.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from credence.engine import CompiledPolicy, Decision, decide, explain, score
from credence.engine.decisions import CONDITION_REASON
from credence.engine.reasons import Change, Reason, soonest_expiring
from credence.engine.scoring import Outcome, scores_at
from credence.types import DAY_US, Record
from tests.engine.helpers import policy, t

START = t("2025-01-01")
CONTEXTS = ["lending", "housing", "rentals"]
TYPES = {"bill.paid": "lending", "rent.paid": "housing", "rental.returned": "rentals"}
LATE = {"days_late": "integer", "amount": "number"}


@st.composite
def policies(draw: Any) -> CompiledPolicy:
    dims = []
    for i in range(draw(st.integers(1, 3))):
        dim: dict[str, Any] = {
            "id": f"d{i}",
            "weight": draw(st.sampled_from([-2, -1, -0.5, 0.5, 1, 1.5, 2])),
        }
        if draw(st.booleans()):
            dim["min"] = draw(st.sampled_from([-80, -30.5, -10, 0]))
        if draw(st.booleans()):
            dim["max"] = draw(st.sampled_from([5, 20.5, 60, 150]))
        dims.append(dim)
    dim_ids = [d["id"] for d in dims]
    base = draw(st.sampled_from([450, 500.5, 600]))
    scale = {
        "base": base,
        "min": draw(st.sampled_from([0, 300, 350, 420.5, base])),
        "max": draw(st.sampled_from([base, 640.5, 700, 950])),
    }
    rules = []
    for i in range(draw(st.integers(1, 6))):
        points = draw(st.sampled_from([-40.5, -20, -7.5, -1, 0.5, 3, 12, 25.25, 60]))
        rule: dict[str, Any] = {
            "id": f"r{i}",
            "type": draw(st.sampled_from(sorted(TYPES))),
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
        dim_choice = draw(st.sampled_from([None, *dim_ids]))
        if dim_choice is not None:
            rule["dimension"] = dim_choice
        if points < 0 or draw(st.booleans()):
            rule["expires_after"] = draw(st.sampled_from(["1d", "10d", "30d", "1y"]))
        if draw(st.booleans()):
            rule["cap"] = {
                "points": draw(st.sampled_from([5, 10, 25])),
                "per": draw(st.sampled_from(["day", "month", "year"])),
            }
        if draw(st.booleans()):
            rule["half_life"] = draw(st.sampled_from(["7d", "90d"]))
        rules.append(rule)
    for target in [*dim_ids, "general"]:
        bonus: dict[str, Any] = {
            "id": f"bonus_{target}",
            "type": "bonus",
            "when": [{"attr": "dim", "op": "==", "value": target}],
            "points": 1,
            "per": "n",
            "expires_after": "1y",
            "reason": f"bonus in {target}",
        }
        if target != "general":
            bonus["dimension"] = target
        rules.append(bonus)
    mins = draw(
        st.lists(
            st.sampled_from([300, 420.5, 449.5, 500, 550, 600.5, 650, 700.25, 800, 990]),
            min_size=2,
            max_size=4,
            unique=True,
        )
    )
    floor = math.floor(scale["min"])  # the lowest tier must hold every score
    above = sorted((m for m in mins if m > floor), reverse=True)
    tiers = [{"id": f"t{i}", "min": m} for i, m in enumerate([*above, floor])]
    tier_ids = [x["id"] for x in tiers]

    def leaf() -> dict[str, Any]:
        form = draw(st.sampled_from(["tier", "at_least", "below", "dimension"]))
        if form == "tier":
            return {"tier_at_least": draw(st.sampled_from(tier_ids))}
        if form in ("at_least", "below"):
            level = draw(st.sampled_from([430.5, 450, 520, 600.5, 630.5, 650]))
            return {"score_at_least" if form == "at_least" else "score_below": level}
        test = draw(st.sampled_from(["below", "at_least"]))
        level = draw(st.sampled_from([-25.5, -10, 0, 5, 20.5, 100]))
        return {"dimension": draw(st.sampled_from([*dim_ids, "general"])), test: level}

    entitlements = []
    for i in range(draw(st.integers(1, 4))):
        shape = draw(st.sampled_from(["leaf", "all", "any"]))
        when = leaf() if shape == "leaf" else {shape: [leaf() for _ in range(2)]}
        context = draw(st.sampled_from(CONTEXTS))
        related = [c for c in CONTEXTS if c != context and draw(st.booleans())]
        entitlements.append(
            {
                "id": f"e{i}",
                "kind": draw(st.sampled_from(["benefit", "restriction"])),
                "context": context,
                "related_contexts": related,
                "when": when,
            }
        )
    # A rule that can lower the score, or push a dimension an entitlement tests towards an
    # adverse outcome, must expire (the policy check refuses it otherwise).
    tested = {
        leaf["dimension"]
        for e in entitlements
        for leaf in [e["when"], *e["when"].get("all", []), *e["when"].get("any", [])]
        if "dimension" in leaf
    }
    weights = {d["id"]: d["weight"] for d in dims}
    for rule in rules:
        target = rule.get("dimension", "general")
        if "expires_after" not in rule and (weights.get(target, 1) < 0 or target in tested):
            rule["expires_after"] = "1y"
    event_types = [
        {"id": kind, "context": context, "attributes": LATE, "providers": ["p", "q"]}
        for kind, context in TYPES.items()
    ] + [
        {
            "id": "bonus",
            "context": "test",
            "attributes": {"dim": "string", "n": "number"},
            "providers": ["p"],
        }
    ]
    return policy(
        rules,
        dimensions=dims,
        scale=scale,
        tiers=tiers,
        entitlements=entitlements,
        event_types=event_types,
    )


@st.composite
def subjects(draw: Any) -> tuple[list[Record], int]:
    as_of = START + draw(st.integers(0, 800)) * DAY_US
    records = []
    for i in range(draw(st.integers(0, 20))):
        at = (
            as_of
            - draw(st.integers(0, 500)) * DAY_US
            - draw(st.sampled_from([0, 1, 3_600_000_000]))
        )
        records.append(
            Record(
                draw(st.sampled_from(["p", "q"])),
                f"e{i}",
                draw(st.sampled_from(sorted(TYPES))),
                at,
                {"days_late": draw(st.integers(0, 6)), "amount": 1.0},
            )
        )
    return records, as_of


def with_bonus(
    p: CompiledPolicy, records: list[Record], *, dimension: str, points: float, as_of: int
) -> Outcome:
    """The subject scored with one more record adding ``points`` to ``dimension``, counted last."""
    extra = Record("~", "~bonus", "bonus", as_of, {"dim": dimension, "n": float(points)})
    return score(p, [*records, extra], as_of=as_of)


def reached(p: CompiledPolicy, change: Change, outcome: Outcome) -> bool:
    """Whether ``outcome`` has what the change says its points reach (at/above its level)."""
    assert change.level is not None
    if change.measure == "tier":
        assert change.target is not None
        return outcome.tier_rank <= p.tier_ids.index(change.target)
    if change.measure == "score":
        return outcome.score >= change.level
    assert change.measure == "dimension" and change.target is not None
    return outcome.dimensions[change.target] >= change.level


def check_change(
    p: CompiledPolicy,
    change: Change,
    records: list[Record],
    outcome: Outcome,
    *,
    contexts: set[str] | None,
) -> None:
    as_of = outcome.as_of
    if change.kind == "expiry":
        assert change.at is not None and change.record is not None
        before = score(p, records, as_of=change.at - 1)
        after = score(p, records, as_of=change.at)
        assert (before.score, after.score) == (change.before, change.after), change.text
        assert change.points == after.score - before.score
        word = "rises" if after.score > before.score else "falls"
        if after.score == before.score:
            word = "stays"
        assert f"the score {word}" in change.text
        assert not any(w in change.text for w in {"rises", "falls", "stays"} - {word})
        (was,) = [c for c in before.contributions if c.record.key == change.record]
        (now,) = [c for c in after.contributions if c.record.key == change.record]
        assert was.value != 0.0 and now.value == 0.0 and now.expires_at == change.at
        if contexts is not None:
            assert was.rule.context in contexts
        return
    assert change.kind in ("tier", "threshold")
    assert change.dimension is not None
    if change.points is None:
        assert change.text.startswith("no number of points")
        up = " can take " not in change.text
        far = with_bonus(
            p, records, dimension=change.dimension, points=10**7 if up else -(10**7), as_of=as_of
        )
        assert reached(p, change, far) != up, change.text
        return
    n = change.points
    assert n == int(n) and n != 0
    up = n > 0
    hit = with_bonus(p, records, dimension=change.dimension, points=n, as_of=as_of)
    assert reached(p, change, hit) == up, change.text
    step = 1 if up else -1
    short = with_bonus(p, records, dimension=change.dimension, points=n - step, as_of=as_of)
    assert reached(p, change, short) != up, change.text  # N is the least that works
    assert f"{abs(int(n))} {'more' if up else 'fewer'} points" in change.text


def check_reasons(
    p: CompiledPolicy,
    reasons: tuple[Reason, ...],
    outcome: Outcome,
    *,
    direction: int,
    contexts: set[str] | None,
) -> None:
    effects: dict[str, tuple[float, int]] = {}
    for c in outcome.contributions:
        effect = c.value * p.weights[c.rule.dimension]
        if effect * direction > 0 and (contexts is None or c.rule.context in contexts):
            total, count = effects.get(c.rule.id, (0.0, 0))
            effects[c.rule.id] = (total + effect, count + 1)
    ranked = sorted(effects.items(), key=lambda kv: (-abs(kv[1][0]), kv[0]))[:4]
    assert [r.code for r in reasons] == [code for code, _ in ranked]
    for reason, (_, (total, count)) in zip(reasons, ranked, strict=True):
        assert abs(reason.points - total) < 1e-6 and reason.points * direction > 0
        assert reason.records == count


def check_decision(p: CompiledPolicy, d: Decision, records: list[Record], outcome: Outcome) -> None:
    ent = p.entitlements[d.entitlement]
    contexts = {ent.context, *ent.related_contexts}
    adverse = d.outcome in ("denied", "restricted", "pending")
    against = any(
        c.value * p.weights[c.rule.dimension] < 0 and c.rule.context in contexts
        for c in outcome.contributions
    )
    if adverse and not against:
        # No record lowers the score in its contexts: the condition itself is the one reason.
        assert [r.code for r in d.reasons] == [CONDITION_REASON]
    else:
        check_reasons(p, d.reasons, outcome, direction=-1 if adverse else 1, contexts=contexts)
    if adverse:
        assert d.reasons  # an adverse outcome always says why
    for change in d.changes:
        check_change(p, change, records, outcome, contexts=contexts)


@settings(max_examples=150, deadline=None)
@given(policies(), subjects())
def test_every_change_holds_when_rescored(p: CompiledPolicy, subject: tuple[list[Record], int]):
    records, as_of = subject
    outcome = score(p, records, as_of=as_of)
    ex = explain(p, outcome)
    check_reasons(p, ex.lowering, outcome, direction=-1, contexts=None)
    check_reasons(p, ex.raising, outcome, direction=1, contexts=None)
    for change in ex.changes:
        check_change(p, change, records, outcome, contexts=None)
    for ent_id in p.entitlements:
        check_decision(p, decide(p, outcome, ent_id), records, outcome)


@settings(max_examples=100, deadline=None)
@given(policies(), subjects(), st.lists(st.integers(0, 900 * DAY_US), max_size=6))
def test_scores_at_later_times_equal_scoring_again(
    p: CompiledPolicy, subject: tuple[list[Record], int], offsets: list[int]
):
    records, as_of = subject
    outcome = score(p, records, as_of=as_of)
    times = [as_of + offset for offset in offsets] + [as_of]
    expected = [score(p, records, as_of=at).score for at in times]
    assert scores_at(p, outcome, times) == expected


@settings(max_examples=100, deadline=None)
@given(
    policies(),
    subjects(),
    st.sampled_from([-1, 1]),
    st.sets(st.sampled_from(CONTEXTS)),
    st.integers(1, 9),
)
def test_soonest_expiring_equals_a_full_scan_with_weights_and_contexts(
    p: CompiledPolicy,
    subject: tuple[list[Record], int],
    direction: int,
    contexts: set[str],
    limit: int,
):
    records, as_of = subject
    outcome = score(p, records, as_of=as_of)
    fast = soonest_expiring(p, outcome, direction=direction, contexts=contexts, limit=limit)
    full = [
        c
        for c in outcome.contributions
        if c.expires_at is not None
        and c.value * p.weights[c.rule.dimension] * direction > 0
        and c.rule.context in contexts
    ]
    full.sort(key=lambda c: (c.expires_at or 0, c.record.order))
    assert fast == full[:limit]
