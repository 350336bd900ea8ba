"""Batch rescoring benchmark: Credence's plan against a hand-written DuckDB query and a Python loop.

    python bench/batch.py                       # 10M records
    python bench/batch.py --records 100000000   # in chunks; fits in 24 GiB

In one run, on the same Parquet input, it times:
- Credence's batch plan on DuckDB (``credence.batch.duckdb_runner``);
- the floor: a hand-written DuckDB query of the same semantics over the same
  columns, written directly for the consumer-trust policy (windows for caps);
- ``credence.engine.score`` per subject in Python on a sample, extrapolated;
- memory bandwidth (pyarrow sum and copy of a 1 GiB array), to say how close
  the batch comes to streaming its input once from memory.
Each engine runs in its own subprocess so its peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "policies" / "consumer-trust.yaml"
T0 = 1_640_995_200_000_000  # 2022-01-01T00:00:00Z
SPAN_US = 4 * 365 * 86_400_000_000  # four years of records
AS_OF = T0 + SPAN_US
RECORDS_PER_SUBJECT = 20
CHUNK = 5_000_000

# Record types in the proportions a consumer ledger might hold them.
GENERATE = f"""
SELECT
  CAST(i % {{subjects}} AS BIGINT) AS subject_key,
  'p' || CAST((i // {{subjects}}) % 3 AS VARCHAR) AS provider,
  'e' || CAST(i AS VARCHAR) AS provider_event_id,
  CASE WHEN h % 100 < 55 THEN 'bill.paid' WHEN h % 100 < 80 THEN 'rent.paid'
       WHEN h % 100 < 92 THEN 'rental.returned' WHEN h % 100 < 94 THEN 'loan.defaulted'
       WHEN h % 100 < 98 THEN 'account.anniversary' ELSE 'identity.verified' END AS type,
  CAST({T0} + (h // 100) % {SPAN_US} AS BIGINT) AS occurred_at,
  CASE WHEN i >= 3 * {{subjects}} AND (h // 7) % 200 = 0
       THEN 'e' || CAST(i - 3 * {{subjects}} AS VARCHAR) END AS retracts,
  CAST(CASE WHEN (h // 13) % 10 < 7 THEN 0 ELSE (h // 17) % 60 - 5 END AS BIGINT) AS attr_days_late,
  CAST((h // 19) % 100000 AS DOUBLE) / 100.0 AS attr_amount,
  (h // 23) % 9 = 0 AS attr_damaged,
  CAST((h // 29) % 20 AS BIGINT) AS attr_years,
  CASE WHEN (h // 31) % 2 = 0 THEN 'passport' ELSE 'bank' END AS attr_method
FROM (SELECT range AS i, CAST(hash(range) >> 1 AS BIGINT) AS h FROM range({{start}}, {{stop}}))
"""

# The floor: the consumer-trust policy scored by hand, the way one would write it directly.
FLOOR = f"""
WITH withdrawn AS (
  SELECT DISTINCT subject_key, provider, retracts AS id FROM records WHERE retracts IS NOT NULL),
kept AS (
  SELECT r.* FROM records r ANTI JOIN withdrawn w
    ON w.subject_key = r.subject_key AND w.provider = r.provider AND w.id = r.provider_event_id
  WHERE r.retracts IS NULL AND r.occurred_at <= {AS_OF}),
ruled AS (
  SELECT subject_key, provider, provider_event_id, occurred_at, {AS_OF} - occurred_at AS age,
    year(make_timestamp(occurred_at)) AS yr,
    CASE
      WHEN type = 'bill.paid' AND attr_days_late <= 0 THEN 0
      WHEN type = 'bill.paid' AND attr_days_late > 30 THEN 1
      WHEN type = 'bill.paid' THEN 2
      WHEN type = 'rent.paid' AND attr_days_late <= 3 THEN 3
      WHEN type = 'rent.paid' THEN 4
      WHEN type = 'loan.defaulted' THEN 5
      WHEN type = 'rental.returned' AND attr_damaged = FALSE AND attr_days_late <= 0 THEN 6
      WHEN type = 'rental.returned' AND attr_damaged = TRUE THEN 7
      WHEN type = 'rental.returned' AND attr_days_late > 2 THEN 8
      WHEN type = 'account.anniversary' THEN 9
      WHEN type = 'identity.verified' THEN 10 END AS rule
  FROM kept),
pts AS (
  SELECT *, [4.0, -15.0, -3.0, 5.0, -20.0, -80.0, 3.0, -25.0, -10.0, 12.0, 40.0][rule + 1] AS raw
  FROM ruled WHERE rule IS NOT NULL),
capped AS (
  SELECT *, CASE WHEN rule IN (0, 3, 6, 9) THEN
      LEAST(SUM(raw) OVER w, [40.0, 0, 0, 30.0, 0, 0, 24.0, 0, 0, 12.0][rule + 1])
      - LEAST(COALESCE(SUM(raw) OVER w - raw, 0), [40.0, 0, 0, 30.0, 0, 0, 24.0, 0, 0, 12.0][rule + 1])
    ELSE raw END AS c
  FROM pts
  WINDOW w AS (PARTITION BY subject_key, rule, yr ORDER BY occurred_at, provider, provider_event_id
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
valued AS (
  SELECT subject_key, rule, CASE
      WHEN rule IN (0, 3) AND age < 94608000000000 THEN c * pow(0.5, age / 1e6 / 31536000)
      WHEN rule = 5 AND age < 94608000000000 THEN c * pow(0.5, age / 1e6 / 63072000)
      WHEN rule IN (1, 4, 10) AND age < 63072000000000 THEN c
      WHEN rule IN (2, 7, 8) AND age < 31536000000000 THEN c
      WHEN rule = 6 AND age < 94608000000000 THEN c
      WHEN rule = 9 THEN c
      ELSE 0 END AS v
  FROM capped),
dims AS (
  SELECT subject_key,
    LEAST(GREATEST(SUM(CASE WHEN rule <= 5 THEN v ELSE 0 END), -250), 200) AS payment_history,
    LEAST(GREATEST(SUM(CASE WHEN rule BETWEEN 6 AND 8 THEN v ELSE 0 END), -150), 100) AS contract,
    LEAST(GREATEST(SUM(CASE WHEN rule = 9 THEN v ELSE 0 END), 0), 60) AS history,
    LEAST(GREATEST(SUM(CASE WHEN rule = 10 THEN v ELSE 0 END), 0), 40) AS identity
  FROM valued GROUP BY subject_key),
everyone AS (SELECT DISTINCT subject_key FROM records),
raws AS (
  SELECT e.subject_key, LEAST(GREATEST(600 + COALESCE(payment_history, 0) + COALESCE(contract, 0)
      + COALESCE(history, 0) + COALESCE(identity, 0), 350), 950) AS raw,
    COALESCE(payment_history, 0) AS payment_history, COALESCE(contract, 0) AS contract,
    COALESCE(history, 0) AS history, COALESCE(identity, 0) AS identity
  FROM everyone e LEFT JOIN dims d USING (subject_key))
SELECT subject_key, CAST(floor(round(raw, 9) + 0.5) AS BIGINT) AS score, raw,
  CASE WHEN score >= 750 THEN 'excellent' WHEN score >= 650 THEN 'good'
       WHEN score >= 550 THEN 'fair' ELSE 'poor' END AS tier,
  payment_history, contract, history, identity
FROM raws ORDER BY subject_key
"""


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def generate(directory: Path, records: int) -> None:
    import duckdb

    subjects = max(1, records // RECORDS_PER_SUBJECT)
    con = duckdb.connect()
    con.execute("SET memory_limit = '2GB'")
    directory.mkdir(parents=True)
    for index, start in enumerate(range(0, records, CHUNK)):
        stop = min(records, start + CHUNK)
        query = GENERATE.format(subjects=subjects, start=start, stop=stop)
        con.execute(f"COPY ({query}) TO '{directory}/part-{index:05d}.parquet' (FORMAT parquet)")
        print(f"  generated {stop:,} / {records:,}", file=sys.stderr)
    con.close()


def _policy() -> Any:
    sys.path.insert(0, str(ROOT))
    from credence.engine import compile_policy
    from credence.policy import load_policy

    return compile_policy(load_policy(POLICY).policy)


def phase_credence(data: Path, memory_limit: str) -> dict[str, Any]:
    from credence.batch.duckdb_runner import run_duckdb
    from credence.engine.plan import build_plan

    plan = build_plan(_policy(), as_of=AS_OF)
    started = time.perf_counter()
    result = run_duckdb(plan, data, memory_limit=memory_limit, temp_directory=data.parent / "spill")
    seconds = time.perf_counter() - started
    scores = result.column("score").to_pylist()[:5]
    return {"seconds": seconds, "subjects": result.num_rows, "first_scores": scores}


def phase_floor(data: Path, memory_limit: str) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{data.parent / 'spill'}'")
    con.execute("SET preserve_insertion_order = false")
    started = time.perf_counter()
    con.execute(f"CREATE VIEW records AS SELECT * FROM read_parquet('{data}/*.parquet')")
    result = con.sql(FLOOR).to_arrow_table()
    seconds = time.perf_counter() - started
    scores = result.column("score").to_pylist()[:5]
    return {"seconds": seconds, "subjects": result.num_rows, "first_scores": scores}


def phase_python(data: Path, sample: int, records: int) -> dict[str, Any]:
    import duckdb

    from credence.engine import score
    from credence.types import Record

    subjects = max(1, records // RECORDS_PER_SUBJECT)
    sample = min(sample, subjects)
    rows = (
        duckdb.connect()
        .sql(
            f"SELECT * FROM read_parquet('{data}/*.parquet') WHERE subject_key < {sample} "
            "ORDER BY subject_key"
        )
        .to_arrow_table()
        .to_pylist()
    )
    attrs = {
        "bill.paid": ("days_late", "amount"),
        "rent.paid": ("days_late", "amount"),
        "loan.defaulted": ("amount",),
        "rental.returned": ("days_late", "damaged"),
        "account.anniversary": ("years",),
        "identity.verified": ("method",),
    }
    by_subject: dict[int, list[Record]] = {}
    for r in rows:
        record = Record(
            r["provider"],
            r["provider_event_id"],
            r["type"],
            r["occurred_at"],
            {a: r["attr_" + a] for a in attrs[r["type"]]},
            r["retracts"],
        )
        by_subject.setdefault(r["subject_key"], []).append(record)
    policy = _policy()
    started = time.perf_counter()
    for records_of in by_subject.values():
        score(policy, records_of, as_of=AS_OF)
    seconds = time.perf_counter() - started
    return {
        "sample_subjects": len(by_subject),
        "sample_records": len(rows),
        "seconds": seconds,
        "extrapolated_seconds": seconds * records / max(1, len(rows)),
    }


def phase_bandwidth() -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.random(128 * 1024 * 1024)  # 1 GiB of doubles
    size = values.nbytes
    best_read = best_copy = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        pc.sum(values)
        best_read = min(best_read, time.perf_counter() - started)
        started = time.perf_counter()
        pa.concat_arrays([values, values.slice(0, 1)])  # one full copy
        best_copy = min(best_copy, time.perf_counter() - started)
    return {"read_gb_s": size / best_read / 1e9, "copy_gb_s": 2 * size / best_copy / 1e9}


def _input_bytes(data: Path, records: int) -> int:
    """Bytes of the input as Arrow columns in memory: one file measured, scaled to all."""
    import pyarrow.parquet as pq

    first = sorted(data.glob("*.parquet"))[0]
    table = pq.read_table(first)
    return int(table.nbytes * records / max(1, table.num_rows))


def run_phase(args: argparse.Namespace, name: str) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--data",
        str(args.data),
        "--records",
        str(args.records),
        "--sample",
        str(args.sample),
        "--memory-limit",
        args.memory_limit,
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=5_000, help="subjects for the Python loop")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit for both runs")
    parser.add_argument("--data", type=Path, help="reuse (or keep) generated Parquet here")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phases = {
            "credence": lambda: phase_credence(args.data, args.memory_limit),
            "floor": lambda: phase_floor(args.data, args.memory_limit),
            "python": lambda: phase_python(args.data, args.sample, args.records),
            "bandwidth": phase_bandwidth,
        }
        result = phases[args.phase]()
        result["peak_rss_bytes"] = peak_rss_bytes()
        print(json.dumps(result))
        return
    scratch = None
    if args.data is None:
        scratch = Path(tempfile.mkdtemp(prefix="credence-bench-"))
        args.data = scratch / "records"
    try:
        if not args.data.exists():
            started = time.perf_counter()
            generate(args.data, args.records)
            print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        report(args)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def report(args: argparse.Namespace) -> None:
    n = args.records
    bandwidth = run_phase(args, "bandwidth")
    floor = run_phase(args, "floor")
    credence = run_phase(args, "credence")
    python = run_phase(args, "python")
    assert credence["subjects"] == floor["subjects"], (credence, floor)
    assert credence["first_scores"] == floor["first_scores"], (credence, floor)
    input_bytes = _input_bytes(args.data, n)
    gib = 1024**3
    lines = [
        f"records: {n:,}  subjects: {credence['subjects']:,}  input (as Arrow): "
        f"{input_bytes / gib:.2f} GiB",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"memory bandwidth: read {bandwidth['read_gb_s']:.1f} GB/s, copy {bandwidth['copy_gb_s']:.1f} GB/s",
        "",
        "| engine | seconds | records/s | peak RSS | vs floor |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, result, seconds in (
        ("hand-written DuckDB (floor)", floor, floor["seconds"]),
        ("Credence batch plan (DuckDB)", credence, credence["seconds"]),
        (
            f"Python loop (sample of {python['sample_subjects']:,} subjects, extrapolated)",
            python,
            python["extrapolated_seconds"],
        ),
    ):
        lines.append(
            f"| {name} | {seconds:.2f} | {n / seconds:,.0f} | "
            f"{result['peak_rss_bytes'] / gib:.2f} GiB | {seconds / floor['seconds']:.2f}x |"
        )
    effective = input_bytes / credence["seconds"] / 1e9
    lines += [
        "",
        f"Credence / floor: {credence['seconds'] / floor['seconds']:.2f}x (target <= 1.25x)",
        f"Python loop / Credence: {python['extrapolated_seconds'] / credence['seconds']:.0f}x",
        f"Credence input throughput: {effective:.2f} GB/s = "
        f"{100 * effective / bandwidth['read_gb_s']:.1f}% of one core's read bandwidth",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
