"""Every reject reason, with its line and code; good rows beside bad ones still land."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from credence.ingest.rejects import CODES
from credence.service.ingest import ingest_files
from credence.service.ledger import Ledger
from tests.ingest.conftest import ROOT, bill, read_rejects, stored, write_jsonl

CASES: list[tuple[str, Any, str, str | None]] = [
    ("bad json", '{"provider": "bank-a",', "record.malformed", None),
    ("not an object", "[1, 2]", "record.malformed", None),
    ("missing provider", bill("x", provider=None), "record.missing", "provider"),
    ("empty subject id", bill("x", subject_id=""), "record.missing", "subject_id"),
    ("missing occurred_at", bill("x", occurred_at=None), "record.missing", "occurred_at"),
    ("numeric event id", bill("x", provider_event_id=7), "record.invalid", "provider_event_id"),
    ("event id with spaces", bill(" x"), "record.invalid", "provider_event_id"),
    ("unknown field", bill("x", subject_name="Alice"), "record.invalid", "subject_name"),
    ("bad kind", bill("x", subject_kind="company"), "record.invalid", "subject_kind"),
    ("unknown type", bill("x", type="bill.payed"), "record.unknown_type", "type"),
    ("provider not allowed", bill("x", provider="rent-it"), "record.provider", "provider"),
    ("no offset", bill("x", occurred_at="2026-03-01T09:30:00"), "record.timestamp", "occurred_at"),
    ("bare date", bill("x", occurred_at="2026-03-01"), "record.timestamp", "occurred_at"),
    (
        "impossible date",
        bill("x", occurred_at="2026-02-30T09:30:00Z"),
        "record.timestamp",
        "occurred_at",
    ),
    ("not a time", bill("x", occurred_at="yesterday"), "record.timestamp", "occurred_at"),
    (
        "missing attribute",
        bill("x", attributes={"days_late": 0}),
        "record.attribute_missing",
        "attributes.amount",
    ),
    (
        "string for integer",
        bill("x", attributes={"days_late": "3", "amount": 1}),
        "record.attribute_type",
        "attributes.days_late",
    ),
    (
        "boolean is not an integer",
        bill("x", attributes={"days_late": True, "amount": 1}),
        "record.attribute_type",
        "attributes.days_late",
    ),
    (
        "float is not an integer",
        bill("x", attributes={"days_late": 1.5, "amount": 1}),
        "record.attribute_type",
        "attributes.days_late",
    ),
    (
        "integer out of range",
        bill("x", attributes={"days_late": 2**64, "amount": 1}),
        "record.attribute_type",
        "attributes.days_late",
    ),
    (
        "undeclared attribute",
        bill("x", attributes={"days_late": 0, "amount": 1, "religion": "x"}),
        "record.attribute_undeclared",
        "attributes.religion",
    ),
    ("attributes not an object", bill("x", attributes=[1]), "record.invalid", "attributes"),
    ("bad evidence", bill("x", evidence="see the file"), "record.invalid", "evidence"),
    ("unknown scheme", bill("x", subject_scheme="xx.nope"), "identifier.invalid", "subject_scheme"),
    (
        "invalid identifier",
        bill("x", subject_scheme="cn.ric", subject_id="110105194912310021"),
        "identifier.invalid",
        "subject_id",
    ),
    (
        "scheme for the other kind",
        bill(
            "x",
            subject_scheme="cn.ric",
            subject_id="11010519491231002X",
            subject_kind="organization",
        ),
        "identifier.invalid",
        "subject_kind",
    ),
    ("retracts itself", bill("x", retracts="x"), "record.retracts", "retracts"),
    ("retracts nothing", bill("x", retracts="nope"), "record.retracts", "retracts"),
    (
        "stored as another kind",
        bill("x", subject_kind="organization"),
        "record.subject_kind",
        "subject_kind",
    ),
]


@pytest.mark.parametrize(
    ("bad", "code", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_reject_has_its_line_code_and_field(
    ledger: Ledger, tmp_path: Path, bad: Any, code: str, field: str | None
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [bill("good-1"), bad, bill("good-2")])
    [report] = ingest_files(ledger, [path])
    rejects = read_rejects(path)
    assert [(r["line"], r["code"], r["field"]) for r in rejects] == [(2, code, field)]
    assert rejects[0]["message"]
    assert (report.rows, report.inserted, report.rejected) == (3, 2, 1)
    assert report.rejects_path == tmp_path / "in.jsonl.rejects.jsonl"


def test_the_reject_row_is_the_row_as_read(ledger: Ledger, tmp_path: Path) -> None:
    bad = bill("x", type="bill.payed")
    path = write_jsonl(tmp_path / "in.jsonl", ["{oops", bad])
    ingest_files(ledger, [path])
    first, second = read_rejects(path)
    assert first["row"] == "{oops"
    assert second["row"] == bad
    assert "did you mean `bill.paid`?" in second["message"]


def test_every_code_used_is_known_and_documented() -> None:
    docs = (ROOT / "docs" / "records.md").read_text(encoding="utf-8")
    used = {case[2] for case in CASES} | {"record.duplicate"}
    assert used <= set(CODES)
    assert [code for code in CODES if f"`{code}`" not in docs] == []


def test_good_rows_land_between_many_bad_ones(ledger: Ledger, tmp_path: Path) -> None:
    rows: list[Any] = []
    for i in range(20):
        rows.append(bill(f"good-{i}", subject_id=f"s{i % 4}"))
        rows.append(bill(f"bad-{i}", type="nope"))
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    [report] = ingest_files(ledger, [path])
    assert (report.inserted, report.rejected) == (20, 20)
    assert [r["line"] for r in read_rejects(path)] == list(range(2, 41, 2))
    assert sum(len(v) for v in stored(ledger).values()) == 20


def test_undeclared_attributes_are_never_stored_nor_copied(ledger: Ledger, tmp_path: Path) -> None:
    attrs = {"days_late": 0, "amount": 1, "religion": "secret-faith", "union_member": True}
    path = write_jsonl(tmp_path / "in.jsonl", [bill("x", attributes=attrs), bill("y")])
    ingest_files(ledger, [path])
    for records in stored(ledger).values():
        for record in records:
            assert dict(record[4]).keys() == {"days_late", "amount"}
    [reject] = read_rejects(path)
    text = (tmp_path / "in.jsonl.rejects.jsonl").read_text()
    assert reject["row"]["attributes"]["days_late"] == 0
    assert "secret-faith" not in text and "true" not in text


def test_rejects_file_is_rewritten_and_a_stale_one_removed(ledger: Ledger, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl", [bill("a"), bill("b", type="nope"), bill("c", type="nope")]
    )
    ingest_files(ledger, [path])
    assert len(read_rejects(path)) == 2
    write_jsonl(path, [bill("a"), bill("b", type="nope")])
    ingest_files(ledger, [path])
    assert len(read_rejects(path)) == 1
    write_jsonl(path, [bill("a")])
    [report] = ingest_files(ledger, [path])
    assert report.rejects_path is None
    assert not (tmp_path / "in.jsonl.rejects.jsonl").exists()


def test_a_file_without_rejects_leaves_no_rejects_file(ledger: Ledger, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [bill("a"), "", bill("b")])
    [report] = ingest_files(ledger, [path])
    assert (report.rows, report.inserted, report.rejected, report.rejects_path) == (2, 2, 0, None)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("in.")] == ["in.jsonl"]
