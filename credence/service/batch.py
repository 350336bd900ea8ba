"""Batch use cases: rescore every subject at once, and export the ledger to Parquet.

``rescore`` writes one Parquet row per subject with the fields of ``credence
score --format jsonl``: ``subject_scheme, subject_id, score, raw, tier``, and
the dimensions as one DOUBLE column each, ``dim_<id>`` (as the CSV format
names them; ``dim_general`` last). The output file appears whole or not at
all: it is written under a temporary name beside ``out`` and renamed.

``build_preaggregate`` and ``rescore(from_preaggregate=...)`` keep a
pre-aggregate exactly right as disputes end: it is built without the records
disputes have dropped and names them; a rescore rebuilds, from the ledger, only
the subjects whose dropped records differ from those (a dispute upheld, or
lapsed by the clock, since), so it equals online scoring.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from credence.engine import CompiledPolicy
from credence.engine.plan import build_plan
from credence.errors import UsageError
from credence.extras import require
from credence.service import disputes
from credence.service.ledger import Ledger, identifier_of

if TYPE_CHECKING:
    from credence.batch.preaggregate import Preaggregate

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")


class Reporter(Protocol):
    """Where a long run tells how far it is: a named stage, then steps of it."""

    def stage(self, name: str, total: int | None = None) -> None:
        """A new stage begins; ``total`` steps if known."""

    def advance(self, steps: int) -> None:
        """``steps`` more steps of the current stage are done."""


class _Quiet:
    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, steps: int) -> None:
        pass


@dataclass(frozen=True, slots=True)
class RescoreResult:
    """What a rescore wrote."""

    out: Path
    subjects: int
    engine: Engine
    as_of: int
    seconds: float


def _is_store_file(db: str) -> bool:
    return db != "memory:"


def _require_extras(db: str | None, *, engine: Engine = "duckdb") -> None:
    """Refuse, before any work, a run whose optional packages are not installed.

    ``db`` is the ledger the records are read from (None: an export or memory).

    Raises:
        MissingExtra: naming the extra to install.
    """
    if engine == "spark":
        require("spark", "pyspark", needed_for="`--engine spark`")
    if engine == "duckdb" or db is not None:
        require("batch", "duckdb", needed_for="batch rescoring and export")
    if db is not None:
        driver = "adbc_driver_sqlite" if _is_sqlite(db) else "adbc_driver_postgresql"
        require("batch", driver, needed_for="reading the ledger for a batch run")


def _is_sqlite(db: str) -> bool:
    return not db.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


def _staging(out: Path, suffix: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent)
    os.close(fd)
    return Path(name)


def export(
    ledger: Ledger,
    out: Path,
    *,
    reporter: Reporter | None = None,
    policy: CompiledPolicy | None = None,
) -> int:
    """Export the ledger's records to Parquet under ``out`` (hive-partitioned by month).

    Attributes are flattened as ``policy`` (default: the one in effect now) declares them.

    Raises:
        UsageError: when ``out`` exists, or the ledger is in memory.
        StoreUnavailable: when the ledger cannot be read as Arrow.
        MissingExtra: without the ``batch`` extra.
    """
    db_named = ledger.settings.db
    _require_extras(db_named if _is_store_file(db_named) else None)
    from credence.batch.export import export_ledger, ledger_counts
    from credence.engine.plan import attribute_columns

    report = reporter or _Quiet()
    db = ledger.settings.db
    if not _is_store_file(db):
        raise UsageError("an in-memory ledger cannot be exported; use a SQLite or PostgreSQL one")
    attributes = attribute_columns(policy or ledger.policy)
    report.stage("exporting records", ledger_counts(db))
    struck = disputes.ledger_struck_keys(ledger)  # dropped by disputes: never exported
    return export_ledger(db, out, attributes=attributes, progress=report.advance, leave_out=struck)


def rescore(
    ledger: Ledger,
    *,
    as_of: int,
    out: Path,
    engine: Engine = "duckdb",
    from_dir: Path | None = None,
    from_preaggregate: Path | None = None,
    reporter: Reporter | None = None,
) -> RescoreResult:
    """Score every subject as of ``as_of`` with the batch plan and write them to ``out``.

    Records come from ``from_dir`` (an export) when given, else from the ledger.
    With ``from_preaggregate`` (DuckDB only), scores come from that pre-aggregate,
    its subjects whose records disputes have dropped since it was built rebuilt
    from the ledger.

    Raises:
        UsageError: for an unknown engine.
        PlanError: when the active policy cannot be run as a batch plan.
        StoreUnavailable, InputFileError: when the records cannot be read.
        MissingExtra: without the ``batch`` extra (or ``spark``, for that engine).
    """
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}", suggestion="use duckdb or spark")
    if from_preaggregate is not None:
        if engine != "duckdb" or from_dir is not None:
            raise UsageError(
                "a rescore from a pre-aggregate runs on DuckDB and reads no export",
                suggestion="drop --engine spark and --from",
            )
        return _rescore_preaggregate(ledger, as_of, out, from_preaggregate, reporter)
    db = ledger.settings.db
    _require_extras(db if from_dir is None and _is_store_file(db) else None, engine=engine)
    report = reporter or _Quiet()
    started = time.perf_counter()
    policy = ledger.policy_at(as_of)  # the version in effect at as_of
    plan = build_plan(policy, as_of=as_of, dialect=engine)
    scratch: Path | None = None
    try:
        if from_dir is None and _is_store_file(ledger.settings.db):
            scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=_parent(out)))
            from_dir = scratch / "records"
            export(ledger, from_dir, reporter=report, policy=policy)
        elif from_dir is not None:
            # An export made before a dispute dropped a record still holds it.
            scratch, from_dir = _without_struck_export(ledger, from_dir, out)
        report.stage(f"scoring on {engine}")
        scores = _run(ledger, plan, engine=engine, from_dir=from_dir, scratch=_parent(out))
        report.advance(scores.num_rows)
        table = _with_identities(ledger, scores, report)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    report.stage("writing", table.num_rows)
    _write_atomically(table, out)
    report.advance(table.num_rows)
    return RescoreResult(
        out=out,
        subjects=table.num_rows,
        engine=engine,
        as_of=as_of,
        seconds=time.perf_counter() - started,
    )


def build_preaggregate(
    ledger: Ledger,
    out: Path,
    *,
    valid_from: int,
    valid_until: int,
    from_dir: Path | None = None,
    reporter: Reporter | None = None,
) -> Preaggregate:
    """Build a pre-aggregate of the ledger's records (or of the export ``from_dir``) for
    as-of times in ``[valid_from, valid_until]``, with the policy in effect at ``valid_from``,
    leaving out the records disputes have dropped by now.

    Raises:
        UsageError: when ``out`` exists or the window is empty.
        PlanError: when the policy cannot be pre-aggregated.
        StoreUnavailable, InputFileError: when the records cannot be read.
        MissingExtra: without the ``batch`` extra.
    """
    from credence.batch import preaggregate

    db = ledger.settings.db
    _require_extras(db if from_dir is None and _is_store_file(db) else None)
    report = reporter or _Quiet()
    policy = ledger.policy_at(valid_from)
    struck = disputes.ledger_struck_records(ledger)
    scratch: Path | None = None
    source: pa.Table | Path
    try:
        if from_dir is not None:
            source = from_dir
        elif _is_store_file(db):
            scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=_parent(out)))
            source = scratch / "records"
            export(ledger, source, reporter=report, policy=policy)
        else:
            source = _memory_records(ledger, policy)
        report.stage("pre-aggregating")
        return preaggregate.build_preaggregate(
            policy,
            source,
            out,
            valid_from=valid_from,
            valid_until=valid_until,
            temp_directory=_parent(out),
            leave_out=struck,
        )
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _memory_records(ledger: Ledger, policy: CompiledPolicy) -> pa.Table:
    from credence.batch.export import records_table
    from credence.engine.plan import attribute_columns

    rows = [
        (row.key, record)
        for row, _ in ledger.store.subjects_with_records()
        for record in disputes.scoring_records(ledger, row.key)
    ]
    return records_table(rows, attribute_columns(policy))


def _rescore_preaggregate(
    ledger: Ledger, as_of: int, out: Path, path: Path, reporter: Reporter | None
) -> RescoreResult:
    """A rescore from the pre-aggregate ``path``, amended for the disputes ended since."""
    _require_extras(None)
    from credence.batch import preaggregate
    from credence.batch.export import records_table
    from credence.engine.plan import attribute_columns

    report = reporter or _Quiet()
    started = time.perf_counter()
    policy = ledger.policy_at(as_of)
    found = preaggregate.read_preaggregate(path)
    # Both ways: a record struck since, or one the file left out that this ledger counts.
    changed = {subject for subject, _, _ in disputes.ledger_struck_records(ledger) ^ found.struck}
    amend = None
    if changed:
        rows = [
            (subject, record)
            for subject in sorted(changed)
            for record in disputes.scoring_records(ledger, subject)
        ]
        amend = preaggregate.Amendment(changed, records_table(rows, attribute_columns(policy)))
    report.stage("scoring from the pre-aggregate")
    scores = preaggregate.rescore_preaggregate(policy, path, as_of=as_of, amend=amend)
    report.advance(scores.num_rows)
    table = _with_identities(ledger, scores, report)
    report.stage("writing", table.num_rows)
    _write_atomically(table, out)
    report.advance(table.num_rows)
    return RescoreResult(
        out=out,
        subjects=table.num_rows,
        engine="duckdb",
        as_of=as_of,
        seconds=time.perf_counter() - started,
    )


def _without_struck_export(ledger: Ledger, from_dir: Path, out: Path) -> tuple[Path | None, Path]:
    """``from_dir``, or a copy of it in a scratch directory without the records disputes
    dropped (when it holds any); the scratch directory to remove afterwards."""
    from credence.batch.export import leaving_out, read_export

    struck = disputes.ledger_struck_keys(ledger)
    if not struck:
        return None, from_dir
    dataset = read_export(from_dir)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=_parent(out)))
    filtered = scratch / "records"
    filtered.mkdir()
    with pq.ParquetWriter(filtered / "part-0.parquet", dataset.schema) as writer:
        for batch in leaving_out(dataset.to_batches(), struck):
            writer.write_batch(batch)
    return scratch, filtered


def _parent(out: Path) -> Path:
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _run(
    ledger: Ledger, plan: object, *, engine: Engine, from_dir: Path | None, scratch: Path
) -> pa.Table:
    from credence.batch.export import records_table
    from credence.engine.plan import BatchPlan

    assert isinstance(plan, BatchPlan)
    if from_dir is None:
        # An in-memory ledger: its records straight into Arrow.
        struck = disputes.ledger_struck_keys(ledger)
        rows = [
            (row.key, record)
            for row, records in ledger.store.subjects_with_records()
            for record in disputes.without_struck(records, struck)
        ]
        table = records_table(rows, plan.attributes)
        if engine == "duckdb":
            from credence.batch.duckdb_runner import run_duckdb

            return run_duckdb(plan, table)
        staged = _staging(scratch / "records", ".parquet")
        try:
            pq.write_table(table, staged)
            from credence.batch.spark_runner import run_spark

            return run_spark(plan, [str(staged)])
        finally:
            staged.unlink(missing_ok=True)
    if engine == "duckdb":
        from credence.batch.duckdb_runner import run_duckdb

        return run_duckdb(plan, from_dir, temp_directory=scratch)
    from credence.batch.spark_runner import run_spark

    return run_spark(plan, from_dir)


def _with_identities(ledger: Ledger, scores: pa.Table, report: Reporter) -> pa.Table:
    wanted = set(scores.column("subject_key").to_pylist())
    report.stage("decrypting identifiers", len(wanted))
    keys: list[int] = []
    schemes: list[str] = []
    ids: list[str] = []
    for row in ledger.store.subjects():
        if row.key not in wanted:
            continue
        keys.append(row.key)
        schemes.append(row.scheme)
        ids.append(identifier_of(ledger.keys, row))
        if len(keys) % 10_000 == 0:
            report.advance(10_000)
    report.advance(len(keys) % 10_000)
    names = pa.table(
        {
            "subject_key": pa.array(keys, type=pa.int64()),
            "subject_scheme": pa.array(schemes, type=pa.string()),
            "subject_id": pa.array(ids, type=pa.string()),
        }
    )
    joined = names.join(scores, keys="subject_key", join_type="inner").sort_by("subject_key")
    dims = [c for c in scores.column_names if c.startswith("dim_")]
    return joined.select(["subject_scheme", "subject_id", "score", "raw", "tier", *dims])


def _write_atomically(table: pa.Table, out: Path) -> None:
    staged = _staging(out, ".tmp")
    try:
        pq.write_table(table, staged)
        os.replace(staged, out)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
