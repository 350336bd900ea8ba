"""Hypothesis strategies for batch/online agreement: policies, record sets and as-of times.

Policies exercise every scoring feature at once: caps per day, month and
year, decay, expiry, early cures (``cured_by``, ``min_period``), ``per`` points, first-hit conditions with every
operator (``absent`` too), rule groups (first hit per group, summed over
groups, beside rules in the default group), dimension bounds and weights. Record sets bring retractions (of
records that exist, do not exist, or belong to another provider), ties in
``occurred_at``, absent attributes, and attribute columns shared by two event
types with different numeric types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from credence.engine import CompiledPolicy, compile_policy, score
from credence.policy.model import Policy
from credence.types import DAY_US, Record

T0 = 1_703_462_400_000_000  # 2023-12-25T00:00:00Z: periods cross a month and a year early on
STEP = 5 * 3_600_000_000  # five hours; steps land on many days, months and years
ATTRS: dict[str, dict[str, str]] = {
    "ev.a": {"n": "integer", "x": "number", "s": "string", "f": "boolean"},
    "ev.b": {"n": "number", "s": "string"},  # n is integer in ev.a: one DOUBLE column
}
POOLS: dict[str, list[Any]] = {
    "integer": [-2, -1, 0, 1, 2, 3],
    "number": [-1.5, 0.0, 0.5, 1.0, 2.0, 3.25],
    "string": ["a", "b", "c", "it's"],
    "boolean": [True, False],
}
ORDERED = ["<", "<=", ">", ">="]
EQUALITY = ["==", "!="]
MEMBERSHIP = ["in", "not_in"]
GROUPS = ["g1", "g2"]


@st.composite
def conditions(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    attr = draw(st.sampled_from(sorted(ATTRS[event_type])))
    kind = ATTRS[event_type][attr]
    ops = EQUALITY + MEMBERSHIP + ["absent"] + (ORDERED if kind in ("integer", "number") else [])
    op = draw(st.sampled_from(ops))
    if op == "absent":
        return {"attr": attr, "op": op}
    pool = POOLS[kind]
    if op in MEMBERSHIP:
        value: Any = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    else:
        value = draw(st.sampled_from(pool))
    return {"attr": attr, "op": op, "value": value}


@st.composite
def rules(draw: st.DrawFn, index: int, dimensions: list[str]) -> dict[str, Any]:
    event_type = draw(st.sampled_from(sorted(ATTRS)))
    rule: dict[str, Any] = {
        "id": f"r{index}",
        "type": event_type,
        "when": draw(st.lists(conditions(event_type), max_size=2)),
        "points": draw(st.sampled_from([-20, -7.5, -3, -1, 0.5, 1, 2, 4, 10, 25])),
        "reason": f"rule {index}",
    }
    group = draw(st.sampled_from([None, *GROUPS]))
    if group is not None:
        rule["group"] = group
    numeric = [a for a, k in ATTRS[event_type].items() if k in ("integer", "number")]
    if draw(st.booleans()):
        rule["per"] = draw(st.sampled_from(numeric))
    if dimensions and draw(st.booleans()):
        rule["dimension"] = draw(st.sampled_from(dimensions))
    if draw(st.booleans()):
        rule["half_life"] = f"{draw(st.integers(1, 400))}d"
    can_lower = rule["points"] < 0 or "per" in rule
    if can_lower or draw(st.booleans()):
        rule["expires_after"] = draw(st.sampled_from(["1d", "3d", "2w", "30d", "90d", "1y", "2y"]))
    if can_lower and draw(st.integers(0, 3)) == 0:
        rule["cured_by"] = draw(st.sampled_from(sorted(ATTRS)))
        if draw(st.booleans()):
            rule["min_period"] = draw(st.sampled_from(["1d", "2w", "60d"]))
    if draw(st.booleans()):
        rule["cap"] = {
            "points": draw(st.sampled_from([1, 3, 5.5, 10, 40, -8])),
            "per": draw(st.sampled_from(["day", "month", "year"])),
        }
    return rule


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    dims: list[dict[str, Any]] = []
    for i in range(draw(st.integers(0, 2))):
        dim: dict[str, Any] = {"id": f"d{i}", "weight": draw(st.sampled_from([0.5, 1.0, 2.0]))}
        if draw(st.booleans()):
            dim["min"] = draw(st.sampled_from([-30.0, -5.0, 2.0]))
        if draw(st.booleans()):
            dim["max"] = draw(st.sampled_from([3.0, 20.0, 60.0]))
        if "min" in dim and "max" in dim and dim["min"] > dim["max"]:
            dim["min"], dim["max"] = dim["max"], dim["min"]
        dims.append(dim)
    names = [d["id"] for d in dims]
    count = draw(st.integers(1, 5))
    return Policy.model_validate(
        {
            "credence": 1,
            "name": "generated",
            "version": "1",
            "purpose": "property test",
            "scale": {"base": 500, "min": 400, "max": 600},
            "dimensions": dims,
            "event_types": [
                {"id": t, "context": "testing", "attributes": a, "providers": ["p1", "p2"]}
                for t, a in ATTRS.items()
            ],
            "rules": [draw(rules(i, names)) for i in range(count)],
            "tiers": [
                {"id": "high", "min": 550},
                {"id": "mid", "min": 500},
                {"id": "low", "min": 400},
            ],
        }
    )


def tiny_policy(rules: list[dict[str, Any]] | None = None) -> Policy:
    """A small fixed policy over the generated event types."""
    return Policy.model_validate(
        {
            "credence": 1,
            "name": "small",
            "version": "1",
            "purpose": "test",
            "scale": {"base": 500, "min": 400, "max": 600},
            "event_types": [
                {"id": t, "context": "c", "attributes": a, "providers": ["p1", "p2"]}
                for t, a in ATTRS.items()
            ],
            "rules": rules or [{"id": "r", "type": "ev.a", "points": 10, "reason": "x"}],
            "tiers": [{"id": "t", "min": 400}],
        }
    )


@st.composite
def attributes(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for attr, kind in sorted(ATTRS[event_type].items()):
        if draw(st.integers(0, 4)) > 0:  # absent one time in five
            found[attr] = draw(st.sampled_from(POOLS[kind]))
    return found


@st.composite
def subject_records(draw: st.DrawFn, subject: int) -> list[Record]:
    out: list[Record] = []
    count = draw(st.integers(0, 14))
    for j in range(count):
        provider = draw(st.sampled_from(["p1", "p2"]))
        # Few distinct times, so ties in occurred_at are common.
        when = T0 + draw(st.sampled_from([0, 1, 2, 3, 7, 40, 200, 900, 1500, 2500, 4000])) * STEP
        retracts = None
        if out and draw(st.integers(0, 5)) == 0:
            target = draw(st.sampled_from(out))
            retracts = draw(st.sampled_from([target.provider_event_id, "missing"]))
        event_type = draw(st.sampled_from(sorted(ATTRS)))
        out.append(
            Record(
                provider=provider,
                provider_event_id=f"s{subject}e{j}",
                type=event_type if retracts is None else "ev.a",
                occurred_at=when,
                attributes=draw(attributes(event_type)),
                retracts=retracts,
            )
        )
    return out


@dataclass(frozen=True)
class Case:
    """One generated scenario: a compiled policy, each subject's records, an as-of time."""

    policy: CompiledPolicy
    subjects: dict[int, list[Record]]
    as_of: int

    def rows(self) -> list[tuple[int, Record]]:
        return [(key, r) for key, records in self.subjects.items() for r in records]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    compiled = compile_policy(draw(policies()))
    count = draw(st.integers(1, 5))
    subjects = {key: draw(subject_records(key)) for key in range(1, count + 1)}
    times = [r.occurred_at for rs in subjects.values() for r in rs]
    expiries = [r.expires_us for r in compiled.rules if r.expires_us is not None]
    choices = [T0 + 4000 * STEP + DAY_US, T0 + 10 * STEP]
    if times:
        choices += times
        # Exactly at an expiry boundary, and one microsecond either side.
        choices += [t + e + d for t in times[:3] for e in expiries[:2] for d in (-1, 0, 1)]
    as_of = draw(st.sampled_from(choices))
    return Case(compiled, subjects, as_of)


def expected(case: Case) -> dict[int, dict[str, Any]]:
    """The online engine's answer for every subject that has a record."""
    out = {}
    for key, records in case.subjects.items():
        if not records:
            continue
        o = score(case.policy, records, as_of=case.as_of)
        out[key] = {"score": o.score, "raw": o.raw, "tier": o.tier, "dimensions": o.dimensions}
    return out


def assert_agrees(case: Case, rows: list[dict[str, Any]]) -> None:
    """Batch rows equal the online outcomes: score and tier exactly, numbers within 1e-6."""
    want = expected(case)
    got = {row["subject_key"]: row for row in rows}
    assert set(got) == set(want)
    for key, outcome in want.items():
        row = got[key]
        assert row["score"] == outcome["score"], (key, row, outcome)
        assert row["tier"] == outcome["tier"], (key, row, outcome)
        assert abs(row["raw"] - outcome["raw"]) <= 1e-6, (key, row, outcome)
        for dim, value in outcome["dimensions"].items():
            assert abs(row["dim_" + dim] - value) <= 1e-6, (key, dim, row, outcome)
