"""A SQL store's appends carried out by a worker process: same results, errors whole, no hangs."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_data import T0, batch, record, subject

from credence.errors import StoreError, StoreUnavailable
from credence.ledger import open_store
from credence.ledger.sql import SQLStore
from credence.ledger.worker import StoreWorker


@pytest.fixture(params=["sqlite", "postgres"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLStore]:
    """A fresh, migrated SQLite or PostgreSQL ledger."""
    url = (
        str(tmp_path / "ledger.db")
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    store = open_store(url)
    assert isinstance(store, SQLStore)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def test_appends_through_a_worker_are_appends(sql_store: SQLStore) -> None:
    subjects, records = batch(30, subjects=4)
    with StoreWorker(sql_store.location, display=sql_store.display) as worker:
        futures = [
            worker.submit(subjects, records[:10], ingested_at=T0),
            worker.submit([], records[10:], ingested_at=T0 + 1),
            worker.submit([], records, ingested_at=T0 + 2),  # all sent before
        ]
        results = [future.result(timeout=60) for future in futures]
    assert [r.inserted for r in results] == [10, 20, 0]
    assert results[2].unchanged == list(range(30)) and not results[2].conflicts
    # The parent's own connection sees what the child wrote, chain and all.
    assert sql_store.counts() == {"subjects": 4, "records": 30}
    report = sql_store.verify()
    assert report.ok and report.head is not None and report.head.records == 30


def test_a_conflict_is_reported_by_index(sql_store: SQLStore) -> None:
    alice = subject("alice")
    with StoreWorker(sql_store.location, display=sql_store.display) as worker:
        first = worker.submit([alice], [record(alice.lookup, "e-1")], ingested_at=T0)
        changed = record(alice.lookup, "e-1", attributes={"days_late": 9})
        again = worker.submit([], [record(alice.lookup, "e-2"), changed], ingested_at=T0)
        assert first.result(timeout=60).inserted == 1
        result = again.result(timeout=60)
    assert (result.inserted, result.unchanged, result.conflicts) == (1, [], [1])


def test_after_a_failed_batch_nothing_sent_later_is_written(sql_store: SQLStore) -> None:
    alice = subject("alice")
    with StoreWorker(sql_store.location, display=sql_store.display) as worker:
        good = worker.submit([alice], [record(alice.lookup, "e-1")], ingested_at=T0)
        stranger = subject("stranger")  # never created: the store refuses the whole batch
        bad = worker.submit([], [record(stranger.lookup, "e-2")], ingested_at=T0)
        later = worker.submit([], [record(alice.lookup, "e-3")], ingested_at=T0)
        assert good.result(timeout=60).inserted == 1
        with pytest.raises(ValueError, match="neither stored nor new") as caught:
            bad.result(timeout=60)
        assert any("ledger worker process" in note for note in caught.value.__notes__)
        with pytest.raises(StoreError, match="an earlier batch failed"):
            later.result(timeout=60)
    assert sql_store.counts()["records"] == 1


def test_a_ledger_that_cannot_be_opened_fails_every_batch_with_the_reason(
    tmp_path: Path,
) -> None:
    where = str(tmp_path / "missing" / "ledger.db")
    alice = subject("alice")
    with StoreWorker(where, display=where) as worker:
        futures = [
            worker.submit([alice], [record(alice.lookup, f"e-{i}")], ingested_at=T0)
            for i in range(2)
        ]
        for future in futures:
            with pytest.raises(StoreUnavailable, match="does not exist") as caught:
                future.result(timeout=60)
            # The error crossed the pipe whole: its code, path and suggestion.
            assert caught.value.code == "store.unavailable"
            assert caught.value.path == where
            assert caught.value.suggestion


def test_a_worker_that_dies_fails_what_it_was_sent_and_does_not_hang(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "ledger.db"))
    assert isinstance(store, SQLStore)
    store.migrate()
    alice = subject("alice")
    try:
        worker = StoreWorker(store.location, display="the test ledger")
        assert worker.submit([alice], [record(alice.lookup, "e-1")], ingested_at=T0).result(60)
        worker._process.kill()
        worker._process.wait()
        lost = worker.submit([], [record(alice.lookup, "e-2")], ingested_at=T0)
        with pytest.raises(StoreError, match="stopped answering") as caught:
            lost.result(timeout=60)
        assert "ingest the same files again" in (caught.value.suggestion or "")
        worker.close()
        worker.close()  # closing twice is harmless
        with pytest.raises(StoreError, match="closed"):
            worker.submit([], [], ingested_at=T0)
        assert store.counts()["records"] == 1
    finally:
        store.close()


def test_errors_keep_their_fields_when_pickled() -> None:
    error = StoreError(
        "the ledger failed",
        path="ledger.db",
        line=3,
        suggestion="retry",
        code="store.thing",
        details={"batch": 2},
    )
    error.add_note("raised elsewhere")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is StoreError
    assert copy.to_dict() == error.to_dict()
    assert copy.one_line() == error.one_line()
    assert copy.args == error.args and copy.__notes__ == ["raised elsewhere"]
