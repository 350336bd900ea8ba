"""The DuckDB batch plan agrees with the online engine, subject by subject."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.batch.batch_strategies import ATTRS, POOLS, T0, Case, assert_agrees, cases, tiny_policy

pytest.importorskip("duckdb")

from credence.batch.duckdb_runner import run_duckdb
from credence.batch.export import records_table
from credence.engine import compile_policy
from credence.engine.conditions import python_predicate, sql_predicate
from credence.engine.plan import build_plan
from credence.errors import PlanError
from credence.policy.model import AttrType, Condition, Policy
from credence.types import DAY_US, Record


def run_case(case: Case) -> list[dict[str, Any]]:
    plan = build_plan(case.policy, as_of=case.as_of)
    table = records_table(case.rows(), plan.attributes)
    return list(run_duckdb(plan, table, threads=1).to_pylist())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_batch_equals_online(case: Case) -> None:
    assert_agrees(case, run_case(case))


@st.composite
def operator_cases(draw: st.DrawFn) -> tuple[Condition, AttrType, list[Any]]:
    kind = AttrType(draw(st.sampled_from(["integer", "number", "string", "boolean"])))
    ops = ["==", "!=", "in", "not_in", "absent"]
    if kind in (AttrType.INTEGER, AttrType.NUMBER):
        ops += ["<", "<=", ">", ">="]
    op = draw(st.sampled_from(ops))
    pool = POOLS[kind.value]
    if kind is AttrType.INTEGER:
        values = st.integers(-3, 3)
    elif kind is AttrType.NUMBER:
        values = st.one_of(st.sampled_from(pool), st.floats(-5, 5, allow_nan=False))
    elif kind is AttrType.STRING:
        values = st.one_of(st.sampled_from(pool), st.text(max_size=3))
    else:
        values = st.booleans()
    target: Any = (
        draw(st.lists(values, min_size=1, max_size=3)) if op in ("in", "not_in") else draw(values)
    )
    cells = draw(st.lists(st.one_of(st.none(), values), min_size=1, max_size=8))
    if op == "absent":
        return Condition(attr="v", op=op), kind, cells
    return Condition(attr="v", op=op, value=target), kind, cells


@settings(max_examples=300, deadline=None)
@given(operator_cases())
def test_each_operator_sql_form_agrees_with_python_form(
    example: tuple[Condition, AttrType, list[Any]],
) -> None:
    import duckdb
    import pyarrow as pa

    from credence.batch.export import ARROW_TYPES

    condition, kind, cells = example
    typed = [float(c) if kind is AttrType.NUMBER and c is not None else c for c in cells]
    table = pa.table({"v": pa.array(typed, type=ARROW_TYPES[kind])})
    con = duckdb.connect()
    con.register("t", table)
    sql = f"SELECT {sql_predicate(condition, kind, 'v')} FROM t"
    got = [row[0] for row in con.execute(sql).fetchall()]
    predicate = python_predicate(condition, kind)
    want = [predicate({} if c is None else {"v": c}) for c in cells]
    assert got == want, (sql, cells)


def test_conflicting_attribute_types_are_refused() -> None:
    policy = Policy.model_validate(
        {
            "credence": 1,
            "name": "clash",
            "version": "1",
            "purpose": "test",
            "scale": {"base": 0, "min": 0, "max": 10},
            "event_types": [
                {"id": "a", "context": "c", "attributes": {"k": "string"}, "providers": ["p"]},
                {"id": "b", "context": "c", "attributes": {"k": "integer"}, "providers": ["p"]},
            ],
            "rules": [{"id": "r", "type": "a", "points": 1, "reason": "x"}],
            "tiers": [{"id": "t", "min": 0}],
        }
    )
    with pytest.raises(PlanError, match="'k'"):
        build_plan(compile_policy(policy), as_of=0)


def test_retraction_withdraws_at_every_time_and_subject_without_counting_records_is_base() -> None:
    policy = compile_policy(
        Policy.model_validate(
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
                "rules": [{"id": "r", "type": "ev.a", "points": 10, "reason": "x"}],
                "tiers": [{"id": "t", "min": 400}],
            }
        )
    )
    rows = [
        (1, Record("p1", "e1", "ev.a", T0)),
        (1, Record("p1", "e2", "ev.a", T0 + 10 * DAY_US, retracts="e1")),  # later retraction
        (1, Record("p1", "e3", "ev.a", T0)),
        (2, Record("p2", "e9", "ev.a", T0 + 20 * DAY_US)),  # not yet occurred: base
    ]
    case = Case(policy, {1: [r for k, r in rows if k == 1], 2: [rows[3][1]]}, T0 + DAY_US)
    got = {r["subject_key"]: r for r in run_case(case)}
    assert got[1]["score"] == 510
    assert got[2]["score"] == 500
    assert_agrees(case, list(got.values()))


def test_unknown_dialect_is_refused() -> None:
    case_policy = compile_policy(
        Policy.model_validate(
            {
                "credence": 1,
                "name": "small",
                "version": "1",
                "purpose": "test",
                "scale": {"base": 0, "min": 0, "max": 1},
                "event_types": [{"id": "a", "context": "c", "providers": ["p"]}],
                "rules": [{"id": "r", "type": "a", "points": 1, "reason": "x"}],
                "tiers": [{"id": "t", "min": 0}],
            }
        )
    )
    with pytest.raises(PlanError):
        build_plan(case_policy, as_of=0, dialect="oracle")  # type: ignore[arg-type]


def test_a_subject_whose_records_all_withdraw_each_other_still_appears_at_base() -> None:
    policy = compile_policy(tiny_policy())
    records = [
        Record("p1", "e1", "ev.a", T0, retracts="e2"),
        Record("p1", "e2", "ev.a", T0, retracts="e1"),
    ]
    case = Case(policy, {7: records}, T0 + DAY_US)
    rows = run_case(case)
    assert [(r["subject_key"], r["score"]) for r in rows] == [(7, 500)]
    assert_agrees(case, rows)


def test_the_plan_without_retractions_has_no_withdrawn_join() -> None:
    plan = build_plan(compile_policy(tiny_policy()), as_of=T0)
    assert "withdrawn" in plan.sql
    assert "withdrawn" not in plan.unretracted_sql
