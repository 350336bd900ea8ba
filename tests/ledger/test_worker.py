"""A SQL store's appends carried out by a worker process: same results, errors whole, no hangs."""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ledger_data import T0, batch, record, subject

from credence.errors import StoreError, StoreUnavailable
from credence.ledger import open_store
from credence.ledger.sql import SQLStore
from credence.ledger.sqlite import SQLiteStore
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


# A parent process: starts a worker, sends it batches, says the worker's pid, then waits
# to be killed. With "portable" its worker gets no parent-death signal, so only the
# checks before each batch and each commit stop it.
_PARENT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from ledger_data import T0, batch
from credence.ledger import worker
if sys.argv[3] == "portable":
    worker._BOOT = worker._BOOT.replace(
        "from credence.ledger.worker import serve",
        "import credence.ledger.worker as w\\nw._die_with_parent = lambda parent: None\\n"
        "serve = w.serve",
    )
people, records = batch(50, subjects=5)
w = worker.StoreWorker(sys.argv[2], display="the test ledger")
futures = [w.submit(people, records[i : i + 10], ingested_at=T0) for i in range(0, 50, 10)]
print(w._process.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Whether a process (not our child: it was reparented) still runs, zombies excluded."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@contextmanager
def _hold_writes(store: SQLStore) -> Iterator[Callable[[], None]]:
    """Keep every append waiting (the SQLite write lock, or PostgreSQL's chain-head row)."""
    if isinstance(store, SQLiteStore):
        conn: Any = sqlite3.connect(store.path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        release = lambda: conn.execute("ROLLBACK")  # noqa: E731
    else:
        import psycopg

        conn = psycopg.connect(store.location)
        conn.execute("SELECT 1 FROM chain_head WHERE id = 1 FOR UPDATE")
        release = conn.rollback
    try:
        yield release
    finally:
        conn.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["signal", "portable"])
def test_worker_dies_with_parent(sql_store: SQLStore, how: str) -> None:
    """Killed with its parent, a worker lived on and could commit one more batch."""
    here = str(Path(__file__).parent)
    with _hold_writes(sql_store) as release:
        parent = subprocess.Popen(
            [sys.executable, "-c", _PARENT, here, sql_store.location, how],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            time.sleep(1.5)  # the batches are in the pipe; the first waits for the lock
            assert _alive(child)
            parent.kill()
            parent.wait()
            if how == "signal":  # the kernel ends it at once, even waiting on the database
                assert _wait_until(lambda: not _alive(child), 2.0)
            else:  # it stops at the commit, once the lock lets it get there
                time.sleep(0.5)
                assert _alive(child)
            release()
            assert _wait_until(lambda: not _alive(child), 10.0)
        finally:
            parent.kill()
            parent.wait()
            if parent.stdout is not None:
                parent.stdout.close()
    time.sleep(0.2)
    assert sql_store.counts()["records"] == 0  # nothing committed after the parent went
    assert sql_store.verify().ok


def test_worker_killed_message(tmp_path: Path) -> None:
    """Killing only the worker sometimes said it "is still running"."""
    store = open_store(str(tmp_path / "ledger.db"))
    assert isinstance(store, SQLStore)
    store.migrate()
    alice = subject("alice")
    try:
        for attempt in range(8):
            worker = StoreWorker(store.location, display="the test ledger")
            first = record(alice.lookup, f"e-{attempt}")
            assert worker.submit([alice], [first], ingested_at=T0).result(60).inserted == 1
            pid = worker._process.pid
            os.kill(pid, signal.SIGKILL)
            lost = worker.submit([], [record(alice.lookup, f"x-{attempt}")], ingested_at=T0)
            with pytest.raises(StoreError) as caught:
                lost.result(timeout=60)
            message = caught.value.message
            assert f"process {pid} was killed by signal 9 (SIGKILL)" in message, message
            assert "still running" not in message
            worker.close()
        assert store.counts()["records"] == 8
    finally:
        store.close()
