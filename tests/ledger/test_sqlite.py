"""SQLite specifics: opening errors, pragmas, schema checks, and two writer processes."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from ledger_data import append_in_chunks, batch

from credence.errors import StoreConflict, StoreError, StoreNotInitialised, StoreUnavailable
from credence.ledger import open_store, schema
from credence.ledger import sql as sql_module
from credence.ledger.sqlite import SQLiteStore
from credence.types import Notice


def test_missing_directory_is_unavailable(tmp_path: Path) -> None:
    where = tmp_path / "nope" / "ledger.db"
    with pytest.raises(StoreUnavailable, match="does not exist") as caught:
        SQLiteStore(where)
    assert str(where.parent) in caught.value.message
    assert not where.parent.exists()


def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    where = tmp_path / "notes.db"
    where.write_text("these are not the pages you are looking for\n" * 200)
    with pytest.raises(StoreUnavailable, match="not a Credence ledger"):
        SQLiteStore(where)


def test_writer_pragmas(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "ledger.db", busy_timeout=7)
    try:
        raw = store._writer.connection.driver_connection
        assert raw is not None
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert raw.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert raw.execute("PRAGMA busy_timeout").fetchone() == (7000,)
    finally:
        store.close()


def test_migrated_schema_matches_the_tables_in_code(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "ledger.db")
    store.migrate()
    try:
        with store._engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []
    finally:
        store.close()


def test_head_revision_is_the_one_in_code() -> None:
    assert sql_module.known_revisions() == {"0001", "0002", "0003", "0004", "0005", "0006", "0007"}
    assert schema.HEAD_REVISION == "0007"


def test_older_and_newer_schemas_are_told_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    store = SQLiteStore(path)
    store.migrate()
    store.close()
    monkeypatch.setattr(schema, "HEAD_REVISION", "0099")
    monkeypatch.setattr(
        sql_module,
        "known_revisions",
        lambda: frozenset({"0001", "0002", "0003", "0004", "0005", "0006", "0007", "0099"}),
    )
    store = SQLiteStore(path)
    with pytest.raises(StoreNotInitialised, match="older schema") as caught:
        store.check_schema()
    assert f"credence init --db {path}" in caught.value.one_line()
    store.close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE alembic_version SET version_num = 'ffff'")
    store = SQLiteStore(path)
    with pytest.raises(StoreError, match="newer"):
        store.check_schema()
    store.close()


def test_reads_before_migrate_say_how_to_initialise(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "ledger.db"))
    try:
        with pytest.raises(StoreNotInitialised, match="no Credence schema"):
            store.counts()
    finally:
        store.close()


def _append_all(path: str, offset: int, queue: multiprocessing.Queue[tuple[int, int, int]]) -> None:
    store = SQLiteStore(path)
    people, records = batch(3_000, subjects=50, offset=offset)
    inserted, unchanged = append_in_chunks(store, people, records, size=500)
    store.close()
    queue.put((offset, inserted, unchanged))


def test_two_processes_append_overlapping_batches_exactly_once(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.db")
    setup = SQLiteStore(path)
    setup.migrate()
    setup.close()
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[tuple[int, int, int]] = context.Queue()
    workers = [context.Process(target=_append_all, args=(path, o, queue)) for o in (0, 1_500)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    results = [queue.get(timeout=5) for _ in workers]
    assert sum(inserted for _, inserted, _ in results) == 4_500
    assert sum(unchanged for _, _, unchanged in results) == 1_500
    store = SQLiteStore(path)
    try:
        assert store.counts() == {"subjects": 50, "records": 4_500}
        keys = store.find_record_subjects([("bank-a", f"e{i}") for i in range(4_500)])
        assert len(keys) == 4_500
    finally:
        store.close()


def test_a_unit_of_work_is_invisible_to_other_readers_until_it_commits(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = SQLiteStore(tmp_path / "ledger.db")
    store.migrate()
    try:
        notice = Notice("rental_suspension", 1, 2, None)
        with ThreadPoolExecutor(1) as other, store.transaction():
            store.add_notice(7, notice)
            assert store.notices(7) == [notice]  # this thread reads its own write
            assert other.submit(store.notices, 7).result() == []  # another does not, yet
        assert store.notices(7) == [notice]
    finally:
        store.close()


@contextmanager
def _two_stores(path: Path, *, busy_timeout: float) -> Iterator[tuple[SQLiteStore, SQLiteStore]]:
    # Two stores on one file stand for two server processes: flock(2) locks belong to
    # the open file, so they exclude each other in one process as across processes.
    first, second = SQLiteStore(path), SQLiteStore(path, busy_timeout=busy_timeout)
    first.migrate()
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def test_a_second_store_on_the_file_waits_its_turn_and_then_writes(tmp_path: Path) -> None:
    done: list[float] = []
    with _two_stores(tmp_path / "ledger.db", busy_timeout=10) as (first, second):
        with first.transaction():
            first.add_notice(1, Notice("rental_suspension", 1, 2, None))
            writer = threading.Thread(
                target=lambda: (second.add_notice(2, Notice("x", 1, 2, None)), done.append(1.0))
            )
            writer.start()
            writer.join(0.3)
            assert writer.is_alive() and not done  # it waits while the first holds the turn
        writer.join(10)
        assert done and [n.entitlement for n in first.notices(2)] == ["x"]
        assert len(first.notices(1)) == 1


def test_a_store_gives_up_its_turn_after_busy_timeout(tmp_path: Path) -> None:
    with _two_stores(tmp_path / "ledger.db", busy_timeout=0.2) as (first, second):
        with first.transaction():
            first.add_notice(1, Notice("rental_suspension", 1, 2, None))
            began = time.monotonic()
            with pytest.raises(StoreConflict, match="busy"):
                second.add_notice(2, Notice("x", 1, 2, None))
            assert 0.2 <= time.monotonic() - began < 5
        second.add_notice(2, Notice("x", 1, 2, None))  # the turn is free again
        assert len(first.notices(2)) == 1


def test_a_unit_of_work_holds_the_files_writer_turn_until_it_commits(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    store = SQLiteStore(path)
    store.migrate()
    fd = os.open(path, os.O_RDONLY)
    try:
        with store.transaction():
            store.add_notice(1, Notice("rental_suspension", 1, 2, None))
            with pytest.raises(BlockingIOError):  # another process would wait here
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once it committed
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
        store.close()
