"""Batch rescoring benchmark: Credence's plan against a hand-written DuckDB query and a Python loop.

    python bench/batch.py                       # 10M records
    python bench/batch.py --records 100000000   # in chunks; fits in 24 GiB

In one run, on the same Parquet input, each in its own subprocess (so its peak
memory, max RSS, is its own), it times:
- the floor: a hand-written DuckDB query of the same semantics over the same
  columns, written by hand for the consumer-trust policy (see ``FLOOR``);
- Credence's batch plan on DuckDB (``credence.batch.duckdb_runner``);
- the same plan on the same records sorted by subject_key (an export
  clustered by subject);
- rescoring from pre-aggregates (``credence.batch.preaggregate``), with the
  one-off build timed apart;
- ``credence.engine.score`` per subject in Python on a sample, extrapolated;
- memory bandwidth (pyarrow sum and copy of a 1 GiB array), to say how close
  the batch comes to streaming its input once from memory.
Every engine's scores are compared, subject by subject, before anything is printed.
"""

from __future__ import annotations

import argparse
import json
import math
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
WINDOW_US = 30 * 86_400_000_000  # a pre-aggregate answers for as-of ± 30 days

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

# The floor: the consumer-trust policy scored by hand, as a strong DuckDB user would write it
# for this one policy. One scan classifies every record (a mark join drops withdrawn ones) and
# one GROUP BY subject sums each dimension as if no cap bit, counting each capped rule's
# records. Every capped rule here has constant positive points p and a yearly cap C, so a
# year clamps only when it holds more than C/p of them: only subjects with that many in
# total are read again, and only their overfull years are ranked, to correct the sums.
Y = 365 * 86_400_000_000
DECAY_1Y = repr(-math.log(2) / Y)
DECAY_2Y = repr(-math.log(2) / (2 * Y))
RULE = """CASE type
      WHEN 'bill.paid' THEN CASE WHEN attr_days_late <= 0 THEN 0 WHEN attr_days_late > 30 THEN 1 ELSE 2 END
      WHEN 'rent.paid' THEN CASE WHEN attr_days_late <= 3 THEN 3 ELSE 4 END
      WHEN 'loan.defaulted' THEN 5
      WHEN 'rental.returned' THEN CASE WHEN NOT attr_damaged AND attr_days_late <= 0 THEN 6
        WHEN attr_damaged THEN 7 WHEN attr_days_late > 2 THEN 8 END
      WHEN 'account.anniversary' THEN 9
      WHEN 'identity.verified' THEN 10 END"""
KEPT = f"""retracts IS NULL AND occurred_at <= {AS_OF} AND NOT EXISTS (SELECT 1 FROM withdrawn w
      WHERE w.subject_key = r.subject_key AND w.provider = r.provider AND w.id = r.provider_event_id)"""
FLOOR = f"""
WITH withdrawn AS (
  SELECT DISTINCT subject_key, provider, retracts AS id FROM records WHERE retracts IS NOT NULL),
ruled AS (
  SELECT subject_key, {AS_OF} - occurred_at AS age, CASE WHEN {KEPT} THEN {RULE} END AS rule
  FROM records r),
free AS (
  SELECT subject_key,
    SUM(CASE rule
      WHEN 0 THEN IF(age < 3 * {Y}, 4.0 * exp(age * {DECAY_1Y}), 0.0)
      WHEN 1 THEN IF(age < 2 * {Y}, -15.0, 0.0) WHEN 2 THEN IF(age < {Y}, -3.0, 0.0)
      WHEN 3 THEN IF(age < 3 * {Y}, 5.0 * exp(age * {DECAY_1Y}), 0.0)
      WHEN 4 THEN IF(age < 2 * {Y}, -20.0, 0.0)
      WHEN 5 THEN IF(age < 3 * {Y}, -80.0 * exp(age * {DECAY_2Y}), 0.0) END) AS payment,
    SUM(CASE rule WHEN 6 THEN IF(age < 3 * {Y}, 3.0, 0.0) WHEN 7 THEN IF(age < {Y}, -25.0, 0.0)
      WHEN 8 THEN IF(age < {Y}, -10.0, 0.0) END) AS contract,
    SUM(IF(rule = 9, 12.0, NULL)) AS history,
    SUM(IF(rule = 10 AND age < 2 * {Y}, 40.0, NULL)) AS identity,
    COUNT(*) FILTER (WHERE rule = 0) AS n0, COUNT(*) FILTER (WHERE rule = 3) AS n3,
    COUNT(*) FILTER (WHERE rule = 6) AS n6, COUNT(*) FILTER (WHERE rule = 9) AS n9
  FROM ruled GROUP BY subject_key),
busy AS (SELECT subject_key FROM free WHERE n0 > 10 OR n3 > 6 OR n6 > 8 OR n9 > 1),
capped AS (
  SELECT subject_key, rule, occurred_at, provider, provider_event_id, {AS_OF} - occurred_at AS age,
    year(make_timestamp(occurred_at)) AS yr
  FROM (SELECT *, CASE WHEN {KEPT} THEN {RULE} END AS rule FROM records r
        WHERE subject_key IN (SELECT subject_key FROM busy))
  WHERE rule IN (0, 3, 6, 9)),
overfull AS (
  SELECT subject_key, rule, yr FROM capped GROUP BY ALL
  HAVING count(*) > CASE rule WHEN 0 THEN 10 WHEN 3 THEN 6 WHEN 6 THEN 8 ELSE 1 END),
ranked AS (
  SELECT rule, subject_key, age, row_number() OVER (PARTITION BY subject_key, rule, yr
      ORDER BY occurred_at, provider, provider_event_id) - 1 AS k
  FROM capped SEMI JOIN overfull USING (subject_key, rule, yr)),
fixes AS (
  SELECT subject_key,
    SUM(CASE rule
      WHEN 0 THEN IF(age < 3 * {Y}, (LEAST(4.0, GREATEST(40.0 - 4.0 * k, 0.0)) - 4.0) * exp(age * {DECAY_1Y}), 0.0)
      WHEN 3 THEN IF(age < 3 * {Y}, (LEAST(5.0, GREATEST(30.0 - 5.0 * k, 0.0)) - 5.0) * exp(age * {DECAY_1Y}), 0.0)
      END) AS payment,
    SUM(IF(rule = 6 AND age < 3 * {Y}, LEAST(3.0, GREATEST(24.0 - 3.0 * k, 0.0)) - 3.0, NULL)) AS contract,
    SUM(IF(rule = 9, LEAST(12.0, GREATEST(12.0 - 12.0 * k, 0.0)) - 12.0, NULL)) AS history
  FROM ranked GROUP BY subject_key),
dims AS (
  SELECT f.subject_key,
    LEAST(GREATEST(COALESCE(f.payment, 0) + COALESCE(x.payment, 0), -250), 200) AS payment_history,
    LEAST(GREATEST(COALESCE(f.contract, 0) + COALESCE(x.contract, 0), -150), 100) AS contract,
    LEAST(GREATEST(COALESCE(f.history, 0) + COALESCE(x.history, 0), 0), 60) AS history,
    LEAST(GREATEST(COALESCE(f.identity, 0), 0), 40) AS identity
  FROM free f LEFT JOIN fixes x USING (subject_key)),
raws AS (
  SELECT *, LEAST(GREATEST(600 + payment_history + contract + history + identity, 350), 950) AS raw
  FROM dims)
SELECT subject_key, CAST(floor(round(raw, 9) + 0.5) AS BIGINT) AS score, raw,
  CASE WHEN score >= 750 THEN 'excellent' WHEN score >= 650 THEN 'good'
       WHEN score >= 550 THEN 'fair' ELSE 'poor' END AS tier,
  payment_history AS dim_payment_history, contract AS dim_contract_fulfilment,
  history AS dim_history_length, identity AS dim_identity_verification, CAST(0 AS DOUBLE) AS dim_general
FROM raws ORDER BY subject_key
"""


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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


def cluster(data: Path, out: Path, memory_limit: str) -> None:
    """The same records sorted by subject: what an export clustered by subject_key looks like."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{data.parent / 'spill'}'")
    out.mkdir(parents=True)
    con.execute(
        f"COPY (SELECT * FROM read_parquet('{data}/*.parquet') ORDER BY subject_key) "
        f"TO '{out}/part-00000.parquet' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"
    )
    con.close()


def _policy() -> Any:
    sys.path.insert(0, str(ROOT))
    from credence.engine import compile_policy
    from credence.policy import load_policy

    return compile_policy(load_policy(POLICY).policy)


def _timed(run: Any, out: Path) -> dict[str, Any]:
    """Run ``run()`` (an Arrow table of scores), time it, keep its result for the comparison."""
    import pyarrow.parquet as pq

    cpu = cpu_seconds()
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    pq.write_table(result, out)
    return {"seconds": seconds, "cpu_seconds": cpu, "subjects": result.num_rows}


def phase_credence(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    from credence.batch.duckdb_runner import run_duckdb
    from credence.engine.plan import build_plan

    plan = build_plan(_policy(), as_of=AS_OF)
    return _timed(
        lambda: run_duckdb(
            plan,
            data,
            threads=args.threads,
            memory_limit=args.memory_limit,
            temp_directory=data.parent / "spill",
        ),
        args.scratch / f"result-{args.phase}.parquet",
    )


def phase_floor(args: argparse.Namespace) -> dict[str, Any]:
    import duckdb

    def run() -> Any:
        con = duckdb.connect()
        if args.threads:
            con.execute(f"SET threads TO {args.threads}")
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
        con.execute(f"SET temp_directory = '{args.data.parent / 'spill'}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"CREATE VIEW records AS SELECT * FROM read_parquet('{args.data}/*.parquet')")
        return con.sql(FLOOR).to_arrow_table()

    return _timed(run, args.scratch / "result-floor.parquet")


def phase_preaggregate(args: argparse.Namespace) -> dict[str, Any]:
    from credence.batch.preaggregate import build_preaggregate, rescore_preaggregate

    policy = _policy()
    out = args.scratch / "preaggregate.parquet"
    out.unlink(missing_ok=True)
    cpu = cpu_seconds()
    started = time.perf_counter()
    built = build_preaggregate(
        policy,
        args.data,
        out,
        valid_from=AS_OF - WINDOW_US,
        valid_until=AS_OF + WINDOW_US,
        threads=args.threads,
        memory_limit=args.memory_limit,
        temp_directory=args.data.parent / "spill",
    )
    build = {"seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds() - cpu}
    result = _timed(
        lambda: rescore_preaggregate(policy, out, as_of=AS_OF, threads=args.threads),
        args.scratch / "result-preaggregate.parquet",
    )
    result.update(build_seconds=build["seconds"], build_cpu_seconds=build["cpu_seconds"])
    result.update(rows=built.rows, bytes=out.stat().st_size)
    return result


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
        "--scratch",
        str(args.scratch),
        "--records",
        str(args.records),
        "--sample",
        str(args.sample),
        "--memory-limit",
        args.memory_limit,
    ]
    if args.threads:
        command += ["--threads", str(args.threads)]
    print(f"  running {name}", file=sys.stderr)
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=5_000, help="subjects for the Python loop")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit for every run")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: every core)")
    parser.add_argument("--data", type=Path, help="reuse (or keep) generated Parquet here")
    parser.add_argument(
        "--only",
        help="comma-separated phases to run (floor,credence,clustered,preaggregate,python)",
    )
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phases = {
            "credence": lambda: phase_credence(args, args.data),
            "clustered": lambda: phase_credence(args, _clustered(args.data)),
            "floor": lambda: phase_floor(args),
            "preaggregate": lambda: phase_preaggregate(args),
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
    args.scratch = Path(tempfile.mkdtemp(prefix="results-", dir=args.data.parent))
    try:
        if not args.data.exists():
            started = time.perf_counter()
            generate(args.data, args.records)
            print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        wanted = (args.only or "floor,credence,clustered,preaggregate,python").split(",")
        if "clustered" in wanted and not _clustered(args.data).exists():
            started = time.perf_counter()
            cluster(args.data, _clustered(args.data), args.memory_limit)
            print(f"sorted by subject in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        report(args, wanted)
    finally:
        shutil.rmtree(args.scratch, ignore_errors=True)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _clustered(data: Path) -> Path:
    return data.parent / f"{data.name}-by-subject"


def _same_scores(results: dict[str, Path], reference: str) -> None:
    """Every engine's scores and tiers equal the reference's; raw and dimensions within 1e-6."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    want = pq.read_table(results[reference])
    for name, path in results.items():
        got = pq.read_table(path)
        assert got.num_rows == want.num_rows, (name, got.num_rows, want.num_rows)
        for column in ("subject_key", "score", "tier"):
            assert got.column(column).equals(want.column(column)), (name, column)
        numbers = [c for c in want.column_names if c.startswith("dim_") or c == "raw"]
        for column in numbers:
            mine, theirs = (t.column(column).cast(pa.float64()) for t in (got, want))
            gap = pc.max(pc.abs(pc.subtract(mine, theirs))).as_py()
            assert gap <= 1e-6, (name, column, gap)


def report(args: argparse.Namespace, wanted: list[str]) -> None:
    n = args.records
    bandwidth = run_phase(args, "bandwidth")
    runs = {name: run_phase(args, name) for name in wanted}
    results = {name: args.scratch / f"result-{name}.parquet" for name in runs if name != "python"}
    if results:
        _same_scores(results, "floor" if "floor" in results else next(iter(results)))
    base = runs.get("floor")
    input_bytes = _input_bytes(args.data, n)
    gib = 1024**3
    subjects = next((r["subjects"] for r in runs.values() if "subjects" in r), 0)
    lines = [
        f"records: {n:,}  subjects: {subjects:,}  input (as Arrow): {input_bytes / gib:.2f} GiB",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"memory bandwidth: read {bandwidth['read_gb_s']:.1f} GB/s, "
        f"copy {bandwidth['copy_gb_s']:.1f} GB/s",
        "",
        "| engine | seconds | CPU seconds | records/s | peak RSS | vs floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "floor": "hand-written DuckDB (floor)",
        "credence": "Credence batch plan (DuckDB)",
        "clustered": "Credence batch plan, export sorted by subject_key",
        "preaggregate": "Credence rescore from pre-aggregates",
    }
    for name, result in runs.items():
        if name == "python":
            label = f"Python loop (sample of {result['sample_subjects']:,} subjects, extrapolated)"
            seconds, cpu = result["extrapolated_seconds"], result["extrapolated_seconds"]
        else:
            label, seconds, cpu = labels[name], result["seconds"], result["cpu_seconds"]
        ratio = f"{seconds / base['seconds']:.2f}x" if base else "-"
        lines.append(
            f"| {label} | {seconds:.2f} | {cpu:.2f} | {n / seconds:,.0f} | "
            f"{result['peak_rss_bytes'] / gib:.2f} GiB | {ratio} |"
        )
    lines.append("")
    credence = runs.get("credence")
    if credence and base:
        lines.append(
            f"Credence / floor: {credence['seconds'] / base['seconds']:.2f}x wall, "
            f"{credence['cpu_seconds'] / base['cpu_seconds']:.2f}x CPU (target <= 1.25x)"
        )
    if credence and "python" in runs:
        lines.append(
            f"Python loop / Credence: {runs['python']['extrapolated_seconds'] / credence['seconds']:.0f}x"
        )
    pre = runs.get("preaggregate")
    if pre:
        lines.append(
            f"Pre-aggregate: built once in {pre['build_seconds']:.2f} s "
            f"({pre['build_cpu_seconds']:.2f} CPU s), {pre['rows']:,} rows, "
            f"{pre['bytes'] / 2**20:.0f} MiB, valid for as-of within {WINDOW_US // 86_400_000_000} "
            "days either side; each rescore reads it alone"
        )
    if credence:
        effective = input_bytes / credence["seconds"] / 1e9
        lines.append(
            f"Credence input throughput: {effective:.2f} GB/s = "
            f"{100 * effective / bandwidth['read_gb_s']:.1f}% of one core's read bandwidth"
        )
    lines.append(
        "All engines: identical subject_key, score and tier; raw and dimensions within 1e-6."
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
