"""Input that must never get in: characters that act on a terminal, impossible dates, and
the wording of refusals (no Python internals, no talk of whole numbers for a NaN)."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from credence.errors import UsageError
from credence.ingest.formats import RawRow
from credence.ingest.validate import Validator
from credence.service.ingest import ingest_files
from credence.service.ledger import Ledger
from credence.settings import load_settings
from credence.text import escape, unsafe_char
from credence.types import format_time
from tests.ingest.conftest import NOW, bill, read_rejects, stored, write_jsonl

HOUR_US = 3_600 * 1_000_000


def rejects_of(ledger: Ledger, tmp_path: Path, rows: list[Any]) -> list[tuple[int, str, str]]:
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    ingest_files(ledger, [path])
    if not path.with_name(path.name + ".rejects.jsonl").exists():
        return []
    return [(r["line"], r["code"], r["field"]) for r in read_rejects(path)]


def test_identifier_rejects_control_and_bidi(ledger: Ledger, tmp_path: Path) -> None:
    rows = [
        bill("e-1", subject_id="ali\x00ce"),
        bill("e-2", subject_id="alice\u202efdp.exe"),
        bill("e-3", subject_id="\x1b[31malice"),
        bill("e-4\u202e"),
        bill("e-5\x00"),
        bill("e-6", retracts="e-1\u2066", attributes=None),
        bill("e-7", evidence="https://bank-a.example/\u202e1"),
        bill("e-8", subject_id="alice\n"),
        bill("e-9", subject_id="zoë ünïcode"),  # printable non-ASCII stays welcome
    ]
    assert rejects_of(ledger, tmp_path, rows) == [
        (1, "identifier.invalid", "subject_id"),
        (2, "identifier.invalid", "subject_id"),
        (3, "identifier.invalid", "subject_id"),
        (4, "record.invalid", "provider_event_id"),
        (5, "record.invalid", "provider_event_id"),
        (6, "record.invalid", "retracts"),
        (7, "record.invalid", "evidence"),
        (8, "identifier.invalid", "subject_id"),
    ]
    messages = [r["message"] for r in read_rejects(tmp_path / "in.jsonl")]
    assert "U+0000" in messages[0]
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in messages[1]
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in messages[3]
    assert all("\u202e" not in m and "\x00" not in m for m in messages)
    assert len(stored(ledger)) == 1


def test_unsafe_characters_are_escaped_on_output() -> None:
    from credence.cli.common import out

    assert unsafe_char("plain") is None and unsafe_char("a\u00a0b") is None
    assert unsafe_char("a\u2067b") == "U+2067 RIGHT-TO-LEFT ISOLATE"
    assert escape("a\u202eb\x00c\x1b[2J\nnext\tcol") == "a\\u202eb\\u0000c\\u001b[2J\nnext\tcol"
    with out.capture() as captured:
        out.print("subject custom:ali\u202ece\x00", markup=False)
    assert captured.get() == "subject custom:ali\\u202ece\\u0000\n"


def test_future_record_rejected(ledger: Ledger, tmp_path: Path) -> None:
    rows = [
        bill("e-1", occurred_at="2126-01-01T00:00:00Z"),
        bill("e-2", occurred_at=format_time(NOW + 23 * HOUR_US)),  # within the day allowed
        bill("e-3", occurred_at=format_time(NOW + 25 * HOUR_US)),
        bill("e-4", occurred_at="2026-11-27T07:00:00+08:00"),  # 23:00Z the day before: fine
    ]
    assert rejects_of(ledger, tmp_path, rows) == [
        (1, "record.future", "occurred_at"),
        (3, "record.future", "occurred_at"),
    ]
    [first, _] = read_rejects(tmp_path / "in.jsonl")
    assert "2026-11-27T00:00:00Z" in first["message"]
    assert "CREDENCE_MAX_FUTURE_SKEW" in first["message"]


def test_future_skew_is_a_setting(ledger: Ledger, tmp_path: Path) -> None:
    strict = load_settings({"CREDENCE_MAX_FUTURE_SKEW": "PT0S"}, db=ledger.settings.db)
    assert strict.max_future_skew == timedelta(0)
    assert load_settings({"CREDENCE_MAX_FUTURE_SKEW": "7200"}).max_future_skew == timedelta(hours=2)
    with pytest.raises(UsageError) as bad:
        load_settings({"CREDENCE_MAX_FUTURE_SKEW": "a day"})
    assert "timedelta" not in bad.value.message and "PT2H" in bad.value.message
    strict_ledger = dataclasses.replace(ledger, settings=strict)
    rows = [
        bill("e-1", occurred_at=format_time(NOW)),
        bill("e-2", occurred_at=format_time(NOW + 1)),
    ]
    assert rejects_of(strict_ledger, tmp_path, rows) == [(2, "record.future", "occurred_at")]


def test_before_1900_rejected(ledger: Ledger, tmp_path: Path) -> None:
    rows = [
        bill("e-1", occurred_at="1899-12-31T23:59:59Z"),
        bill("e-2", occurred_at="1900-01-01T00:00:00Z"),
        bill("e-3", occurred_at="1900-01-01T00:30:00+01:00"),  # 1899-12-31T23:30Z
        bill("e-4", occurred_at="0001-01-01T00:00:00Z"),
    ]
    assert rejects_of(ledger, tmp_path, rows) == [
        (1, "record.before_1900", "occurred_at"),
        (3, "record.before_1900", "occurred_at"),
        (4, "record.before_1900", "occurred_at"),
    ]


@pytest.mark.parametrize("offset", ["+25:00", "-24:00", "+23:60", "+99:99"])
def test_offset_out_of_range_message(ledger: Ledger, tmp_path: Path, offset: str) -> None:
    rows = [bill("e-1", occurred_at=f"2026-03-01T09:30:00{offset}")]
    assert rejects_of(ledger, tmp_path, rows) == [(1, "record.timestamp", "occurred_at")]
    [reject] = read_rejects(tmp_path / "in.jsonl")
    assert offset in reject["message"] and "-23:59 to +23:59" in reject["message"]
    assert "timedelta" not in reject["message"] and "datetime" not in reject["message"]


def test_nan_number_message(ledger: Ledger, tmp_path: Path) -> None:
    # NaN and infinities arrive from Parquet (JSON has no NaN) and as CSV text.
    path = tmp_path / "in.parquet"
    table = pa.table(
        {
            "provider": ["bank-a"] * 3,
            "provider_event_id": ["e-1", "e-2", "e-3"],
            "subject_scheme": ["custom"] * 3,
            "subject_id": ["alice"] * 3,
            "subject_kind": ["person"] * 3,
            "type": ["bill.paid"] * 3,
            "occurred_at": ["2026-03-01T09:30:00Z"] * 3,
            "attr_days_late": [0, 0, 0],
            "attr_amount": [math.nan, math.inf, 12.5],
        }
    )
    pq.write_table(table, path)
    csv = tmp_path / "in.csv"
    csv.write_text(
        "provider,provider_event_id,subject_scheme,subject_id,subject_kind,type,occurred_at,"
        "attr_days_late,attr_amount\n"
        "bank-a,c-1,custom,alice,person,bill.paid,2026-03-01T09:30:00Z,0,nan\n"
        "bank-a,c-2,custom,alice,person,bill.paid,2026-03-01T09:30:00Z,1.5,1\n",
        encoding="utf-8",
    )
    ingest_files(ledger, [path, csv])
    messages = [(r["line"], r["message"]) for r in read_rejects(path) + read_rejects(csv)]
    assert [line for line, _ in messages] == [1, 2, 2, 3]
    for _, message in messages[:3]:
        assert "must be a finite number" in message and "whole" not in message
    # An integer attribute still says what an integer is.
    assert "an integer (whole numbers within ±2^63)" in messages[3][1]


def test_huge_integer_for_a_number_names_the_integer_range() -> None:
    from credence.policy import load_policy
    from tests.ingest.conftest import POLICY

    validator = Validator(load_policy(POLICY).policy, lookup=lambda s, i: b"x" * 32)
    fields = dict(bill("e-1", attributes={"days_late": 0, "amount": 2**70}))
    reject = validator.check(RawRow(1, fields, fields))
    assert getattr(reject, "message", "").endswith(
        f"must be a number (integers within ±2^63), got {2**70}"
    )
