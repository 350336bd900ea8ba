"""CSV and Parquet carry the same records as JSON Lines; line numbers; files that cannot be read."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from credence.errors import InputFileError
from credence.ingest.formats import open_source
from credence.service.ingest import ingest_files
from credence.service.ledger import Ledger
from tests.ingest.conftest import bill, read_rejects, stored, write_jsonl

FIELDS = [
    "provider",
    "provider_event_id",
    "subject_scheme",
    "subject_id",
    "subject_kind",
    "type",
    "occurred_at",
    "evidence",
    "retracts",
]
ATTRS = ["days_late", "amount", "damaged", "method"]


def sample() -> list[dict[str, Any]]:
    """Records of several types and attribute types, with evidence and a retraction."""
    return [
        bill("b-1", attributes={"days_late": 0, "amount": 120.5}),
        bill(
            "b-2",
            subject_id="bob",
            attributes={"days_late": 45, "amount": 80.0},
            evidence="https://bank-a.example/statements/2",
        ),
        bill(
            "b-3",
            subject_scheme="cn.ric",
            subject_id="11010519491231002x",
            occurred_at="2026-03-01T17:30:00.25+08:00",
            attributes={"days_late": -2, "amount": 3},
        ),
        bill("b-4", retracts="b-1", attributes=None),
        {
            "provider": "rent-it",
            "provider_event_id": "r-1",
            "subject_scheme": "custom",
            "subject_id": "bob",
            "subject_kind": "person",
            "type": "rental.returned",
            "occurred_at": "2026-04-01T00:00:00Z",
            "attributes": {"days_late": 0, "damaged": True},
            "evidence": "sha256:" + "ab" * 32,
        },
        {
            "provider": "id-check",
            "provider_event_id": "i-1",
            "subject_scheme": "cn.uscc",
            "subject_id": "91110000600037341L",
            "subject_kind": "organization",
            "type": "identity.verified",
            "occurred_at": "2026-05-01T00:00:00Z",
            "attributes": {"method": 'business licence, 12 000 chars "quoted"\nand a new line'},
        },
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv_flat(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS + [f"attr_{a}" for a in ATTRS])
        for row in rows:
            attrs = row.get("attributes", {})
            writer.writerow(
                [_cell(row.get(f)) for f in FIELDS] + [_cell(attrs.get(a)) for a in ATTRS]
            )
    return path


def write_csv_json(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*FIELDS, "attributes"])
        for row in rows:
            attrs = row.get("attributes")
            writer.writerow(
                [_cell(row.get(f)) for f in FIELDS] + [json.dumps(attrs) if attrs else ""]
            )
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]], *, style: str) -> Path:
    columns: dict[str, list[Any]] = {f: [r.get(f) for r in rows] for f in FIELDS}
    if style == "flat":
        for a in ATTRS:
            columns[f"attr_{a}"] = [r.get("attributes", {}).get(a) for r in rows]
        table = pa.table(columns)
    elif style == "struct":
        columns["attributes"] = [r.get("attributes") for r in rows]
        table = pa.table(columns)
    else:
        columns["attributes"] = [
            json.dumps(r["attributes"]) if "attributes" in r else None for r in rows
        ]
        table = pa.table(columns)
    pq.write_table(table, path)
    return path


WRITERS = {
    "csv-attr-columns": lambda p, rows: write_csv_flat(p.with_suffix(".csv"), rows),
    "csv-attributes-json": lambda p, rows: write_csv_json(p.with_suffix(".csv"), rows),
    "parquet-attr-columns": lambda p, rows: write_parquet(
        p.with_suffix(".parquet"), rows, style="flat"
    ),
    "parquet-struct": lambda p, rows: write_parquet(
        p.with_suffix(".parquet"), rows, style="struct"
    ),
    "parquet-json": lambda p, rows: write_parquet(p.with_suffix(".parquet"), rows, style="json"),
}


@pytest.mark.parametrize("style", list(WRITERS))
def test_round_trip_equals_jsonl(ledger: Ledger, tmp_path: Path, style: str) -> None:
    rows = sample()
    jsonl = write_jsonl(tmp_path / "records.jsonl", rows)
    [first] = ingest_files(ledger, [jsonl])
    assert (first.inserted, first.rejected) == (len(rows), 0), (
        read_rejects(jsonl) if first.rejected else ""
    )
    before = stored(ledger)
    other = WRITERS[style](tmp_path / "other", rows)
    [again] = ingest_files(ledger, [other])
    assert again.rejects_path is None, read_rejects(other)
    # Same content hash for every row: nothing new, nothing conflicting.
    assert (again.rows, again.unchanged, again.inserted) == (len(rows), len(rows), 0)
    assert stored(ledger) == before


def test_csv_lines_are_physical_lines(ledger: Ledger, tmp_path: Path) -> None:
    rows = sample()
    rows.insert(5, bill("bad", type="nope"))  # after the row with a two-line cell
    path = write_csv_flat(tmp_path / "in.csv", rows)
    text = path.read_text()
    [report] = ingest_files(ledger, [path])
    [reject] = read_rejects(path)
    bad_line = next(
        i for i, line in enumerate(text.splitlines(), 1) if line.startswith("bank-a,bad,")
    )
    assert reject["line"] == bad_line == 7
    assert reject["row"]["provider_event_id"] == "bad"
    assert report.inserted == len(rows) - 1


def test_csv_cells_are_read_by_declared_type(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "provider,provider_event_id,subject_scheme,subject_id,subject_kind,type,occurred_at,"
        "attr_days_late,attr_amount,attr_damaged\n"
        "bank-a,ok,custom,alice,person,bill.paid,2026-03-01T00:00:00Z,3,12,\n"
        "bank-a,float-int,custom,alice,person,bill.paid,2026-03-01T00:00:00Z,3.0,12,\n"
        "bank-a,bad-number,custom,alice,person,bill.paid,2026-03-01T00:00:00Z,3,nan,\n"
        "rent-it,yes,custom,alice,person,rental.returned,2026-03-01T00:00:00Z,0,,TRUE\n"
        "rent-it,bad-bool,custom,alice,person,rental.returned,2026-03-01T00:00:00Z,0,,1\n"
        "bank-a,short,custom,alice\n"
    )
    [report] = ingest_files(ledger, [path])
    assert [(r["line"], r["code"], r["field"]) for r in read_rejects(path)] == [
        (3, "record.attribute_type", "attributes.days_late"),
        (4, "record.attribute_type", "attributes.amount"),
        (6, "record.attribute_type", "attributes.damaged"),
        (7, "record.malformed", None),
    ]
    assert report.inserted == 2
    [records] = stored(ledger).values()
    assert {r[1]: dict(r[4]) for r in records} == {
        "ok": {"days_late": 3, "amount": 12},
        "yes": {"days_late": 0, "damaged": True},
    }


def test_parquet_timestamps_need_a_zone(ledger: Ledger, tmp_path: Path) -> None:
    row = {k: v for k, v in bill("p-1").items() if k != "attributes"}
    table = pa.table(
        {
            **{k: [v, v.replace("p-1", "p-2")] for k, v in row.items() if k != "occurred_at"},
            "occurred_at": pa.array(
                [datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)],
                pa.timestamp("us", tz="UTC"),
            ),
            "attr_days_late": [0, 0],
            "attr_amount": [1.5, 1.5],
        }
    )
    naive = table.set_column(
        table.schema.get_field_index("occurred_at"),
        "occurred_at",
        pa.array([datetime(2026, 3, 1), datetime(2026, 3, 1)], pa.timestamp("us")),
    )
    pq.write_table(table, tmp_path / "aware.parquet")
    pq.write_table(naive.slice(1), tmp_path / "naive.parquet")
    aware_report, naive_report = ingest_files(
        ledger, [tmp_path / "aware.parquet", tmp_path / "naive.parquet"]
    )
    assert aware_report.inserted == 2
    assert [(r["line"], r["code"]) for r in read_rejects(tmp_path / "naive.parquet")] == [
        (1, "record.timestamp")
    ]
    assert naive_report.rejected == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("in.txt", "x", "unknown input format"),
        ("in", "x", "unknown input format"),
        ("missing.jsonl", None, "no such file"),
        ("broken.parquet", "not parquet", "not a Parquet file"),
        ("bad-header.csv", "provider,subject\n", "unknown column 'subject'"),
        (
            "no-type.csv",
            "provider,provider_event_id,subject_scheme,subject_id,subject_kind\n",
            "no type, occurred_at columns",
        ),
    ],
)
def test_files_that_cannot_be_read(
    ledger: Ledger, tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    good = write_jsonl(tmp_path / "good.jsonl", [bill()])
    with pytest.raises(InputFileError, match=message) as caught:
        ingest_files(ledger, [good, path])
    assert caught.value.path == str(path)
    assert stored(ledger) == {}  # every file is opened before any is ingested


def test_a_directory_is_not_an_input(tmp_path: Path) -> None:
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(InputFileError, match="directory"):
        open_source(tmp_path / "dir.jsonl")


def test_jsonl_progress_reaches_the_file_size(ledger: Ledger, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [bill(f"e-{i}") for i in range(10)])
    seen: list[tuple[Path, int, int]] = []
    ingest_files(ledger, [path], on_progress=lambda p, done, total: seen.append((p, done, total)))
    size = path.stat().st_size
    assert len(seen) >= 3  # batches of 3
    assert [s[1] for s in seen] == sorted(s[1] for s in seen)
    assert seen[-1] == (path, size, size)


def test_bad_bytes_reject_only_their_line(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    good = json.dumps(bill("a")).encode()
    path.write_bytes(
        good + b"\n" + b'{"provider": "\xff"}\n' + json.dumps(bill("b")).encode() + b"\n"
    )
    [report] = ingest_files(ledger, [path])
    assert [(r["line"], r["code"]) for r in read_rejects(path)] == [(2, "record.malformed")]
    assert report.inserted == 2


def test_non_finite_numbers_are_refused(ledger: Ledger, tmp_path: Path) -> None:
    csv_path = tmp_path / "in.csv"
    csv_path.write_text(
        "provider,provider_event_id,subject_scheme,subject_id,subject_kind,type,occurred_at,"
        "attr_days_late,attr_amount\n"
        "bank-a,huge,custom,alice,person,bill.paid,2026-03-01T00:00:00Z,0,1e999\n"
    )
    table = pa.table(
        {
            **{k: [v] for k, v in bill("nan").items() if k != "attributes"},
            "attr_days_late": [0],
            "attr_amount": [float("nan")],
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")
    reports = ingest_files(ledger, [csv_path, tmp_path / "in.parquet"])
    assert [r.rejected for r in reports] == [1, 1]
    for path in (csv_path, tmp_path / "in.parquet"):
        [reject] = read_rejects(path)
        assert (reject["code"], reject["field"]) == ("record.attribute_type", "attributes.amount")
