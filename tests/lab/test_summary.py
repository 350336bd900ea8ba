"""The SQL backtest report equals ``compare``'s, and ``sql_holds`` equals ``holds``.

Generated policies bring entitlements and lists with every condition form
(tiers, scores, dimensions, lists of earlier lists, ``all``/``any`` nested),
lists for some subject kinds only, rule groups, caps and retractions (from
the batch strategies), and subjects with no records or no known kind.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credence.batch.export import records_table
from credence.engine import CompiledPolicy, compile_policy
from credence.engine.entitlements import holds, list_memberships, sql_holds, sql_list_memberships
from credence.lab.backtest import compare
from credence.lab.runs import run_policies, union_attributes
from credence.lab.summary import summarise
from credence.policy.model import EntitlementCondition, Policy
from tests.batch.batch_strategies import Case, cases, policies

TIERS = ["high", "mid", "low"]
SCORES = [399, 450, 480.5, 500, 520, 550, 600]
LEVELS = [-5.0, 0.0, 2.5, 10.0, 1e-7]
KINDS = ["person", "organization"]


def leaves(dimensions: list[str], lists: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    options: list[st.SearchStrategy[dict[str, Any]]] = [
        st.builds(lambda t: {"tier_at_least": t}, st.sampled_from(TIERS)),
        st.builds(lambda s: {"score_below": s}, st.sampled_from(SCORES)),
        st.builds(lambda s: {"score_at_least": s}, st.sampled_from(SCORES)),
        st.builds(
            lambda d, side, v: {"dimension": d, side: v},
            st.sampled_from(dimensions),
            st.sampled_from(["below", "at_least"]),
            st.sampled_from(LEVELS),
        ),
    ]
    if lists:
        options.append(st.builds(lambda x: {"on_list": x}, st.sampled_from(lists)))
    return st.one_of(options)


def outcome_conditions(dimensions: list[str], lists: list[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves(dimensions, lists),
        lambda inner: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        ),
        max_leaves=5,
    )


@st.composite
def with_outcomes(draw: st.DrawFn, policy: Policy, version: str = "1") -> CompiledPolicy:
    """``policy`` with generated lists and entitlements (ids from small pools, so two
    policies share some and not others)."""
    data = policy.model_dump(mode="json", exclude_none=True)
    dims = [d["id"] for d in data.get("dimensions", [])] + ["general"]
    lists: list[dict[str, Any]] = []
    for i in range(draw(st.integers(0, 3))):
        lists.append(
            {
                "id": f"l{i}",
                "kind": draw(st.sampled_from(["redlist", "blacklist"])),
                # Conditions may name any list: later ones and themselves are not yet held.
                "when": draw(outcome_conditions(dims, ["l0", "l1", "l2"])),
                "subject_kinds": draw(st.lists(st.sampled_from(KINDS), unique=True)),
                "reason": "generated",
            }
        )
    entitlements: list[dict[str, Any]] = []
    for e in draw(st.lists(st.sampled_from(["e0", "e1", "e2", "e3"]), unique=True, max_size=4)):
        benefit = draw(st.booleans())
        entry: dict[str, Any] = {
            "id": e,
            "kind": "benefit" if benefit else "restriction",
            "context": "testing",
            "when": draw(outcome_conditions(dims, [x["id"] for x in lists])),
        }
        if not benefit:
            entry |= {
                "notice_days": 14,
                "max_duration": "1y",
                "legal_basis": "test terms",
                "reason": "generated",
            }
        entitlements.append(entry)
    data["lists"] = lists
    data["entitlements"] = entitlements
    data["version"] = version
    return compile_policy(Policy.model_validate(data))


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def outcome_rows(draw: st.DrawFn, policy: CompiledPolicy) -> list[dict[str, Any]]:
    values = LEVELS + [-30.0, 3.0, 60.0]
    return [
        {
            # Scores on and beside every threshold, where < and <= part.
            "score": draw(
                st.sampled_from([399, 450, 480, 481, 500, 520, 550, 600]) | st.integers(380, 620)
            ),
            "tier_rank": draw(st.integers(0, len(policy.tier_ids))),
            "kind": draw(st.sampled_from([*KINDS, None])),
            **{f"dim_{d}": draw(st.sampled_from(values)) for d in policy.dimension_ids},
        }
        for _ in range(draw(st.integers(1, 8)))
    ]


@FAST
@given(st.data())
def test_sql_holds_agrees_with_holds(data: st.DataObject) -> None:
    policy = data.draw(with_outcomes(data.draw(policies())))
    rows = data.draw(outcome_rows(policy))
    dims = {d: f'"dim_{d}"' for d in policy.dimension_ids}
    lists = sql_list_memberships(
        policy, score="score", tier_rank="tier_rank", dimensions=dims, subject_kind="kind"
    )
    tests = [
        sql_holds(
            e.when, policy, score="score", tier_rank="tier_rank", dimensions=dims, lists=lists
        )
        for e in policy.policy.entitlements
    ] + list(lists.values())
    con = duckdb.connect()
    con.register("t", pa.Table.from_pylist(rows))
    select = ", ".join([f"{t} AS c{i}" for i, t in enumerate(tests)] or ["1"])
    got = con.execute(f"SELECT {select} FROM t").fetchall()
    for row, answer in zip(rows, got, strict=True):
        values = {d: row[f"dim_{d}"] for d in policy.dimension_ids}
        members = list_memberships(
            policy, row["score"], row["tier_rank"], values, subject_kind=row["kind"]
        )
        want = [
            holds(
                e.when,
                policy,
                score=row["score"],
                tier_rank=row["tier_rank"],
                dimensions=values,
                lists=members,
            )
            for e in policy.policy.entitlements
        ] + [lst.id in members for lst in policy.lists]
        if tests:
            assert list(answer) == want, (row, tests)


def assert_same_report(fast: dict[str, Any], slow: dict[str, Any]) -> None:
    """Equal reports; rule totals (float sums in another order) within 1e-6."""
    assert {k: v for k, v in fast.items() if k != "rules"} == {
        k: v for k, v in slow.items() if k != "rules"
    }
    assert [r["id"] for r in fast["rules"]] == [r["id"] for r in slow["rules"]]
    for f, s in zip(fast["rules"], slow["rules"], strict=True):
        for part in ("before", "after", "change"):
            want = s[part] or 0.0
            assert abs((f[part] or 0.0) - want) <= 1e-6 * max(1.0, abs(want)), (part, f, s)
        assert (f["before"] is None) == (s["before"] is None)
        assert (f["after"] is None) == (s["after"] is None)


@st.composite
def backtests(draw: st.DrawFn) -> tuple[Case, list[CompiledPolicy], dict[int, str]]:
    case = draw(cases())
    pair = [
        draw(with_outcomes(case.policy.policy)),
        draw(with_outcomes(draw(policies()), version="2")),
    ]
    # Some subjects of each kind, some of no known kind.
    kinds = {
        key: kind
        for key in case.subjects
        if (kind := draw(st.sampled_from([*KINDS, None]))) is not None
    }
    return case, pair, kinds


@FAST
@given(backtests(), st.booleans())
def test_the_sql_report_is_the_report_compare_writes(
    backtest: tuple[Case, list[CompiledPolicy], dict[int, str]], joint: bool
) -> None:
    case, pair, kinds = backtest
    table = records_table(case.rows(), union_attributes(pair))
    before, after = run_policies(pair, table, as_of=case.as_of, kinds=kinds)
    slow = compare(before, after, as_of=case.as_of).report
    fast = summarise(pair[0], pair[1], table, as_of=case.as_of, kinds=kinds, joint=joint)
    assert_same_report(fast, slow)


@FAST
@given(cases())
def test_a_policy_against_itself_in_sql_changes_nothing(case: Case) -> None:
    policy = case.policy
    table = records_table(case.rows(), union_attributes([policy]))
    report = summarise(policy, policy, table, as_of=case.as_of, kinds={})
    n = report["subjects"]
    assert n == sum(1 for records in case.subjects.values() if records)
    assert report["score_change"]["unchanged"] == n
    assert report["harmed"] == {"subjects": 0, "by_entitlement": 0, "tier_lowered": 0}


def test_an_empty_ledger_gives_an_empty_report() -> None:
    from tests.batch.batch_strategies import tiny_policy

    policy = compile_policy(tiny_policy())
    table = records_table([], union_attributes([policy]))
    report = summarise(policy, policy, table, as_of=0, kinds={})
    assert report["subjects"] == 0
    assert report["score_change"]["histogram"] == {"edges": [], "counts": []}
    assert report["rules"] == [{"id": "r", "before": 0.0, "after": 0.0, "change": 0.0}]


def test_sql_holds_compares_scores_as_python_does() -> None:
    policy = compile_policy(_scored_policy())
    condition = EntitlementCondition(score_below=480.5)
    sql = sql_holds(condition, policy, score="s", tier_rank="0", dimensions={}, lists={})
    con = duckdb.connect()
    got = [con.execute(f"SELECT {sql} FROM (SELECT {s} AS s)").fetchone() for s in (480, 481)]
    assert got == [(True,), (False,)]


def _scored_policy() -> Policy:
    from tests.batch.batch_strategies import tiny_policy

    return tiny_policy()
