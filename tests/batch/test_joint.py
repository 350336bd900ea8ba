"""The joint plan scores each policy as its own plan does, and as the online engine does."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings

from credence.batch.export import records_table
from credence.engine import compile_policy, score
from credence.engine.plan import joint_sql
from credence.errors import PlanError
from credence.lab.runs import union_attributes
from credence.policy.model import Policy
from tests.batch.batch_strategies import Case, assert_agrees, cases, policies, tiny_policy


def joint_rows(case: Case, pair: list[Any]) -> list[dict[str, Any]]:
    con = duckdb.connect()
    con.execute("SET threads TO 1")
    con.register("records", records_table(case.rows(), union_attributes(pair)))
    cursor = con.execute(joint_sql(pair, as_of=case.as_of))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), policies())
def test_each_policy_of_a_joint_plan_scores_as_online(case: Case, other: Policy) -> None:
    pair = [case.policy, compile_policy(other)]
    rows = joint_rows(case, pair)
    for j, policy in enumerate(pair):
        own = Case(policy, case.subjects, case.as_of)
        prefix = f"p{j}_"
        mine = [
            {"subject_key": r["subject_key"]}
            | {k[len(prefix) :]: v for k, v in r.items() if k.startswith(prefix)}
            for r in rows
        ]
        assert_agrees(own, mine)
        # Each rule's column is the subject's contribution from it, as Outcome.by_rule has it.
        for row in mine:
            records = case.subjects[row["subject_key"]]
            outcome = score(policy, records, as_of=case.as_of)
            for r, (up, _, down, _) in zip(policy.rules, outcome.by_rule, strict=True):
                want = up + down
                assert abs(row[f"rule_{r.index}"] - want) <= 1e-6 * max(1.0, abs(want)), r.id


def test_a_joint_plan_refuses_event_types_declared_differently() -> None:
    one = compile_policy(tiny_policy())
    data = tiny_policy().model_dump(mode="json", exclude_none=True)
    data["event_types"][0]["attributes"] = {"n": "string"}
    data["rules"] = [{"id": "r", "type": "ev.b", "points": 1, "reason": "x"}]
    other = compile_policy(Policy.model_validate(data))
    with pytest.raises(PlanError, match="declares its attributes differently"):
        joint_sql([one, other], as_of=0)
