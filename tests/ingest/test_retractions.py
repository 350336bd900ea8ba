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


def test_retraction_targets_must_exist_before_and_belong_to_the_subject(
    ledger: Ledger, tmp_path: Path
) -> None:
    ingest_files(
        ledger, [write_jsonl(tmp_path / "a.jsonl", [bill("e-1"), bill("e-b", subject_id="bob")])]
    )
    rows = [
        retraction("r-1", "later"),  # its target comes after it
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
        (1, "record.retracts", "retracts"),
        (3, "record.retracts", "retracts"),
        (4, "record.retracts", "retracts"),
        (5, "record.retracts", "retracts"),
        (7, "record.retracts", "retracts"),
    ]
    assert "another subject" in rejects[1]["message"]
    assert "earlier" in rejects[0]["message"]
    assert report.inserted == 3
    # A rejected retraction creates no subject.
    assert ledger.store.counts()["subjects"] == 3
