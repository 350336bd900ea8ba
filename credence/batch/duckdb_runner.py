"""Run the batch plan in-process on DuckDB, over an Arrow table or Parquet files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from credence.engine.plan import BatchPlan
from credence.errors import InputFileError, PlanError, UsageError

_SOURCE = "credence_source"


def _input_view(plan: BatchPlan, available: Sequence[str], source: str) -> str:
    # Attribute columns the input lacks are absent attributes: NULL, typed.
    present = set(available)
    columns = []
    for name, sql_type in plan.input_columns:
        if name in present:
            columns.append(f"CAST({name} AS {sql_type}) AS {name}")
        elif name.startswith("attr_"):
            columns.append(f"CAST(NULL AS {sql_type}) AS {name}")
        else:
            raise InputFileError(f"the records input has no column {name!r}")
    return f"CREATE OR REPLACE TEMP VIEW records AS SELECT {', '.join(columns)} FROM {source}"


def run_duckdb(
    plan: BatchPlan,
    source: pa.Table | ds.Dataset | Path | Sequence[str],
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: Path | None = None,
) -> pa.Table:
    """The plan's result over ``source``: an Arrow table or dataset, a Parquet path, or files.

    Raises:
        PlanError: when the plan is for another dialect.
        InputFileError: when the input lacks a column or cannot be read.
    """
    import duckdb

    if plan.dialect != "duckdb":
        raise PlanError(f"a {plan.dialect} plan cannot run on DuckDB")
    con = connect(threads=threads, memory_limit=memory_limit, temp_directory=temp_directory)
    try:
        open_records(con, plan, source)
        try:
            return con.sql(_choose(con, plan)).to_arrow_table()
        except duckdb.Error as e:
            raise InputFileError(f"the batch plan failed on this input: {e}") from e
    finally:
        con.close()


def connect(
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: Path | None = None,
) -> Any:
    """A DuckDB connection set up for batch work (no insertion order to keep)."""
    import duckdb

    con = duckdb.connect()
    if threads is not None:
        con.execute(f"SET threads TO {int(threads)}")
    if memory_limit is not None:
        con.execute("SET memory_limit = " + _quote(memory_limit))
    if temp_directory is not None:
        con.execute("SET temp_directory = " + _quote(str(temp_directory)))
    con.execute("SET preserve_insertion_order = false")
    return con


def open_records(
    con: Any, plan: BatchPlan, source: pa.Table | ds.Dataset | Path | Sequence[str]
) -> None:
    """Make ``source`` the view ``records`` in the plan's input shape, reading only its columns.

    Raises:
        InputFileError: when the input lacks a column or cannot be read.
    """
    import duckdb

    if isinstance(source, pa.Table | ds.Dataset):
        con.register(_SOURCE, source)
        names = list(source.schema.names)
        relation = _SOURCE
    else:
        files = _files(source)
        relation = (
            f"read_parquet([{', '.join(_quote(f) for f in files)}], hive_partitioning = true)"
        )
        try:
            names = [d[0] for d in con.sql(f"SELECT * FROM {relation} LIMIT 0").description]
        except duckdb.Error as e:
            raise InputFileError(f"cannot read the Parquet input: {e}") from e
    con.execute(_input_view(plan, names, relation))


def _choose(con: Any, plan: BatchPlan) -> str:
    # Withdrawn records cost a join over every record; most inputs hold few retractions
    # and many none, and finding the first one reads one mostly-null column.
    found = con.execute("SELECT 1 FROM records WHERE retracts IS NOT NULL LIMIT 1").fetchall()
    return plan.sql if found else plan.unretracted_sql


def _files(source: Path | Sequence[str]) -> list[str]:
    from credence.batch.export import parquet_files

    if isinstance(source, Path):
        return parquet_files(source)
    if isinstance(source, str):
        raise UsageError("give a Path or a list of files, not a bare string")
    return list(source)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
