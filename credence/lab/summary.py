"""A backtest's report from SQL: outcomes, comparison and rule totals for every subject at once.

The fast path beside ``credence.lab.backtest.compare``, which it must equal
(a property test holds the two reports to each other). ``compare`` walks
every subject in Python; here both policies' batch plans run with their rule
columns, and one query over their results gives each entitlement's outcome
by ``engine.entitlements.sql_holds`` (the SQL form beside ``holds``) and
groups the subjects by what a report tells apart: tier before and after,
score change, and every entitlement's outcome before and after, with a count
and each rule's contribution summed per group. A few thousand groups stand
for any number of subjects, and ``report_from_groups`` turns them into the
same report ``compare`` writes, with the same definitions of harm.

The same query runs on DuckDB (over the two plans' results held as temporary
tables) and on Spark (over the plans' DataFrames, so Spark runs all of it as
one job).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from credence.engine import CompiledPolicy
from credence.engine.conditions import sql_literal
from credence.engine.entitlements import sql_holds, sql_list_memberships
from credence.engine.plan import BatchPlan, Dialect, build_plan, identifier, joint_sql
from credence.errors import PlanError
from credence.lab.backtest import (
    NO_TIER,
    _change,
    _entitlement_kinds,
    _median,
    _rank,
    _tier_order,
    histogram,
)
from credence.lab.runs import (
    ABSENT,
    DENIED,
    GRANTED,
    NOT_RESTRICTED,
    RESTRICTED,
    ledger_records,
    subject_kinds,
    union_attributes,
    worse,
)
from credence.policy.model import AttrType, EntitlementKind
from credence.service.ledger import Ledger
from credence.types import format_time

BEFORE, AFTER, KINDS = "backtest_before", "backtest_after", "backtest_kinds"


@dataclass(frozen=True, slots=True)
class Group:
    """Subjects alike in everything a backtest report counts, and their rule contributions."""

    tier_before: str
    tier_after: str
    change: int
    before: tuple[str, ...]  # each entitlement's outcome, in ``entitlement_ids`` order
    after: tuple[str, ...]
    subjects: int
    rules_before: dict[int, float]  # rule index -> summed contribution (absent: no subject)
    rules_after: dict[int, float]


def entitlement_ids(before: CompiledPolicy, after: CompiledPolicy) -> list[str]:
    """Every entitlement of either policy, the active one's first, as ``compare`` orders them."""
    return list(dict.fromkeys([*_entitlement_kinds(before), *_entitlement_kinds(after)]))


def _scored(
    policy: CompiledPolicy,
    relation: str,
    *,
    dialect: Dialect,
    kinds: str | None,
    ids: list[str],
    prefix: str,
) -> str:
    """One row per subject of a plan's result: score, tier, outcomes by id, rule columns."""

    def q(name: str) -> str:
        return identifier(prefix + name, dialect=dialect)

    n_tiers = len(policy.tier_ids)
    arms = " ".join(
        f"WHEN {sql_literal(t, AttrType.STRING)} THEN {i}" for i, t in enumerate(policy.tier_ids)
    )
    rank = f"CASE x.{q('tier')} {arms} ELSE {n_tiers} END" if arms else str(n_tiers)
    dims = {d: f"s.{q('dim_' + d)}" for d in policy.dimension_ids}
    score = f"s.{q('score')}"
    lists = sql_list_memberships(
        policy,
        score=score,
        tier_rank="s.tier_rank",
        dimensions=dims,
        subject_kind="k.kind" if kinds is not None else None,
    )
    # Each list test is inlined where it is used; the tier's rank is computed once, inside.
    outcome = {}
    for e in policy.policy.entitlements:
        yes, no = (
            (GRANTED, DENIED) if e.kind is EntitlementKind.BENEFIT else (RESTRICTED, NOT_RESTRICTED)
        )
        test = sql_holds(
            e.when, policy, score=score, tier_rank="s.tier_rank", dimensions=dims, lists=lists
        )
        outcome[e.id] = (
            f"CASE WHEN {test} THEN {sql_literal(yes, AttrType.STRING)} "
            f"ELSE {sql_literal(no, AttrType.STRING)} END"
        )
    columns = ["s.subject_key AS subject_key", f"{score} AS score", f"s.{q('tier')} AS tier"]
    columns += [
        f"{outcome[e]} AS o{i}"
        if e in outcome
        else f"{sql_literal(ABSENT, AttrType.STRING)} AS o{i}"
        for i, e in enumerate(ids)
    ]
    columns += [f"s.{q(f'rule_{r.index}')} AS r{r.index}" for r in policy.rules]
    join = f" LEFT JOIN {kinds} k ON k.subject_key = s.subject_key" if kinds is not None else ""
    inner = f"SELECT x.*, {rank} AS tier_rank FROM {relation} x"
    return f"SELECT {', '.join(columns)} FROM ({inner}) s{join}"


def summary_sql(
    before: CompiledPolicy,
    after: CompiledPolicy,
    *,
    dialect: Dialect = "duckdb",
    kinds: bool = False,
    before_relation: str = BEFORE,
    after_relation: str = AFTER,
    kinds_relation: str = KINDS,
    before_prefix: str = "",
    after_prefix: str = "",
) -> str:
    """SQL grouping the subjects of two plans' results (built with ``rule_columns=True``).

    Columns ``tb, ta, dscore, b0…, a0…, n`` and per rule ``rb<index>`` /
    ``ra<index>``: tiers (``(none)`` for none), score change, each
    entitlement's outcome in ``entitlement_ids`` order, the number of
    subjects, and the rules' contributions summed over them. With ``kinds``,
    ``kinds_relation(subject_key, kind)`` gives subjects' kinds for lists
    that apply to some kinds only (a subject missing from it: any kind).
    A prefix names each result's columns, as ``joint_sql`` does (``p0_``):
    then both relations may be the one joint result.
    """
    ids = entitlement_ids(before, after)
    kind_rel = kinds_relation if kinds else None
    none = sql_literal(NO_TIER, AttrType.STRING)
    absent = sql_literal(ABSENT, AttrType.STRING)
    b = _scored(
        before, before_relation, dialect=dialect, kinds=kind_rel, ids=ids, prefix=before_prefix
    )
    a = _scored(
        after, after_relation, dialect=dialect, kinds=kind_rel, ids=ids, prefix=after_prefix
    )
    keys = [
        f"COALESCE(b.tier, {none}) AS tb",
        f"COALESCE(a.tier, {none}) AS ta",
        "COALESCE(a.score, 0) - COALESCE(b.score, 0) AS dscore",
    ]
    keys += [f"COALESCE(b.o{i}, {absent}) AS b{i}" for i in range(len(ids))]
    keys += [f"COALESCE(a.o{i}, {absent}) AS a{i}" for i in range(len(ids))]
    carried = [f"b.r{r.index} AS rb{r.index}" for r in before.rules]
    carried += [f"a.r{r.index} AS ra{r.index}" for r in after.rules]
    group = ["tb", "ta", "dscore"] + [f"b{i}" for i in range(len(ids))]
    group += [f"a{i}" for i in range(len(ids))]
    sums = [f"SUM(rb{r.index}) AS rb{r.index}" for r in before.rules]
    sums += [f"SUM(ra{r.index}) AS ra{r.index}" for r in after.rules]
    return (
        f"WITH b AS ({b}),\na AS ({a}),\n"
        f"j AS (SELECT {', '.join(keys + carried)} FROM b FULL OUTER JOIN a "
        "ON a.subject_key = b.subject_key)\n"
        f"SELECT {', '.join(group + ['COUNT(*) AS n'] + sums)} FROM j GROUP BY {', '.join(group)}"
    )


def groups_from_rows(
    before: CompiledPolicy, after: CompiledPolicy, rows: Sequence[Mapping[str, Any]]
) -> list[Group]:
    """``summary_sql``'s rows as groups."""
    count = len(entitlement_ids(before, after))
    return [
        Group(
            tier_before=row["tb"],
            tier_after=row["ta"],
            change=int(row["dscore"]),
            before=tuple(row[f"b{i}"] for i in range(count)),
            after=tuple(row[f"a{i}"] for i in range(count)),
            subjects=int(row["n"]),
            rules_before={
                r.index: float(row[f"rb{r.index}"])
                for r in before.rules
                if row[f"rb{r.index}"] is not None
            },
            rules_after={
                r.index: float(row[f"ra{r.index}"])
                for r in after.rules
                if row[f"ra{r.index}"] is not None
            },
        )
        for row in rows
    ]


def _totals(policy: CompiledPolicy, groups: Sequence[Group], *, after: bool) -> dict[str, float]:
    by_index: dict[int, float] = {}
    for g in groups:
        for ix, value in (g.rules_after if after else g.rules_before).items():
            by_index[ix] = by_index.get(ix, 0.0) + value
    return {r.id: by_index.get(r.index, 0.0) for r in policy.rules}


def _median_of(counts: Counter[int]) -> float:
    n = sum(counts.values())
    if n == 0:
        return 0.0
    ordered = sorted(counts.items())

    def nth(k: int) -> int:
        seen = 0
        for value, c in ordered:
            seen += c
            if k < seen:
                return value
        raise AssertionError("k is below the count")  # pragma: no cover

    mid = n // 2
    return float(nth(mid)) if n % 2 else (nth(mid - 1) + nth(mid)) / 2


def _histogram_of(counts: Counter[int]) -> dict[str, list[float]]:
    if not counts:
        return histogram([])
    # The same bins as ``histogram`` over the expanded values, counted per distinct value.
    low, high = min(counts), max(counts)
    shape = histogram([low, high])
    edges = shape["edges"]
    width = int(edges[1] - edges[0]) if len(edges) > 1 else 1
    tally = [0] * (len(edges) - 1)
    for value, c in counts.items():
        tally[min((value - low) // width, len(tally) - 1)] += c
    return {"edges": edges, "counts": [float(c) for c in tally]}


def report_from_groups(
    before: CompiledPolicy, after: CompiledPolicy, groups: Sequence[Group], *, as_of: int
) -> dict[str, Any]:
    """The report ``compare`` writes for the subjects these groups stand for."""
    ids = entitlement_ids(before, after)
    n = sum(g.subjects for g in groups)
    rows = _tier_order(before, {g.tier_before for g in groups})
    columns = _tier_order(after, {g.tier_after for g in groups})
    matrix = [[0] * len(columns) for _ in rows]
    changes: Counter[int] = Counter()
    tally: dict[str, tuple[Counter[str], Counter[str]]] = {e: (Counter(), Counter()) for e in ids}
    adverse: Counter[str] = Counter()
    relieved: Counter[str] = Counter()
    harmed = tier_lowered = entitlement_harmed = 0
    for g in groups:
        k = g.subjects
        tb, ta = g.tier_before, g.tier_after
        matrix[rows.index(tb)][columns.index(ta)] += k
        changes[g.change] += k
        lowered = _rank(after, ta) > _rank(after, tb) and tb in after.tier_ids + (NO_TIER,)
        tier_lowered += k * lowered
        hit = False
        for e, ob, oa in zip(ids, g.before, g.after, strict=True):
            tally[e][0][ob] += k
            tally[e][1][oa] += k
            if worse(ob, oa):
                adverse[e] += k
                hit = True
            elif worse(oa, ob):
                relieved[e] += k
        entitlement_harmed += k * hit
        harmed += k * (lowered or hit)
    old_kinds, new_kinds = _entitlement_kinds(before), _entitlement_kinds(after)
    entitlements = [
        {
            "id": e,
            "kind_before": old_kinds.get(e, ABSENT),
            "kind_after": new_kinds.get(e, ABSENT),
            "before": dict(sorted((o, c) for o, c in tally[e][0].items() if c)),
            "after": dict(sorted((o, c) for o, c in tally[e][1].items() if c)),
            "newly_adverse": adverse[e],
            "newly_favourable": relieved[e],
        }
        for e in ids
    ]
    totals_before = _totals(before, groups, after=False)
    totals_after = _totals(after, groups, after=True)
    rule_ids = list(dict.fromkeys([*totals_before, *totals_after]))
    rules = [
        {
            "id": r,
            "before": totals_before.get(r),
            "after": totals_after.get(r),
            "change": _change(totals_before.get(r), totals_after.get(r)),
        }
        for r in rule_ids
    ]
    count_before: Counter[str] = Counter()
    count_after: Counter[str] = Counter()
    for g in groups:
        count_before[g.tier_before] += g.subjects
        count_after[g.tier_after] += g.subjects
    total_change = sum(v * c for v, c in changes.items())
    return {
        "active": {"name": before.policy.name, "version": before.policy.version},
        "candidate": {"name": after.policy.name, "version": after.policy.version},
        "as_of": format_time(as_of),
        "subjects": n,
        "tiers": {
            "before": [[t, count_before.get(t, 0)] for t in rows],
            "after": [[t, count_after.get(t, 0)] for t in columns],
        },
        "migration": {"rows": rows, "columns": columns, "counts": matrix},
        "score_change": {
            "mean": (total_change / n) if n else 0.0,
            "median": _median_of(changes) if changes else _median([]),
            "min": min(changes, default=0),
            "max": max(changes, default=0),
            "raised": sum(c for v, c in changes.items() if v > 0),
            "lowered": sum(c for v, c in changes.items() if v < 0),
            "unchanged": changes.get(0, 0),
            "histogram": _histogram_of(changes),
        },
        "entitlements": entitlements,
        "rules": rules,
        "harmed": {
            "subjects": harmed,
            "by_entitlement": entitlement_harmed,
            "tier_lowered": tier_lowered,
        },
    }


def _kinds_table(kinds: Mapping[int, str]) -> pa.Table:
    return pa.table(
        {
            "subject_key": pa.array(list(kinds), pa.int64()),
            "kind": pa.array(list(kinds.values()), pa.string()),
        }
    )


def _uses_kinds(policies: Sequence[CompiledPolicy], kinds: Mapping[int, str]) -> bool:
    return bool(kinds) and any(p.lists for p in policies)


JOINT = "backtest_joint"


@dataclass(frozen=True, slots=True)
class _Scoring:
    """The plans' results a summary reads: ``(relation, sql, sql without retractions)``."""

    relations: list[tuple[str, str, str]]
    summary: str


def _scoring(
    before: CompiledPolicy,
    after: CompiledPolicy,
    *,
    as_of: int,
    dialect: Dialect,
    kinds: bool,
    joint: bool,
) -> _Scoring:
    if joint:
        try:
            sql, unretracted = (
                joint_sql([before, after], as_of=as_of, dialect=dialect, retractions=flag)
                for flag in (True, False)
            )
        except PlanError:
            # Event types declared differently: each policy's own plan can still run.
            pass
        else:
            summary = summary_sql(
                before,
                after,
                dialect=dialect,
                kinds=kinds,
                before_relation=JOINT,
                after_relation=JOINT,
                before_prefix="p0_",
                after_prefix="p1_",
            )
            return _Scoring([(JOINT, sql, unretracted)], summary)
    relations = []
    for relation, policy in ((BEFORE, before), (AFTER, after)):
        plan = build_plan(policy, as_of=as_of, dialect=dialect, rule_columns=True)
        relations.append((relation, plan.sql, plan.unretracted_sql))
    return _Scoring(relations, summary_sql(before, after, dialect=dialect, kinds=kinds))


def summarise(
    before: CompiledPolicy,
    after: CompiledPolicy,
    source: pa.Table | Path,
    *,
    as_of: int,
    kinds: Mapping[int, str],
    engine: str = "duckdb",
    spark: Any | None = None,
    joint: bool = True,
) -> dict[str, Any]:
    """The backtest report of ``after`` against ``before`` over ``source``, computed in SQL.

    With ``joint`` (the default) both policies are scored by one joint plan,
    one read of the records for both; when they declare an event type
    differently, or with ``joint=False``, by each policy's own plan.

    Raises:
        PlanError: when a policy cannot be run as a batch plan.
        InputFileError: when the records cannot be read.
        UsageError: for an unknown engine, or Arrow input on Spark.
    """
    from credence.errors import UsageError

    if engine not in ("duckdb", "spark"):
        raise UsageError(f"unknown engine {engine!r}", suggestion="use duckdb or spark")
    if engine == "spark" and not isinstance(source, Path):
        raise UsageError("the Spark engine reads Parquet: give an export directory")
    with_kinds = _uses_kinds([before, after], kinds)
    scoring = _scoring(
        before,
        after,
        as_of=as_of,
        dialect=engine,  # type: ignore[arg-type]
        kinds=with_kinds,
        joint=joint,
    )
    attributes = union_attributes([before, after])
    # The input view: every column either policy reads.
    reader = replace(build_plan(before, as_of=as_of, dialect=engine), attributes=attributes)  # type: ignore[arg-type]
    if engine == "spark":
        assert isinstance(source, Path)
        rows = _on_spark(reader, source, scoring, kinds=kinds if with_kinds else {}, spark=spark)
    else:
        rows = _on_duckdb(reader, source, scoring, kinds=kinds if with_kinds else {})
    groups = groups_from_rows(before, after, rows)
    return report_from_groups(before, after, groups, as_of=as_of)


def _on_duckdb(
    reader: BatchPlan, source: pa.Table | Path, scoring: _Scoring, *, kinds: Mapping[int, str]
) -> list[dict[str, Any]]:
    import duckdb

    from credence.batch.duckdb_runner import connect, open_records
    from credence.errors import InputFileError

    con = connect()
    try:
        open_records(con, reader, source)
        retracting = bool(
            con.execute("SELECT 1 FROM records WHERE retracts IS NOT NULL LIMIT 1").fetchall()
        )
        if kinds:
            con.register(KINDS, _kinds_table(kinds))
        try:
            for relation, sql, unretracted in scoring.relations:
                chosen = sql if retracting else unretracted
                con.execute(f"CREATE TEMP TABLE {relation} AS {chosen}")
            cursor = con.execute(scoring.summary)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except duckdb.Error as e:
            raise InputFileError(f"the batch plan failed on this input: {e}") from e
    finally:
        con.close()


def _on_spark(
    reader: BatchPlan,
    source: Path,
    scoring: _Scoring,
    *,
    kinds: Mapping[int, str],
    spark: Any | None,
) -> list[dict[str, Any]]:
    from credence.batch.spark_runner import plan_frame, spark_session

    session = spark if spark is not None else spark_session()
    for relation, sql, unretracted in scoring.relations:
        # Lazy frames: Spark runs the plans and the summary as one job, at collect().
        plan = replace(reader, sql=sql, unretracted_sql=unretracted)
        plan_frame(plan, source, spark=session).createOrReplaceTempView(relation)
    if kinds:
        session.createDataFrame(
            list(kinds.items()), schema="subject_key bigint, kind string"
        ).createOrReplaceTempView(KINDS)
    joint = any(relation == JOINT for relation, _, _ in scoring.relations)
    # Spark 4's adaptive execution fails to ship the joint plan's stages in local mode
    # (a ClassCastException deserialising a UnionExec); it runs with it off, as before.
    adaptive = session.conf.get("spark.sql.adaptive.enabled")
    if joint:
        session.conf.set("spark.sql.adaptive.enabled", "false")
    try:
        return [row.asDict() for row in session.sql(scoring.summary).collect()]
    finally:
        if joint:
            session.conf.set("spark.sql.adaptive.enabled", adaptive)


def backtest_report(
    ledger: Ledger,
    candidate: CompiledPolicy,
    *,
    as_of: int,
    active: CompiledPolicy | None = None,
    scratch: Path | None = None,
) -> dict[str, Any]:
    """The backtest report of ``candidate`` against the active policy, over the ledger's records.

    ``credence.lab.backtest.backtest`` gives the same report with every
    subject's outcomes (for notices and audits); this gives the report alone.

    Raises:
        PlanError: when either policy cannot be run as a batch plan.
        StoreUnavailable, InputFileError: when the records cannot be read.
    """
    current = active or ledger.policy
    attributes = union_attributes([current, candidate])
    kinds = subject_kinds(ledger)
    with ledger_records(ledger, attributes, scratch=scratch) as source:
        return summarise(current, candidate, source, as_of=as_of, kinds=kinds)
