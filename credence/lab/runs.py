"""Score every subject under several policies in one batch run, with entitlements and rule totals.

The records are read once (an export of the ledger, or an Arrow table for an
in-memory one) into one DuckDB connection, and each policy's batch plan runs
over that same input. Entitlements and lists are then evaluated per subject
with the engine's own ``holds`` and ``list_memberships``, so a backtest can
never disagree with a decision about what a score grants.

Per rule, the total contribution over every subject is what
``Outcome.by_rule`` sums, in dimension units after caps, expiry and decay,
before the dimension's bounds: each plan gives every subject's share of it
(``build_plan(rule_columns=True)``), from the same scan that scores them.

This per-subject form is what notices and fairness audits need;
``credence.lab.summary`` gives a backtest's report without it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from credence.engine import CompiledPolicy
from credence.engine.entitlements import holds, list_memberships
from credence.engine.plan import BatchPlan, attribute_columns, build_plan
from credence.errors import PlanError
from credence.policy.model import AttrType, EntitlementKind
from credence.service.ledger import Ledger

GRANTED, DENIED = "granted", "denied"
RESTRICTED, NOT_RESTRICTED = "restricted", "not_restricted"
ABSENT = "absent"  # the policy has no such entitlement


@dataclass(frozen=True, slots=True)
class SubjectOutcome:
    """One subject under one policy: score, tier, and each entitlement's outcome."""

    score: int
    tier: str | None
    outcomes: dict[str, str]  # entitlement id -> granted | denied | restricted | not_restricted


@dataclass(frozen=True, slots=True)
class PolicyRun:
    """Every subject under one policy, and each rule's total contribution."""

    policy: CompiledPolicy
    subjects: dict[int, SubjectOutcome]  # subject key -> outcome
    rule_totals: dict[str, float]  # rule id -> total contribution (dimension units)


def union_attributes(policies: Sequence[CompiledPolicy]) -> dict[str, AttrType]:
    """The attribute columns every policy's plan reads, together.

    Raises:
        PlanError: when two policies hold one attribute in incompatible types.
    """
    found: dict[str, AttrType] = {}
    numeric = {AttrType.INTEGER, AttrType.NUMBER}
    for policy in policies:
        for name, kind in attribute_columns(policy).items():
            seen = found.get(name)
            if seen is None or seen == kind:
                found[name] = kind
            elif {seen, kind} <= numeric:
                found[name] = AttrType.NUMBER
            else:
                raise PlanError(
                    f"attribute {name!r} is {seen} in one policy and {kind} in another; "
                    "one batch column cannot hold both",
                    suggestion="rename the attribute in the candidate",
                )
    return found


@contextmanager
def ledger_records(
    ledger: Ledger, attributes: Mapping[str, AttrType], *, scratch: Path | None = None
) -> Iterator[pa.Table | Path]:
    """The ledger's records as batch input: an export in a scratch directory, or an Arrow table."""
    from credence.batch.export import export_ledger, records_table
    from credence.service.disputes import ledger_struck_keys, without_struck

    struck = ledger_struck_keys(ledger)  # records disputes dropped count in no run
    if ledger.settings.db == "memory:":
        rows = [
            (row.key, record)
            for row, records in ledger.store.subjects_with_records()
            for record in without_struck(records, struck)
        ]
        yield records_table(rows, attributes)
        return
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix=".credence-lab-", dir=scratch))
    try:
        export_ledger(
            ledger.settings.db, directory / "records", attributes=attributes, leave_out=struck
        )
        yield directory / "records"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def subject_kinds(ledger: Ledger) -> dict[int, str]:
    """Every stored subject's kind (person or organization), by key."""
    return {row.key: row.kind for row in ledger.store.subjects()}


def run_policies(
    policies: Sequence[CompiledPolicy],
    source: pa.Table | Path,
    *,
    as_of: int,
    kinds: Mapping[int, str],
    engine: str = "duckdb",
    spark: Any | None = None,
) -> list[PolicyRun]:
    """Score every subject of ``source`` under each policy as of ``as_of``, over one input.

    With ``engine="spark"`` the batch plans run on Spark (``source`` must then
    be Parquet: a directory or an export).

    Raises:
        PlanError: when a policy cannot be run as a batch plan.
        InputFileError: when the records cannot be read.
        UsageError: for an unknown engine, or Arrow input on Spark.
    """
    import duckdb

    from credence.batch.duckdb_runner import connect, open_records
    from credence.errors import InputFileError, UsageError

    if engine not in ("duckdb", "spark"):
        raise UsageError(f"unknown engine {engine!r}", suggestion="use duckdb or spark")
    if engine == "spark" and not isinstance(source, Path):
        raise UsageError("the Spark engine reads Parquet: give an export directory")
    attributes = union_attributes(policies)
    plans = [build_plan(p, as_of=as_of, rule_columns=True) for p in policies]
    con = connect()
    try:
        # One input view holding every column any plan reads.
        open_records(con, replace(plans[0], attributes=attributes), source)
        retracting = bool(
            con.execute("SELECT 1 FROM records WHERE retracts IS NOT NULL LIMIT 1").fetchall()
        )
        runs = []
        for policy, plan in zip(policies, plans, strict=True):
            try:
                if engine == "spark":
                    from credence.batch.spark_runner import run_spark

                    assert isinstance(source, Path)
                    spark_plan = build_plan(policy, as_of=as_of, dialect="spark", rule_columns=True)
                    scores = run_spark(spark_plan, source, spark=spark)
                else:
                    chosen = plan.sql if retracting else plan.unretracted_sql
                    scores = con.sql(chosen).to_arrow_table()
            except duckdb.Error as e:
                raise InputFileError(f"the batch plan failed on this input: {e}") from e
            totals = rule_totals(policy, plan, scores)
            runs.append(PolicyRun(policy, outcomes(policy, scores, kinds), totals))
        return runs
    finally:
        con.close()


def rule_totals(policy: CompiledPolicy, plan: BatchPlan, scores: pa.Table) -> dict[str, float]:
    """Each rule's total contribution over every subject: the sum of the plan's rule columns."""
    import pyarrow.compute as pc

    by_index = {ix: pc.sum(scores.column(column)).as_py() for ix, column in plan.rules}
    return {r.id: float(by_index.get(r.index) or 0.0) for r in policy.rules}


def outcomes(
    policy: CompiledPolicy, scores: pa.Table, kinds: Mapping[int, str]
) -> dict[int, SubjectOutcome]:
    """Each scored subject's entitlements, by the engine's own conditions."""
    dims = policy.dimension_ids
    keys = scores.column("subject_key").to_pylist()
    score_list = scores.column("score").to_pylist()
    tier_list = scores.column("tier").to_pylist()
    dim_lists = [scores.column("dim_" + d).to_pylist() for d in dims]
    rank = {t: i for i, t in enumerate(policy.tier_ids)}
    none_rank = len(policy.tier_ids)
    ents = [
        (e.id, e.when, GRANTED if e.kind is EntitlementKind.BENEFIT else RESTRICTED)
        for e in policy.policy.entitlements
    ]
    opposite = {GRANTED: DENIED, RESTRICTED: NOT_RESTRICTED}
    has_lists = bool(policy.lists)
    no_lists: frozenset[str] = frozenset()
    result: dict[int, SubjectOutcome] = {}
    for i, key in enumerate(keys):
        score = int(score_list[i])
        tier = tier_list[i]
        tier_rank = none_rank if tier is None else rank.get(tier, none_rank)
        values = {d: float(column[i]) for d, column in zip(dims, dim_lists, strict=True)}
        lists = (
            list_memberships(policy, score, tier_rank, values, subject_kind=kinds.get(key))
            if has_lists
            else no_lists
        )
        found = {
            ent_id: (
                yes
                if holds(
                    when, policy, score=score, tier_rank=tier_rank, dimensions=values, lists=lists
                )
                else opposite[yes]
            )
            for ent_id, when, yes in ents
        }
        result[int(key)] = SubjectOutcome(score, tier, found)
    return result


def favourable(outcome: str) -> bool:
    """Whether an entitlement outcome is the one a subject would want (an absent one is neutral)."""
    return outcome in (GRANTED, NOT_RESTRICTED)


def worse(before: str, after: str) -> bool:
    """Whether moving from ``before`` to ``after`` harms the subject.

    Losing a benefit (granted to anything else) and gaining a restriction
    (anything else to restricted) harm; an absent entitlement neither grants
    nor restricts.
    """
    return (before == GRANTED and after != GRANTED) or (
        before != RESTRICTED and after == RESTRICTED
    )
