"""Rescoring from a pre-aggregate agrees with the online engine for every as-of in its window."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.batch.batch_strategies import T0, Case, assert_agrees, cases, tiny_policy

pytest.importorskip("duckdb")

from credence.batch.export import records_table
from credence.batch.preaggregate import (
    Amendment,
    build_preaggregate,
    read_preaggregate,
    rescore_preaggregate,
)
from credence.engine import compile_policy
from credence.engine.plan import attribute_columns
from credence.errors import PlanError, UsageError
from credence.types import DAY_US, Record

_OFFSETS = [0, 1, DAY_US, 30 * DAY_US, 400 * DAY_US]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.sampled_from(_OFFSETS), st.sampled_from(_OFFSETS))
def test_rescore_from_preaggregate_equals_online(
    tmp_path_factory: pytest.TempPathFactory, case: Case, before: int, after: int
) -> None:
    assume(not case.policy.cure_types)  # refused: see the test below
    out = tmp_path_factory.mktemp("pre") / "pre.parquet"
    table = records_table(case.rows(), attribute_columns(case.policy))
    build_preaggregate(
        case.policy,
        table,
        out,
        valid_from=case.as_of - before,
        valid_until=case.as_of + after,
        threads=1,
    )
    assert_agrees(case, rescore_preaggregate(case.policy, out, as_of=case.as_of).to_pylist())


def test_as_of_outside_the_window_and_another_policy_are_refused(tmp_path: Path) -> None:
    policy = compile_policy(tiny_policy())
    table = records_table([(1, Record("p1", "e1", "ev.a", T0))], attribute_columns(policy))
    out = tmp_path / "pre.parquet"
    build_preaggregate(policy, table, out, valid_from=T0, valid_until=T0 + DAY_US)
    assert rescore_preaggregate(policy, out, as_of=T0).column("score").to_pylist() == [510]
    with pytest.raises(UsageError, match="answers for"):
        rescore_preaggregate(policy, out, as_of=T0 + 2 * DAY_US)
    other = tiny_policy([{"id": "r", "type": "ev.a", "points": 5, "reason": "x"}])
    other = other.model_copy(update={"version": "2"})
    with pytest.raises(UsageError, match="built with policy"):
        rescore_preaggregate(compile_policy(other), out, as_of=T0)
    with pytest.raises(UsageError, match="exists"):
        build_preaggregate(policy, table, out, valid_from=T0, valid_until=T0)


def test_a_policy_with_early_cures_is_refused_not_approximated(tmp_path: Path) -> None:
    rule = {
        "id": "r",
        "type": "ev.a",
        "points": -5,
        "expires_after": "1y",
        "cured_by": "ev.b",
        "reason": "x",
    }
    policy = compile_policy(tiny_policy([rule]))
    table = records_table([(1, Record("p1", "e1", "ev.a", T0))], attribute_columns(policy))
    with pytest.raises(PlanError):
        build_preaggregate(policy, table, tmp_path / "p.parquet", valid_from=T0, valid_until=T0)


def test_leave_out_is_named_in_the_file_and_an_amendment_rebuilds_its_subjects(
    tmp_path: Path,
) -> None:
    rule = {"id": "r", "type": "ev.a", "points": -40, "reason": "x"}
    policy = compile_policy(tiny_policy([rule]))
    columns = attribute_columns(policy)
    records = [
        (1, Record("p1", "e1", "ev.a", T0 - DAY_US)),
        (1, Record("p1", "e2", "ev.a", T0 - DAY_US)),
        (2, Record("p1", "e3", "ev.a", T0 - DAY_US)),
        (3, Record("p1", "e4", "ev.a", T0 - DAY_US)),
    ]
    table = records_table(records, columns)
    out = tmp_path / "pre.parquet"
    built = build_preaggregate(
        policy, table, out, leave_out={(2, "p1", "e3")}, valid_from=T0, valid_until=T0 + DAY_US
    )
    assert read_preaggregate(out).struck == built.struck == {(2, "p1", "e3")}

    def scores(rows: list[dict[str, object]]) -> dict[object, object]:
        return {r["subject_key"]: r["score"] for r in rows}

    # Subject 2's only record is left out: like an export without it, no row.
    assert scores(rescore_preaggregate(policy, out, as_of=T0).to_pylist()) == {1: 420, 3: 460}
    # Subject 1's e1 and subject 3's only record are dropped since: rebuilt, subject 3 is gone.
    now = [(1, Record("p1", "e2", "ev.a", T0 - DAY_US))]
    amend = Amendment({1, 3}, records_table(now, columns))
    amended = rescore_preaggregate(policy, out, as_of=T0, amend=amend).to_pylist()
    fresh = tmp_path / "fresh.parquet"
    build_preaggregate(
        policy,
        records_table(now, columns),
        fresh,
        valid_from=T0,
        valid_until=T0 + DAY_US,
    )
    assert scores(amended) == {1: 460}
    assert amended == rescore_preaggregate(policy, fresh, as_of=T0).to_pylist()
