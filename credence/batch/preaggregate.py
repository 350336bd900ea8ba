"""Pre-aggregates: score every subject for any as-of in a window, without the records.

Nightly reruns score the same records at an as-of that moves a day at a
time. Most of the work (withdrawn records, first hit, caps) does not depend
on the as-of, and decay factorises:

    Σ cᵢ · 2^(−(A − tᵢ)/h) = 2^(−(A − F)/h) · Σ cᵢ · 2^(−(F − tᵢ)/h)

So, for a validity window ``[F, U]`` (``valid_from``, ``valid_until``), a
record with capped points ``c`` at ``t`` falls into one of three kinds:

- dead throughout (``t <= F`` and expired by ``F``): dropped;
- alive throughout (``t <= F`` and no expiry, or expiring after ``U``):
  summed per (subject, dimension, decay rate) as ``c · exp(rate · (F − t))``;
- at the edge (occurs after ``F``, or expires inside the window): kept as
  itself (records sharing subject, dimension, rate, time and expiry summed),
  with its time and expiry, so the as-of tests stay exact to the microsecond.

Rescoring at ``A`` in ``[F, U]`` is then one ``GROUP BY subject`` over that
table: ``v · exp(rate · (A − t))`` for the rows that have occurred and not
expired, then steps 7-8 of the plan. Capped points come from
``plan.capped_records_sql``: a record's capped points depend only on records
before it, so they hold for every as-of. The property test holds rescoring
from a pre-aggregate to the online fold, like the plan.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from credence.batch.duckdb_runner import connect, open_records
from credence.engine.compiled import CompiledPolicy
from credence.engine.plan import build_plan, capped_records_sql, finish_sql
from credence.errors import InputFileError, PlanError, UsageError
from credence.types import MICROS

_FROM = b"credence.valid_from"
_UNTIL = b"credence.valid_until"
_POLICY = b"credence.policy"
_STRUCK = b"credence.struck"

# A record a dispute dropped: (subject_key, provider, provider_event_id).
Struck = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class Preaggregate:
    """A pre-aggregate on disk and the as-of times it can answer for."""

    path: Path
    valid_from: int
    valid_until: int
    policy: str  # "name version" of the policy it was built with
    rows: int
    struck: frozenset[Struck] = frozenset()  # the dropped records it was built without


@dataclass(frozen=True, slots=True)
class Amendment:
    """Subjects whose rows a rescore rebuilds from ``records`` (their records now, plan input)."""

    subjects: Collection[int]
    records: pa.Table


def _policy_id(policy: CompiledPolicy) -> str:
    return f"{policy.policy.name} {policy.policy.version}"


def _cases(values: dict[int, str], default: str) -> str:
    arms = " ".join(f"WHEN {i} THEN {v}" for i, v in values.items())
    return f"CASE rule_ix {arms} ELSE {default} END" if arms else default


def preaggregate_sql(
    policy: CompiledPolicy, *, valid_from: int, valid_until: int, relation: str = "records"
) -> str:
    """DuckDB SQL building the pre-aggregate of ``relation`` for as-of times in the window.

    Raises:
        UsageError: when the window is empty.
    """
    if valid_until < valid_from:
        raise UsageError("valid_until is before valid_from")
    if policy.cure_types:
        # A cure arriving inside the window ends earlier records' effect: not a fixed expiry.
        raise PlanError(
            "pre-aggregates do not express early cures (cured_by)",
            suggestion="rescore from the records instead",
        )
    f, u = valid_from, valid_until
    rules = policy.rules
    dim = _cases({r.index: str(r.dimension) for r in rules}, "0")
    # The online fold's decay constant, per µs: 0.5 ** (age / h) = exp(age * rate).
    rate = _cases(
        {
            r.index: f"CAST({-math.log(2) / (r.half_life_s * MICROS)!r} AS DOUBLE)"
            for r in rules
            if r.half_life_s
        },
        "CAST(0.0 AS DOUBLE)",
    )
    life = _cases(
        {r.index: str(r.expires_us) for r in rules if r.expires_us is not None},
        "CAST(NULL AS BIGINT)",
    )
    edge = (
        f"capped IS NOT NULL AND (t > {f} OR (life IS NOT NULL AND t + life > {f} "
        f"AND t + life <= {u}))"
    )
    dead = f"capped IS NULL OR (life IS NOT NULL AND t + life <= {f})"
    return (
        f"WITH capped AS ({capped_records_sql(policy, relation=relation)}),\n"
        f"kinds AS (SELECT subject_key, occurred_at AS t, capped, {dim} AS dim, {rate} AS rate, "
        f"{life} AS life FROM capped),\n"
        f"edged AS (SELECT *, {edge} AS edge FROM kinds)\n"
        f"SELECT subject_key, CAST(dim AS INTEGER) AS dim, rate, "
        f"CASE WHEN edge THEN t ELSE {f} END AS t, CASE WHEN edge THEN t + life END AS expires, "
        f"SUM(CASE WHEN edge THEN capped WHEN {dead} THEN CAST(0.0 AS DOUBLE) "
        f"ELSE capped * EXP(CAST({f} - t AS DOUBLE) * rate) END) AS v "
        "FROM edged GROUP BY ALL ORDER BY subject_key"
    )


def rescore_sql(policy: CompiledPolicy, *, as_of: int, relation: str = "preaggregate") -> str:
    """DuckDB SQL scoring every subject of a pre-aggregate as of ``as_of``, as the plan does."""
    counts = f"t <= {as_of} AND (expires IS NULL OR {as_of} < expires)"
    sums = ", ".join(
        f"SUM(CASE WHEN dim = {i} AND {counts} THEN v * EXP(CAST({as_of} - t AS DOUBLE) * rate) "
        f"END) AS v{i}"
        for i in range(len(policy.dimension_ids))
    )
    return (
        f"WITH sums AS (SELECT subject_key, {sums} FROM {relation} GROUP BY subject_key),\n"
        + finish_sql(policy)
    )


def build_preaggregate(
    policy: CompiledPolicy,
    source: pa.Table | ds.Dataset | Path | Sequence[str],
    out: Path,
    *,
    valid_from: int,
    valid_until: int,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: Path | None = None,
    leave_out: Collection[Struck] = (),
) -> Preaggregate:
    """Build the pre-aggregate of ``source`` (plan input) into the Parquet file ``out``.

    Records whose ``(provider, provider_event_id)`` is in ``leave_out`` (those
    disputes dropped) are left out, and ``leave_out`` is written down in the file.

    Raises:
        UsageError: when ``out`` exists or the window is empty.
        InputFileError: when the input lacks a column or cannot be read.
    """
    import duckdb

    if out.exists():
        raise UsageError(f"{out} exists already", suggestion="choose a new file")
    struck = frozenset(leave_out)
    relation = "kept" if struck else "records"
    sql = preaggregate_sql(
        policy, valid_from=valid_from, valid_until=valid_until, relation=relation
    )
    con = connect(threads=threads, memory_limit=memory_limit, temp_directory=temp_directory)
    try:
        open_records(con, build_plan(policy, as_of=valid_from), source)
        if struck:
            _leave_out(con, struck)
        try:
            table = con.sql(sql).to_arrow_table()
        except duckdb.Error as e:
            raise InputFileError(f"the pre-aggregate failed on this input: {e}") from e
    finally:
        con.close()
    metadata = {
        _FROM: str(valid_from).encode(),
        _UNTIL: str(valid_until).encode(),
        _POLICY: _policy_id(policy).encode(),
        _STRUCK: json.dumps(sorted(struck), separators=(",", ":")).encode(),
    }
    table = table.replace_schema_metadata(metadata)
    staged = out.with_name(f".{out.name}.tmp")
    try:
        pq.write_table(table, staged, row_group_size=1_000_000)
        staged.replace(out)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return Preaggregate(out, valid_from, valid_until, _policy_id(policy), table.num_rows, struck)


def _leave_out(con: Any, struck: frozenset[Struck]) -> None:
    """The view ``kept``: ``records`` less those whose key is struck (retractions stay)."""
    keys = pa.table(
        {
            "provider": pa.array([p for _, p, _ in struck], type=pa.string()),
            "provider_event_id": pa.array([e for _, _, e in struck], type=pa.string()),
        }
    )
    con.register("struck_keys", keys)
    con.execute(
        "CREATE TEMP VIEW kept AS SELECT * FROM records r WHERE NOT EXISTS (SELECT 1 "
        "FROM struck_keys s WHERE s.provider = r.provider "
        "AND s.provider_event_id = r.provider_event_id)"
    )


def read_preaggregate(path: Path) -> Preaggregate:
    """The window and policy of a pre-aggregate file.

    Raises:
        InputFileError: when ``path`` is not a Credence pre-aggregate.
    """
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise InputFileError(f"cannot read the pre-aggregate at {path}: {e}", path=str(path)) from e
    kv = meta.metadata or {}
    if _FROM not in kv or _UNTIL not in kv or _POLICY not in kv:
        raise InputFileError(f"{path} is not a Credence pre-aggregate", path=str(path))
    try:
        # A file from before disputes names none: every dropped record is then amended.
        struck = frozenset(
            (int(k), str(p), str(e)) for k, p, e in json.loads(kv.get(_STRUCK, b"[]"))
        )
    except (ValueError, TypeError) as e:
        raise InputFileError(f"{path} names its dropped records badly: {e}", path=str(path)) from e
    return Preaggregate(
        path, int(kv[_FROM]), int(kv[_UNTIL]), kv[_POLICY].decode(), meta.num_rows, struck
    )


def rescore_preaggregate(
    policy: CompiledPolicy,
    path: Path,
    *,
    as_of: int,
    threads: int | None = None,
    amend: Amendment | None = None,
) -> pa.Table:
    """Every subject's score as of ``as_of`` from a pre-aggregate, in the plan's output shape.

    With ``amend``, its subjects' rows are rebuilt from its records (for the
    file's window) in place of the file's; a subject with no records left is gone.

    Raises:
        UsageError: when ``as_of`` is outside the pre-aggregate's window, or it
            was built with another policy.
        InputFileError: when ``path`` is not a pre-aggregate.
    """
    found = read_preaggregate(path)
    if found.policy != _policy_id(policy):
        raise UsageError(
            f"{path} was built with policy {found.policy!r}, not {_policy_id(policy)!r}",
            suggestion="build the pre-aggregate again with this policy",
        )
    if not found.valid_from <= as_of <= found.valid_until:
        raise UsageError(
            f"{path} answers for as-of times from {found.valid_from} to {found.valid_until} "
            f"(epoch µs), not {as_of}",
            suggestion="build a pre-aggregate whose window holds this as-of",
        )
    quoted = "'" + str(path).replace("'", "''") + "'"
    con = connect(threads=threads)
    try:
        stored = f"read_parquet({quoted})"
        if amend is None or not amend.subjects:
            con.execute(f"CREATE TEMP VIEW preaggregate AS SELECT * FROM {stored}")
        else:
            _amended(con, policy, found, amend, stored)
        result: pa.Table = con.sql(rescore_sql(policy, as_of=as_of)).to_arrow_table()
        return result
    finally:
        con.close()


def _amended(
    con: Any, policy: CompiledPolicy, found: Preaggregate, amend: Amendment, stored: str
) -> None:
    """The view ``preaggregate``: ``stored`` with ``amend``'s subjects' rows rebuilt."""
    open_records(con, build_plan(policy, as_of=found.valid_from), amend.records)
    rebuilt = preaggregate_sql(policy, valid_from=found.valid_from, valid_until=found.valid_until)
    subjects = pa.table({"subject_key": pa.array(sorted(amend.subjects), type=pa.int64())})
    con.register("amended_subjects", subjects)
    con.execute(f"CREATE TEMP TABLE rebuilt AS {rebuilt}")
    con.execute(
        f"CREATE TEMP VIEW preaggregate AS SELECT * FROM {stored} p WHERE NOT EXISTS "
        "(SELECT 1 FROM amended_subjects a WHERE a.subject_key = p.subject_key) "
        "UNION ALL BY NAME SELECT * FROM rebuilt"
    )
