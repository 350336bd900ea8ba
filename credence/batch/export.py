"""The ledger as Arrow and as Parquet: the input side of batch rescoring.

Records leave the ledger through ADBC (``adbc_driver_sqlite`` or
``adbc_driver_postgresql``), never through DuckDB's scanner extensions, which
download at run time. Their JSON ``attributes`` are flattened into typed
``attr_<name>`` columns with DuckDB's built-in JSON functions. An export is a
hive-partitioned Parquet directory, ``month=YYYY-MM/…``, keeping the JSON
text beside the flattened columns so a later policy can flatten it again.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from credence.engine.plan import ATTRIBUTE_PREFIX, BASE_COLUMNS
from credence.errors import InputFileError, StoreUnavailable, UsageError
from credence.policy.model import AttrType
from credence.types import Record

ARROW_TYPES: dict[AttrType, pa.DataType] = {
    AttrType.INTEGER: pa.int64(),
    AttrType.NUMBER: pa.float64(),
    AttrType.STRING: pa.string(),
    AttrType.BOOLEAN: pa.bool_(),
}
_BASE_ARROW: dict[str, pa.DataType] = {
    "subject_key": pa.int64(),
    "provider": pa.string(),
    "provider_event_id": pa.string(),
    "type": pa.string(),
    "occurred_at": pa.int64(),
    "retracts": pa.string(),
}
MONTH = "month"
LEDGER_SCHEMA = pa.schema(
    [
        ("subject_key", pa.int64()),
        ("provider", pa.string()),
        ("provider_event_id", pa.string()),
        ("type", pa.string()),
        ("occurred_at", pa.int64()),
        ("attributes", pa.string()),
        ("evidence", pa.string()),
        ("retracts", pa.string()),
    ]
)
"""The records as they leave the ledger, whatever the first rows hold."""
_RECORD_COLUMNS = ", ".join(LEDGER_SCHEMA.names)
_LIVE = "FROM records WHERE purged_at IS NULL"
# SQLite's ADBC reader infers each column's type from the first batch of rows
# (1,024 of them) and refuses a later value of another type, so a ledger whose
# first records all lack `retracts` or `evidence` fails at its first retraction
# (an all-NULL column is taken for INT64). One typing row of the declared types
# leads the stream so every column is inferred as declared; it is dropped before
# anyone sees it. (PostgreSQL's driver types columns from the table itself.)
_TYPING_ROW = ", ".join(
    f"{0 if pa.types.is_integer(field.type) else repr('')} AS {field.name}"
    for field in LEDGER_SCHEMA
)
_SQLITE_QUERY = (
    f"SELECT {_TYPING_ROW}, 1 AS typing_row UNION ALL SELECT {_RECORD_COLUMNS}, 0 {_LIVE}"
)
_POSTGRES_QUERY = f"SELECT {_RECORD_COLUMNS} {_LIVE}"

Progress = Callable[[int], None]


def records_schema(attributes: Mapping[str, AttrType]) -> pa.Schema:
    """The Arrow schema of the plan's ``records`` input for these attribute columns."""
    fields = [pa.field(name, _BASE_ARROW[name]) for name, _ in BASE_COLUMNS]
    fields += [pa.field(ATTRIBUTE_PREFIX + a, ARROW_TYPES[t]) for a, t in attributes.items()]
    return pa.schema(fields)


def _typed(value: Any, kind: AttrType) -> Any:
    if value is None:
        return None
    if kind is AttrType.NUMBER:
        return float(value)
    return value


def records_table(
    rows: Iterable[tuple[int, Record]], attributes: Mapping[str, AttrType]
) -> pa.Table:
    """``(subject_key, record)`` pairs as the plan's input table, attributes flattened."""
    columns: dict[str, list[Any]] = {name: [] for name, _ in BASE_COLUMNS}
    attr_columns: dict[str, list[Any]] = {a: [] for a in attributes}
    for subject_key, record in rows:
        columns["subject_key"].append(subject_key)
        columns["provider"].append(record.provider)
        columns["provider_event_id"].append(record.provider_event_id)
        columns["type"].append(record.type)
        columns["occurred_at"].append(record.occurred_at)
        columns["retracts"].append(record.retracts)
        for name, kind in attributes.items():
            attr_columns[name].append(_typed(record.attributes.get(name), kind))
    schema = records_schema(attributes)
    arrays = [pa.array(columns[name], type=_BASE_ARROW[name]) for name, _ in BASE_COLUMNS]
    arrays += [pa.array(attr_columns[a], type=ARROW_TYPES[t]) for a, t in attributes.items()]
    return pa.Table.from_arrays(arrays, schema=schema)


def ledger_table(rows: Iterable[tuple[int, Record]]) -> pa.Table:
    """``(subject_key, record)`` pairs in the ledger's own shape: JSON ``attributes`` text."""
    rows = list(rows)
    table = records_table(rows, {})
    texts = [json.dumps(dict(r.attributes), sort_keys=True) for _, r in rows]
    return table.append_column("attributes", pa.array(texts, type=pa.string()))


def flatten_sql(attributes: Mapping[str, AttrType], *, relation: str) -> str:
    """DuckDB SQL turning the ledger's JSON ``attributes`` into typed ``attr_*`` columns."""
    from credence.engine.plan import SQL_TYPES

    flat = "".join(
        f", CAST(attributes->>'$.{name}' AS {SQL_TYPES[kind]}) AS {ATTRIBUTE_PREFIX}{name}"
        for name, kind in attributes.items()
    )
    return (
        "SELECT CAST(subject_key AS BIGINT) AS subject_key, provider, provider_event_id, type, "
        "CAST(occurred_at AS BIGINT) AS occurred_at, CAST(retracts AS VARCHAR) AS retracts, "
        f"CAST(attributes AS VARCHAR) AS attributes{flat}, "
        f"strftime(make_timestamp(CAST(occurred_at AS BIGINT)), '%Y-%m') AS {MONTH} "
        f"FROM {relation}"
    )


def flatten_batches(
    batches: Iterable[pa.RecordBatch], attributes: Mapping[str, AttrType]
) -> Iterator[pa.RecordBatch]:
    """Ledger-shaped batches as plan input with a ``month`` column, one batch at a time."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET threads TO 1")
        query = flatten_sql(attributes, relation="batch")
        for batch in batches:
            if batch.num_rows == 0:
                continue
            con.register("batch", pa.Table.from_batches([batch]))
            try:
                out = con.sql(query).to_arrow_table()
            except duckdb.Error as e:
                raise InputFileError(f"cannot flatten record attributes: {e}") from e
            finally:
                con.unregister("batch")
            yield from out.to_batches()
    finally:
        con.close()


def ledger_batches(db: str) -> Iterator[pa.RecordBatch]:
    """The ledger's records as Arrow batches of ``LEDGER_SCHEMA``, streamed through ADBC.

    Tombstones (purged or erased records) no longer count, as in the online reads.

    Raises:
        StoreUnavailable: when the driver is missing or the ledger cannot be read.
    """
    sqlite = _is_sqlite(db)
    with _adbc(db) as cursor:
        try:
            cursor.execute(_SQLITE_QUERY if sqlite else _POSTGRES_QUERY)
            batches = iter(cursor.fetch_record_batch())
            if sqlite:
                batches = _without_typing_row(batches)
            for batch in batches:
                yield _as_ledger_schema(batch)
        except StoreUnavailable:
            raise
        except Exception as e:  # ADBC raises its own DB-API errors per driver
            raise StoreUnavailable(f"cannot read the ledger's records: {e}") from e


def _without_typing_row(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    first = next(batches, None)
    if first is None:
        return
    if first.num_rows == 0 or first.column("typing_row")[0].as_py() != 1:
        raise StoreUnavailable("cannot read the ledger's records: the typing row did not lead")
    yield first.slice(1)
    yield from batches


def _as_ledger_schema(batch: pa.RecordBatch) -> pa.RecordBatch:
    return batch.select(LEDGER_SCHEMA.names).cast(LEDGER_SCHEMA)


def ledger_counts(db: str) -> int:
    """How many records the ledger holds (for progress)."""
    with _adbc(db) as cursor:
        cursor.execute("SELECT COUNT(*) FROM records WHERE purged_at IS NULL")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _is_sqlite(db: str) -> bool:
    return not db.startswith(("postgresql://", "postgres://"))


class _adbc:
    """A DB-API cursor on the ledger through the right ADBC driver."""

    def __init__(self, db: str) -> None:
        self.db = db
        self._conn: Any = None

    def __enter__(self) -> Any:
        try:
            if _is_sqlite(self.db):
                import adbc_driver_sqlite.dbapi as driver

                if not Path(self.db).exists():
                    raise StoreUnavailable(f"no ledger at {self.db}", path=self.db)
                uri = Path(self.db).resolve().as_uri() + "?mode=ro"
                self._conn = driver.connect(uri)
            else:
                import adbc_driver_postgresql.dbapi as pg

                self._conn = pg.connect(self.db.replace("postgresql+psycopg://", "postgresql://"))
        except ImportError as e:
            raise StoreUnavailable(
                f"reading the ledger as Arrow needs the ADBC driver: {e.name}",
                suggestion="pip install 'credence[batch]'",
            ) from e
        except StoreUnavailable:
            raise
        except Exception as e:
            raise StoreUnavailable(f"cannot open the ledger {self.db}: {e}") from e
        return self._conn.cursor()

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()


def write_parquet(
    batches: Iterable[pa.RecordBatch],
    out: Path,
    *,
    schema: pa.Schema,
    progress: Progress | None = None,
) -> int:
    """Write plan-input batches (with ``month``) as a hive-partitioned directory, atomically.

    The directory appears complete or not at all: it is written beside ``out``
    under a temporary name and renamed. Returns the number of rows written.

    Raises:
        UsageError: when ``out`` exists already.
    """
    if out.exists():
        raise UsageError(f"{out} exists already", suggestion="choose a new directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    count = 0

    def counted() -> Iterator[pa.RecordBatch]:
        nonlocal count
        for batch in batches:
            count += batch.num_rows
            if progress is not None:
                progress(batch.num_rows)
            yield batch

    try:
        reader = pa.RecordBatchReader.from_batches(schema, counted())
        ds.write_dataset(
            reader,
            staging,
            format="parquet",
            partitioning=ds.partitioning(pa.schema([(MONTH, pa.string())]), flavor="hive"),
            existing_data_behavior="overwrite_or_ignore",
            basename_template="part-{i}.parquet",
            max_rows_per_group=1_000_000,
        )
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return count


def export_schema(attributes: Mapping[str, AttrType]) -> pa.Schema:
    """The schema of an export: plan input, the JSON text, and the month partition."""
    schema = records_schema(attributes)
    schema = schema.insert(6, pa.field("attributes", pa.string()))
    return schema.append(pa.field(MONTH, pa.string()))


def export_ledger(
    db: str,
    out: Path,
    *,
    attributes: Mapping[str, AttrType],
    progress: Progress | None = None,
    leave_out: Collection[tuple[str, str]] = (),
) -> int:
    """Export the ledger's records to Parquet under ``out``, partitioned by month.

    Records whose ``(provider, provider_event_id)`` is in ``leave_out`` (those
    disputes dropped) are not written.

    Raises:
        StoreUnavailable, UsageError, InputFileError: when it cannot be read or written.
    """
    schema = export_schema(attributes)
    records = leaving_out(ledger_batches(db), leave_out)
    batches = (b.select(schema.names).cast(schema) for b in flatten_batches(records, attributes))
    return write_parquet(batches, out, schema=schema, progress=progress)


_KEY_SEPARATOR = "\x00"  # between provider and event id: neither may hold a NUL


def leaving_out(
    batches: Iterable[pa.RecordBatch], keys: Collection[tuple[str, str]]
) -> Iterator[pa.RecordBatch]:
    """``batches`` without the rows whose ``(provider, provider_event_id)`` is in ``keys``."""
    if not keys:
        yield from batches
        return
    wanted = pa.array([f"{p}{_KEY_SEPARATOR}{e}" for p, e in keys], type=pa.string())
    for batch in batches:
        joined = pc.binary_join_element_wise(
            batch.column("provider"), batch.column("provider_event_id"), _KEY_SEPARATOR
        )
        kept = batch.filter(pc.invert(pc.is_in(joined, value_set=wanted)))
        if kept.num_rows:
            yield kept


def read_export(path: Path) -> ds.Dataset:
    """An export (or any Parquet directory of plan input) as an Arrow dataset.

    Raises:
        InputFileError: when there is no Parquet there.
    """
    if not path.exists():
        raise InputFileError(f"no export at {path}", path=str(path))
    try:
        return ds.dataset(path, format="parquet", partitioning="hive")
    except (pa.ArrowInvalid, OSError) as e:
        raise InputFileError(f"cannot read the export at {path}: {e}", path=str(path)) from e


def parquet_files(path: Path) -> list[str]:
    """Every Parquet file of an export, for engines that take a list of paths."""
    if path.is_file():
        return [str(path)]
    files = sorted(str(p) for p in path.rglob("*.parquet"))
    if not files:
        raise InputFileError(f"no Parquet files under {path}", path=str(path))
    return files
