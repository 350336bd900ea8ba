"""Store-level bulk append and verify speed: rows/s for memory, SQLite and PostgreSQL.

    python bench/ingest_store.py [--records 200000] [--batch 10000] [--subjects 20000]

PostgreSQL runs when CREDENCE_TEST_POSTGRES_URL names a server; a scratch
database is created and dropped. Records are built before the clock starts,
so the figures are the store's share of ingest only (hash chain included);
the ratio column is against the memory store measured in the same run. The
CPU column is this process's CPU time per appended row: on a server store the
rest of the wall time is the server's, and it is what an ingest sharing the
interpreter with the append (bench/ingest.py) pays. The last column is
``Store.verify`` (whole chain plus every content hash).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from credence.canonical import content_hash
from credence.ledger import NewRecord, NewSubject, Store, open_store
from credence.types import Record

T0 = 1_767_225_600_000_000


def build(n: int, subjects: int) -> list[tuple[list[NewSubject], list[NewRecord]]]:
    """Batches as ingest hands them over: new subjects first seen in the batch, then records."""
    lookups = [hashlib.sha256(f"subject-{i}".encode()).digest() for i in range(subjects)]
    made: list[NewRecord] = []
    for i in range(n):
        rec = Record(
            provider=("bank-a", "city-utilities", "court")[i % 3],
            provider_event_id=f"evt-{i:09d}",
            type="bill.paid",
            occurred_at=T0 + i * 1_000_000,
            attributes={"days_late": i % 45, "amount": round(i * 0.37, 2)},
            evidence=f"sha256:{i:064x}",
        )
        lookup = lookups[i % subjects]
        made.append(NewRecord(lookup, rec, content_hash(rec, subject_lookup=lookup, kind="person")))
    return [([], made)]


def batches(n: int, size: int, subjects: int) -> list[tuple[list[NewSubject], list[NewRecord]]]:
    """``n`` records in batches of ``size``, over ``subjects`` subjects each created once."""
    ((_, records),) = build(n, subjects)
    out: list[tuple[list[NewSubject], list[NewRecord]]] = []
    seen: set[bytes] = set()
    for start in range(0, n, size):
        chunk = records[start : start + size]
        new = []
        for r in chunk:
            if r.subject_lookup not in seen:
                seen.add(r.subject_lookup)
                new.append(
                    NewSubject(r.subject_lookup, "person", "custom", os.urandom(40), os.urandom(60))
                )
        out.append((new, chunk))
    return out


def run(
    store: Store, work: list[tuple[list[NewSubject], list[NewRecord]]]
) -> tuple[float, float, float, float]:
    """Seconds for a first append of everything (wall, and this process's CPU), for
    sending it all again (all unchanged), and for verifying the chain."""
    store.migrate()
    start, cpu = time.perf_counter(), time.process_time()
    for subjects, records in work:
        store.append(subjects, records, ingested_at=T0)
    first, first_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    for subjects, records in work:
        result = store.append(subjects, records, ingested_at=T0)
        assert result.inserted == 0
    again = time.perf_counter() - start
    total = sum(len(r) for _, r in work)
    assert store.counts()["records"] == total
    start = time.perf_counter()
    report = store.verify()
    checked = time.perf_counter() - start
    assert report.ok and report.head.records == total, report.problem
    return first, first_cpu, again, checked


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield str(Path(tmp) / "bench.db")


@contextmanager
def postgres_url(server: str) -> Iterator[str]:
    import psycopg

    name = f"credence_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server)._replace(path="/" + name))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def memory_url() -> Iterator[str]:
    yield "memory:"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    args = parser.parse_args()
    work = batches(args.records, args.batch, args.subjects)
    backends: list[tuple[str, Callable[[], AbstractContextManager[str]]]] = [
        ("memory", memory_url),
        ("sqlite", sqlite_url),
    ]
    server = os.environ.get("CREDENCE_TEST_POSTGRES_URL")
    if server:
        backends.append(("postgres", lambda: postgres_url(server)))
    print(f"{args.records:,} records, batches of {args.batch:,}, {args.subjects:,} subjects")
    print(
        f"{'store':<10}{'append rows/s':>16}{'CPU µs/row':>12}{'resend rows/s':>16}"
        f"{'vs memory':>12}{'verify rows/s':>16}"
    )
    baseline = None
    for name, make in backends:
        with make() as url:
            store = open_store(url)
            try:
                first, first_cpu, again, checked = run(store, work)
            finally:
                store.close()
        rate = args.records / first
        baseline = baseline or rate
        print(
            f"{name:<10}{rate:>16,.0f}{first_cpu / args.records * 1e6:>12.1f}"
            f"{args.records / again:>16,.0f}{rate / baseline:>11.2f}x{args.records / checked:>16,.0f}"
        )


if __name__ == "__main__":
    main()
