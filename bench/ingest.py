"""Ingest throughput, end to end: read + validate + hash + append, through the service.

Generates a synthetic JSON Lines file of consumer-trust records (default
200,000 rows over 20,000 subjects), ingests it into a fresh SQLite ledger
(and a fresh PostgreSQL database when CREDENCE_TEST_POSTGRES_URL is set) with
``credence.service.ingest.ingest_files``, and prints rows/s. Beside it, a
baseline measured in the same run: only reading and JSON-decoding the same
file, so the ratio shows what checking and storing cost on top of parsing.
A second pass over the same file (every row ``unchanged``) is timed too. The
CPU-seconds figure (all threads of this process) says how much of the wall
time was spent working, on a machine shared with other jobs.

    python bench/ingest.py [--rows 200000] [--subjects 20000] [--batch-size 10000]
                           [--profile out.html]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from credence.clock import FixedClock
from credence.crypto import KeyRing
from credence.ingest.formats import open_source
from credence.ledger import StoredPolicy, open_store
from credence.service.ingest import FileReport, ingest_files
from credence.service.ledger import Ledger
from credence.settings import load_settings
from credence.types import DAY_US, format_time, parse_time

POLICY = Path(__file__).resolve().parents[1] / "examples" / "policies" / "consumer-trust.yaml"
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


def _postgres_database(server: str) -> str:
    import psycopg

    name = f"credence_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server)._replace(path="/" + name))


def _drop_postgres(url: str, server: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_ledger(url: str, *, batch_size: int) -> Iterator[Ledger]:
    """A new ledger at ``url`` with the consumer-trust policy active."""
    store = open_store(url)
    try:
        store.migrate()
        text = POLICY.read_text(encoding="utf-8")
        store.add_policy(StoredPolicy("consumer-trust", "2026.11.1", "bench", text, NOW))
        settings = load_settings({}, db=url, batch_size=batch_size)
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


def timed(ledger: Ledger, path: Path) -> tuple[float, float, FileReport]:
    """Wall seconds, CPU seconds of this process (every thread), and the report."""
    started, cpu = time.perf_counter(), time.process_time()
    [report] = ingest_files(ledger, [path])
    return time.perf_counter() - started, time.process_time() - cpu, report


def run(name: str, url: str, path: Path, rows: int, *, batch_size: int, base: float) -> None:
    with fresh_ledger(url, batch_size=batch_size) as ledger:
        seconds, cpu, report = timed(ledger, path)
        again, _, second = timed(ledger, path)
    assert report.inserted == rows and report.rejected == 0, report
    assert second.unchanged == rows, second
    print(
        f"{name:<10} first pass {rows / seconds:>9,.0f} rows/s ({seconds:.2f}s, "
        f"{seconds / base:.1f}x read-only; {rows / cpu:,.0f} rows per CPU-second)   "
        f"re-ingest {rows / again:>9,.0f} rows/s ({again:.2f}s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the SQLite run here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="credence-bench-") as tmp:
        path = Path(tmp) / "records.jsonl"
        generate(path, rows=args.rows, subjects=args.subjects)
        size = path.stat().st_size
        base = baseline(path)
        print(f"{args.rows:,} rows over {args.subjects:,} subjects, {size / 1e6:.1f} MB JSONL")
        print(f"{'read-only':<10} {args.rows / base:>20,.0f} rows/s ({base:.2f}s, baseline)")
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
        run(
            "sqlite",
            str(Path(tmp) / "ledger.db"),
            path,
            args.rows,
            batch_size=args.batch_size,
            base=base,
        )
        server = os.environ.get("CREDENCE_TEST_POSTGRES_URL")
        if server:
            url = _postgres_database(server)
            try:
                run("postgresql", url, path, args.rows, batch_size=args.batch_size, base=base)
            finally:
                _drop_postgres(url, server)


if __name__ == "__main__":
    main()
