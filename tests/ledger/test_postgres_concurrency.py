"""PostgreSQL under concurrent writers and broken connections: exactly once, all or nothing."""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import Any

import psycopg
import pytest
from ledger_data import T0, append_in_chunks, batch

from credence.errors import StoreUnavailable
from credence.ledger import AppendResult
from credence.ledger.chain import Head
from credence.ledger.postgres import _STORED_RECORDS, PostgresStore


def _append_all(url: str, offset: int, queue: multiprocessing.Queue[tuple[int, int]]) -> None:
    store = PostgresStore(url)
    people, records = batch(6_000, subjects=80, offset=offset)
    inserted, unchanged = append_in_chunks(store, people, records, size=1_000)
    store.close()
    queue.put((inserted, unchanged))


def test_two_processes_append_overlapping_batches_exactly_once(postgres_url: str) -> None:
    setup = PostgresStore(postgres_url)
    setup.migrate()
    setup.close()
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[tuple[int, int]] = context.Queue()
    # Overlap by 3,000 keys, and by every subject, sent at the same moment.
    workers = [
        context.Process(target=_append_all, args=(postgres_url, o, queue)) for o in (0, 3_000)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    results = [queue.get(timeout=5) for _ in workers]
    assert sum(inserted for inserted, _ in results) == 9_000
    assert sum(unchanged for _, unchanged in results) == 3_000
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute(
            "SELECT count(*), count(DISTINCT provider_event_id) FROM records"
        ).fetchone() == (9_000, 9_000)
        assert conn.execute("SELECT count(*), count(DISTINCT lookup) FROM subjects").fetchone() == (
            80,
            80,
        )
        ids = {row[0] for row in conn.execute("SELECT provider_event_id FROM records")}
    assert ids == {f"e{i}" for i in range(9_000)}


def _backend_pids(url: str, marker: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query LIKE %s",
            (marker + "%",),
        ).fetchall()
    return [pid for (pid,) in rows]


def test_a_connection_killed_mid_batch_leaves_none_of_it(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    store.migrate()
    people, records = batch(150_000, subjects=2_000)
    outcome: list[AppendResult | BaseException] = []

    def append() -> None:
        try:
            outcome.append(store.append(people, records, ingested_at=T0))
        except BaseException as e:  # the thread reports whatever happened
            outcome.append(e)

    writer = threading.Thread(target=append)
    writer.start()
    killed = False
    deadline = time.monotonic() + 30
    while writer.is_alive() and not killed and time.monotonic() < deadline:
        for pid in _backend_pids(postgres_url, "COPY records"):
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                row = conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
                killed = bool(row and row[0])
        time.sleep(0.005)
    writer.join(60)
    assert killed, "the append finished before its COPY could be interrupted"
    (result,) = outcome
    assert isinstance(result, StoreUnavailable), result
    assert "connection to PostgreSQL" in result.message
    assert store.counts() == {"subjects": 0, "records": 0}
    # The pool recovers, and the same batch then lands whole.
    again = store.append(people, records[:10_000], ingested_at=T0)
    assert again.inserted == 10_000
    assert store.counts() == {"subjects": 2_000, "records": 10_000}
    store.close()


class _Interloper(PostgresStore):
    """A store after whose key lookups a foreign writer, one that skips the chain-head
    lock, commits a row with one of the keys just found missing."""

    def __init__(self, url: str, *, statement: str, params: tuple[object, ...]) -> None:
        super().__init__(url)
        self._foreign: tuple[str, str, tuple[object, ...]] | None = (url, statement, params)

    def _slip_in(self) -> None:
        if self._foreign is not None:
            url, statement, params = self._foreign
            self._foreign = None
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(statement, params)

    def _create_subjects(self, cursor: Any, new: Any, *, created_at: int) -> dict[bytes, int]:
        self._slip_in()
        return super()._create_subjects(cursor, new, created_at=created_at)

    def _copy_records(self, cursor: Any, rows: Any, *, head: Head, ingested_at: int) -> bytes:
        self._slip_in()
        return super()._copy_records(cursor, rows, head=head, ingested_at=ingested_at)


@pytest.mark.parametrize("size", [10, 50])  # every key looked up; only a sample looked up
def test_a_record_slipped_in_by_a_foreign_writer_is_caught_by_the_unique_key(
    postgres_url: str, size: int
) -> None:
    people, records = batch(size, subjects=5)
    sneaked = records[7]
    store = _Interloper(
        postgres_url,
        statement="INSERT INTO records (seq, subject_key, provider, provider_event_id, type, "
        "occurred_at, attributes, content_hash, ingested_at, chain_hash) "
        "VALUES (1000, 1, %s, %s, 'bill.paid', 0, '{}', %s, 0, '')",
        params=(sneaked.record.provider, sneaked.record.provider_event_id, sneaked.content_hash),
    )
    try:
        store.migrate()
        result = store.append(people, records, ingested_at=T0)
        # The COPY met the foreign row, the batch went again, and the key is unchanged.
        assert (result.inserted, result.unchanged, result.conflicts) == (size - 1, [7], [])
        assert store.counts() == {"subjects": 5, "records": size}
    finally:
        store.close()


def test_a_subject_slipped_in_by_a_foreign_writer_is_caught_by_the_unique_key(
    postgres_url: str,
) -> None:
    people, records = batch(20, subjects=4)
    store = _Interloper(
        postgres_url,
        statement="INSERT INTO subjects (lookup, kind, scheme, created_at) "
        "VALUES (%s, 'person', 'custom', 0)",
        params=(people[2].lookup,),
    )
    try:
        store.migrate()
        result = store.append(people, records, ingested_at=T0)
        assert result.inserted == 20
        assert store.counts() == {"subjects": 4, "records": 20}
        (foreign,) = [row for row in store.subjects() if row.lookup == people[2].lookup]
        assert len(store.records(foreign.key)) == 5  # its records went to the stored subject
    finally:
        store.close()


def test_looking_up_stored_keys_probes_the_index_whatever_the_statistics(
    postgres_url: str,
) -> None:
    # Regression: a join against the batch's keys became a hash join over all of records
    # once the statistics lagged, so every batch read the whole table.
    store = PostgresStore(postgres_url)
    store.migrate()
    people, records = batch(20_000, subjects=50)
    store.append(people, records, ingested_at=T0)
    store.close()
    keys = [new.record.key for new in records[:5_000]]
    with psycopg.connect(postgres_url) as conn:
        conn.execute("ANALYZE records")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN " + _STORED_RECORDS.replace("%b", "%s"),
                ([p for p, _ in keys], [e for _, e in keys]),
            )
        )
    assert "Index Scan using uq_records_provider_provider_event_id" in plan, plan
    assert "Seq Scan on records" not in plan, plan
