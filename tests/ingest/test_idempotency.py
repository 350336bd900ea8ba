"""Sending records again changes nothing; the same key with other content is a conflict."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credence.service.ingest import ingest_files
from credence.service.ledger import Ledger
from tests.ingest.conftest import bill, new_ledger, read_rejects, stored, write_jsonl


def test_reingesting_a_file_changes_nothing(ledger: Ledger, tmp_path: Path) -> None:
    rows = [bill(f"e-{i}", subject_id=f"s{i % 3}") for i in range(10)] + [bill("bad", type="x")]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    [first] = ingest_files(ledger, [path])
    before = stored(ledger)
    counts = ledger.store.counts()
    [second] = ingest_files(ledger, [path])
    assert (first.inserted, first.unchanged, first.rejected) == (10, 0, 1)
    assert (second.inserted, second.unchanged, second.rejected) == (0, 10, 1)
    assert stored(ledger) == before
    assert ledger.store.counts() == counts == {"subjects": 3, "records": 10}


def test_same_key_other_content_is_a_conflict(ledger: Ledger, tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "first.jsonl", [bill("e-1"), bill("e-2")])
    ingest_files(ledger, [first])
    before = stored(ledger)
    changed = bill("e-2", attributes={"days_late": 40, "amount": 120.5})
    second = write_jsonl(tmp_path / "second.jsonl", [bill("e-1"), changed, bill("e-3")])
    [report] = ingest_files(ledger, [second])
    assert (report.inserted, report.unchanged, report.rejected) == (1, 1, 1)
    [reject] = read_rejects(second)
    assert (reject["line"], reject["code"], reject["field"]) == (
        2,
        "record.duplicate",
        "provider_event_id",
    )
    assert reject["row"] == changed
    after = stored(ledger)
    [records] = after.values()
    assert [r for r in records if r[1] == "e-2"] == [
        r for r in next(iter(before.values())) if r[1] == "e-2"
    ]


def test_conflict_within_one_input(ledger: Ledger, tmp_path: Path) -> None:
    other = bill("e-1", occurred_at="2026-03-02T00:00:00Z")
    path = write_jsonl(tmp_path / "in.jsonl", [bill("e-1"), bill("e-1"), other])
    [report] = ingest_files(ledger, [path])
    assert (report.inserted, report.unchanged, report.rejected) == (1, 1, 1)
    assert [(r["line"], r["code"]) for r in read_rejects(path)] == [(3, "record.duplicate")]


def test_an_equal_instant_in_another_offset_is_unchanged(ledger: Ledger, tmp_path: Path) -> None:
    utc = write_jsonl(tmp_path / "utc.jsonl", [bill("e-1", occurred_at="2026-03-01T09:30:00Z")])
    local = write_jsonl(
        tmp_path / "local.jsonl", [bill("e-1", occurred_at="2026-03-01T17:30:00+08:00")]
    )
    ingest_files(ledger, [utc])
    [report] = ingest_files(ledger, [local])
    assert (report.unchanged, report.rejected) == (1, 0)


def test_a_subject_is_sealed_once(ledger: Ledger, tmp_path: Path) -> None:
    sealed: list[str] = []
    seal = ledger.keys.seal

    def counting(identifier: str) -> tuple[bytes, bytes]:
        sealed.append(identifier)
        return seal(identifier)

    ledger.keys.seal = counting  # type: ignore[method-assign]
    rows = [bill(f"e-{i}", subject_id=f"s{i % 2}") for i in range(8)]
    ingest_files(ledger, [write_jsonl(tmp_path / "a.jsonl", rows)])
    ingest_files(ledger, [write_jsonl(tmp_path / "b.jsonl", [bill("e-9", subject_id="s1")])])
    assert sorted(sealed) == ["s0", "s1"]


_event = st.fixed_dictionaries(
    {
        "id": st.integers(0, 12),
        "subject": st.sampled_from(["alice", "bob", "carol"]),
        "days_late": st.integers(-5, 60),
        "amount": st.one_of(st.integers(0, 500), st.floats(0, 500, allow_nan=False)),
        "day": st.integers(1, 28),
    }
)


def _row(event: dict[str, Any]) -> dict[str, Any]:
    return bill(
        f"e-{event['id']}",
        subject_id=event["subject"],
        occurred_at=f"2026-03-{event['day']:02d}T00:00:00Z",
        attributes={"days_late": event["days_late"], "amount": event["amount"]},
    )


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sets=st.lists(st.lists(_event, max_size=8), min_size=1, max_size=4), batch=st.integers(1, 4))
def test_any_sequence_of_ingests_repeated_gives_the_same_ledger(
    backend: str, sets: list[list[dict[str, Any]]], batch: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = "memory:" if backend == "memory" else str(Path(tmp) / "ledger.db")
        ledger = new_ledger(url, batch_size=batch)
        paths = [
            write_jsonl(Path(tmp) / f"{i}.jsonl", [_row(e) for e in s]) for i, s in enumerate(sets)
        ]
        first = ingest_files(ledger, paths)
        once = stored(ledger)
        again = ingest_files(ledger, paths + paths)
        assert stored(ledger) == once
        assert all(r.inserted == 0 for r in again)
        for report in first + again:
            assert report.rows == report.inserted + report.unchanged + report.rejected
        # The ledger holds exactly the first content sent under each key.
        expected: dict[str, dict[str, Any]] = {}
        for s in sets:
            for event in s:
                expected.setdefault(f"e-{event['id']}", _row(event))
        keys = {r[1] for records in once.values() for r in records}
        assert keys == set(expected)
        # Every other row is an unchanged resend or a reported conflict, never lost.
        for path, report in zip(paths, first, strict=True):
            if report.rejected:
                assert {r["code"] for r in read_rejects(path)} == {"record.duplicate"}
        ledger.store.close()


def test_the_collector_is_back_on_after_a_run_that_fails(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from credence.service import ingest

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the disk is gone")

    monkeypatch.setattr(ingest._Run, "prepare", broken)
    path = write_jsonl(tmp_path / "in.jsonl", [bill("e-1")])
    with pytest.raises(RuntimeError, match="disk"):
        ingest_files(ledger, [path])
    assert gc.isenabled()


def test_a_whole_number_beyond_64_bits_is_stored_not_a_crash(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Regression: hashing turned 1e20 into an integer orjson cannot write, failing the run."""
    rows = [
        bill("e-1", attributes={"days_late": 0, "amount": 1e20}),
        bill("e-2", attributes={"days_late": 0, "amount": -1e19}),
        bill("e-3", attributes={"days_late": 0, "amount": 1e19}),
    ]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    [first] = ingest_files(ledger, [path])
    [second] = ingest_files(ledger, [path])
    assert (first.inserted, first.rejected, second.unchanged) == (3, 0, 3)


def test_a_paused_collector_still_sweeps_cycles_every_so_many_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc
    import weakref

    from credence.service import ingest as service

    class Node:
        other: object = None

    monkeypatch.setattr(service, "_SWEEP_ROWS", 100)
    gc.disable()
    try:
        first, second = Node(), Node()
        first.other, second.other = second, first  # a cycle only the collector can free
        alive = weakref.ref(first)
        del first, second
        sweep = service._Sweeper()
        sweep(99)
        assert alive() is not None
        sweep(100)
        assert alive() is None
    finally:
        gc.enable()
