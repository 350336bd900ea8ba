"""A retraction withdraws an earlier record of the same provider and the same subject."""

from __future__ import annotations

from pathlib import Path

from credence.service.ingest import ingest_files
from credence.service.ledger import Ledger
from tests.ingest.conftest import bill, read_rejects, stored, write_jsonl


def retraction(event_id: str, target: str, **changes: object) -> dict[str, object]:
    return bill(event_id, retracts=target, attributes=None, **changes)


def test_retracting_a_stored_record(ledger: Ledger, tmp_path: Path) -> None:
    ingest_files(ledger, [write_jsonl(tmp_path / "a.jsonl", [bill("e-1")])])
    path = write_jsonl(tmp_path / "b.jsonl", [retraction("e-2", "e-1")])
    [report] = ingest_files(ledger, [path])
    assert (report.inserted, report.rejected) == (1, 0)
    [records] = stored(ledger).values()
    assert [(r[1], r[5], r[4]) for r in records] == [
        ("e-1", None, (("amount", 120.5), ("days_late", 0))),
        ("e-2", "e-1", ()),
    ]


def test_retracting_a_record_earlier_in_the_same_input(ledger: Ledger, tmp_path: Path) -> None:
    rows = [
        bill("e-1"),
        bill("e-x"),
        bill("e-y"),
        bill("e-z"),
        retraction("e-2", "e-1"),
        retraction("e-3", "e-z"),
    ]
    [report] = ingest_files(ledger, [write_jsonl(tmp_path / "in.jsonl", rows)])
    assert (report.inserted, report.rejected) == (6, 0)


def test_a_retraction_may_carry_declared_attributes_only(ledger: Ledger, tmp_path: Path) -> None:
    rows = [
        bill("e-1"),
        bill("e-2", retracts="e-1", attributes={"days_late": 0}),
        bill("e-3", retracts="e-1", attributes={"mood": "sad"}),
        bill("e-4", retracts="e-1", attributes={"days_late": "late"}),
    ]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    [report] = ingest_files(ledger, [path])
    assert report.inserted == 2
    assert [(r["line"], r["code"]) for r in read_rejects(path)] == [
        (3, "record.attribute_undeclared"),
        (4, "record.attribute_type"),
    ]


def test_retraction_targets_must_exist_and_belong_to_the_subject(
    ledger: Ledger, tmp_path: Path
) -> None:
    ingest_files(
        ledger, [write_jsonl(tmp_path / "a.jsonl", [bill("e-1"), bill("e-b", subject_id="bob")])]
    )
    rows = [
        retraction("r-1", "later"),  # its target comes after it: fine
        bill("later"),
        retraction("r-2", "e-b"),  # bob's record, retracted for alice
        retraction("r-3", "e-1", subject_id="bob"),  # alice's record, retracted for bob
        retraction("r-4", "e-1", provider="city-utilities"),  # another provider's key
        bill("e-c", subject_id="carol"),
        retraction("r-5", "e-c", subject_id="dave"),  # a new subject, same input
        retraction("r-6", "e-1"),  # fine
    ]
    path = write_jsonl(tmp_path / "b.jsonl", rows)
    [report] = ingest_files(ledger, [path])
    rejects = read_rejects(path)
    assert [(r["line"], r["code"], r["field"]) for r in rejects] == [
        (3, "record.retracts", "retracts"),
        (4, "record.retracts", "retracts"),
        (5, "record.retracts", "retracts"),
        (7, "record.retracts", "retracts"),
    ]
    assert "another subject" in rejects[0]["message"]
    assert "neither" not in rejects[2]["message"] and "in this file" in rejects[2]["message"]
    assert report.inserted == 4
    # A rejected retraction creates no subject.
    assert ledger.store.counts()["subjects"] == 3


def test_retraction_before_its_record_in_one_input(ledger: Ledger, tmp_path: Path) -> None:
    # Batches of three (the fixture): the targets come later in the same batch, in a later
    # batch, and in the last one; one retraction's target never comes.
    rows = [
        retraction("r-1", "e-1"),
        retraction("r-2", "e-4"),
        bill("e-1"),
        retraction("r-3", "missing"),
        bill("e-2"),
        bill("e-3"),
        bill("e-4"),
    ]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    [report] = ingest_files(ledger, [path])
    assert (report.rows, report.inserted, report.rejected) == (7, 6, 1)
    assert [(r["line"], r["code"]) for r in read_rejects(path)] == [(4, "record.retracts")]
    [records] = stored(ledger).values()
    assert {(r[1], r[5]) for r in records} >= {("r-1", "e-1"), ("r-2", "e-4")}
    # Sent again, the same file changes nothing, whichever order it holds.
    [again] = ingest_files(ledger, [path])
    assert (again.inserted, again.unchanged, again.rejected) == (0, 6, 1)


def test_rejects_stay_in_line_order_when_a_retraction_waits(ledger: Ledger, tmp_path: Path) -> None:
    rows = [retraction("r-1", "missing"), bill("e-1"), bill("e-2"), bill("e-3", type="nope")]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    [report] = ingest_files(ledger, [path])
    assert report.rejected == 2
    assert [r["line"] for r in read_rejects(path)] == [1, 4]
