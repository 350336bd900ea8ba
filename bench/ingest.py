"""Ingest throughput, end to end: read + validate + hash + append, through the service.

Generates a synthetic JSON Lines file of consumer-trust records (default
200,000 rows over 20,000 subjects), ingests it into a fresh SQLite ledger
(and a fresh PostgreSQL database when CREDENCE_TEST_POSTGRES_URL is set) with
``credence.service.ingest.ingest_files``, and prints rows/s. Beside it,
measured in the same run so the ratios mean something on a shared machine:

- read-only: only reading and JSON-decoding the file (the baseline);
- checks only: reading and checking every row (``Validator.check``), nothing
  stored; and the same through the general path alone (``check_general``),
  which is what every row cost before the quick path;
- no store: the whole service, with a store whose ``append`` does nothing.

Each backend is measured twice: appending in this one process, and through
the ledger worker process (``CREDENCE_INGEST_WORKER=on``), and the ratio
between the two is printed. Per-stage microseconds per row, for the one
process runs, follow by difference: read, check, service batch work
(sealing new subjects and keeping batches in memory instead of one row), and
the store's append. A second pass over the same file (every row
``unchanged``) is timed too. The CPU-seconds figure (every thread of this
process and of the worker) says how much of the wall time was spent
working, on a machine shared with other jobs.

    python bench/ingest.py [--rows 200000] [--subjects 20000] [--batch-size 10000]
                           [--profile out.prof]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest_store import postgres_url

from credence.clock import FixedClock
from credence.crypto import KeyRing
from credence.ingest.formats import open_source
from credence.ingest.validate import Validator
from credence.ledger import StoredPolicy, open_store
from credence.ledger.store import AppendResult, NewRecord, NewSubject, Store, SubjectRow
from credence.service.ingest import WORKER_AFTER_ROWS, FileReport, ingest_files
from credence.service.ledger import Ledger
from credence.settings import load_settings
from credence.types import DAY_US, format_time, parse_time

POLICY = Path(__file__).resolve().parents[1] / "examples" / "policies" / "consumer-trust.yaml"
TARGET = 50_000  # rows/s end to end into SQLite
START = parse_time("2023-01-01T00:00:00Z")
NOW = parse_time("2026-11-26T00:00:00Z")


def record(i: int, rng: random.Random, subjects: int) -> dict[str, object]:
    """One plausible consumer-trust record."""
    subject = rng.randrange(subjects)
    at = format_time(START + rng.randrange(3 * 365) * DAY_US + rng.randrange(86_400) * 1_000_000)
    base = {
        "subject_scheme": "custom",
        "subject_id": f"customer-{subject:07d}",
        "subject_kind": "person",
        "occurred_at": at,
    }
    kind = rng.random()
    if kind < 0.55:
        late = rng.choice((0, 0, 0, 3, 45))
        attrs: dict[str, object] = {"days_late": late, "amount": round(rng.uniform(10, 300), 2)}
        head = {"provider": "bank-a", "provider_event_id": f"b-{i}", "type": "bill.paid"}
    elif kind < 0.85:
        attrs = {"days_late": rng.choice((0, 0, 7)), "amount": 900.0}
        head = {"provider": "homes-marketplace", "provider_event_id": f"r-{i}", "type": "rent.paid"}
    else:
        attrs = {"days_late": rng.choice((0, 4)), "damaged": rng.random() < 0.1}
        head = {"provider": "rent-it", "provider_event_id": f"x-{i}", "type": "rental.returned"}
    row: dict[str, object] = {**head, **base, "attributes": attrs}
    if i % 10 == 0:
        row["evidence"] = f"https://records.example/{head['provider']}/{i}"
    return row


def generate(path: Path, *, rows: int, subjects: int, seed: int = 7) -> None:
    """Write the synthetic input file."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            out.write(json.dumps(record(i, rng, subjects), separators=(",", ":")) + "\n")


@contextmanager
def ledger_address(backend: str, scratch: Path, name: str) -> Iterator[str]:
    """A new, empty ledger address: a SQLite file in ``scratch``, or a scratch PostgreSQL
    database on the server in CREDENCE_TEST_POSTGRES_URL, dropped afterwards."""
    if backend == "sqlite":
        yield str(scratch / f"{name}.db")
        return
    with postgres_url(os.environ["CREDENCE_TEST_POSTGRES_URL"]) as url:
        yield url


@contextmanager
def fresh_ledger(url: str, *, batch_size: int, worker: str = "off") -> Iterator[Ledger]:
    """A new ledger at ``url`` with the consumer-trust policy active."""
    store = open_store(url)
    try:
        store.migrate()
        text = POLICY.read_text(encoding="utf-8")
        store.add_policy(StoredPolicy("consumer-trust", "2026.11.1", "bench", text, NOW))
        settings = load_settings({}, db=url, batch_size=batch_size, ingest_worker=worker)
        yield Ledger(
            store=store, keys=KeyRing(os.urandom(32)), settings=settings, clock=FixedClock(NOW)
        )
    finally:
        store.close()


def baseline(path: Path) -> float:
    """Seconds to only read and decode the file, row by row."""
    started = time.perf_counter()
    for _ in open_source(path).rows():
        pass
    return time.perf_counter() - started


def checks_only(ledger: Ledger, path: Path, *, general: bool) -> float:
    """Seconds to read and check every row (collector paused, as ingest does), storing nothing."""
    validator = Validator(ledger.loaded_policy.policy, lookup=ledger.keys.lookup)
    check: Callable[[Any], object] = validator.check_general if general else validator.check
    gc.disable()
    try:
        started = time.perf_counter()
        for row in open_source(path).rows():
            check(row)
        return time.perf_counter() - started
    finally:
        gc.enable()


class NullAppend:
    """A store whose ``append`` writes nothing and whose ledger holds no subject or record."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def find_subjects(self, lookups: Collection[bytes]) -> dict[bytes, SubjectRow]:
        return {}

    def find_record_subjects(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return {}

    def append(
        self, subjects: Sequence[NewSubject], records: Sequence[NewRecord], *, ingested_at: int
    ) -> AppendResult:
        return AppendResult(inserted=len(records))


def no_store(url: str, path: Path, *, batch_size: int) -> float:
    """Seconds for the whole service (read, check, batch work, sealing), the store's append left out."""
    with fresh_ledger(url, batch_size=batch_size) as ledger:
        ledger.store = NullAppend(ledger.store)
        seconds, _, _ = timed(ledger, path)
    return seconds


def timed(ledger: Ledger, path: Path) -> tuple[float, float, FileReport]:
    """Wall seconds, CPU seconds (every thread of this process and of the worker), the report."""
    started, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    [report] = ingest_files(ledger, [path])
    used = time.process_time() - cpu + _children_cpu() - children
    return time.perf_counter() - started, used, report


def _children_cpu() -> float:
    """CPU seconds of the child processes that have ended (a worker ends with its run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    name: str, url: str, path: Path, rows: int, *, batch_size: int, base: float, worker: str
) -> float:
    """Ingest into a fresh ledger, twice; print both; return the first pass's seconds."""
    with fresh_ledger(url, batch_size=batch_size, worker=worker) as ledger:
        seconds, cpu, report = timed(ledger, path)
        again, _, second = timed(ledger, path)
    assert report.inserted == rows and report.rejected == 0, report
    assert second.unchanged == rows, second
    print(
        f"{name:<24} first pass {rows / seconds:>9,.0f} rows/s ({seconds:.2f}s, "
        f"{seconds / base:.1f}x read-only; {rows / cpu:,.0f} rows per CPU-second)   "
        f"re-ingest {rows / again:>9,.0f} rows/s ({again:.2f}s)"
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the SQLite run here")
    args = parser.parse_args()
    rows = args.rows

    with tempfile.TemporaryDirectory(prefix="credence-bench-") as tmp:
        path = Path(tmp) / "records.jsonl"
        generate(path, rows=rows, subjects=args.subjects)
        size = path.stat().st_size
        base = baseline(path)
        with fresh_ledger(str(Path(tmp) / "checks.db"), batch_size=args.batch_size) as ledger:
            general = checks_only(ledger, path, general=True)
            checks = checks_only(ledger, path, general=False)
        service = no_store(str(Path(tmp) / "null.db"), path, batch_size=args.batch_size)
        print(f"{rows:,} rows over {args.subjects:,} subjects, {size / 1e6:.1f} MB JSONL")
        print(f"{'read-only':<24} {rows / base:>21,.0f} rows/s ({base:.2f}s, baseline)")
        print(
            f"{'checks only':<24} {rows / checks:>21,.0f} rows/s ({checks:.2f}s, "
            f"{checks / base:.1f}x read-only; general path alone {rows / general:,.0f} rows/s, "
            f"{general / base:.1f}x)"
        )
        print(
            f"{'no store':<24} {rows / service:>21,.0f} rows/s ({service:.2f}s, "
            f"{service / base:.1f}x read-only: everything but the store's append)"
        )
        if args.profile:
            import cProfile

            with fresh_ledger(str(Path(tmp) / "profile.db"), batch_size=args.batch_size) as ledger:
                cProfile.runctx(
                    "ingest_files(ledger, [path])",
                    globals(),
                    {"ledger": ledger, "path": path},
                    filename=str(args.profile),
                )
            print(f"profile written to {args.profile} (python -m pstats {args.profile})")
        backends = ["sqlite"]
        if os.environ.get("CREDENCE_TEST_POSTGRES_URL"):
            backends.append("postgresql")
        ends: dict[str, float] = {}
        with_worker: dict[str, float] = {}
        for backend in backends:
            for worker, into in (("off", ends), ("on", with_worker)):
                how = "worker" if worker == "on" else "one process"
                with ledger_address(backend, Path(tmp), f"{backend}-{worker}") as url:
                    into[backend] = run(
                        f"{backend} ({how})",
                        url,
                        path,
                        rows,
                        batch_size=args.batch_size,
                        base=base,
                        worker=worker,
                    )
        us = 1e6 / rows
        stages = [
            ("read", base),
            ("check (general path)", general - base),
            ("check", checks - base),
            ("service batch work", service - checks),
        ]
        print("µs per row, wall:", ", ".join(f"{n} {s * us:.1f}" for n, s in stages), end="")
        for name, seconds in ends.items():
            print(f", store append + overlap ({name}) {(seconds - service) * us:.1f}", end="")
        print(f"; end to end {', '.join(f'{n} {s * us:.1f}' for n, s in ends.items())}")
        for name, seconds in with_worker.items():
            print(
                f"{name} with the ledger worker: {ends[name] / seconds:.2f}x the rows/s of one "
                f"process ({seconds * us:.1f} µs per row end to end)"
            )
        # What `credence ingest` does under the default CREDENCE_INGEST_WORKER=auto.
        with ledger_address("sqlite", Path(tmp), "sqlite-auto") as url:
            auto = run(
                "sqlite (auto)",
                url,
                path,
                rows,
                batch_size=args.batch_size,
                base=base,
                worker="auto",
            )
        print(
            f"target >= {TARGET:,} rows/s into SQLite, as ingest runs by default (auto: "
            f"the worker past {WORKER_AFTER_ROWS:,} rows): {rows / auto:,.0f} rows/s, "
            f"{'met' if rows / auto >= TARGET else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
