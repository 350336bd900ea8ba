"""Backtest benchmark: a backtest of two policies against one rescore of the same records.

    python bench/backtest.py                    # 10M records
    python bench/backtest.py --records 1000000 --data /tmp/cbt/r1m

On the same Parquet input (generated as ``bench/batch.py`` does: the
consumer-trust event mix, 20 records per subject over four years, 0.5%
retractions) it times, in one process, one after the other:
- one rescore: the active policy's batch plan on DuckDB (what ``credence
  rescore`` runs once the records are exported);
- the backtest: ``credence.lab.summary.summarise`` for the active policy and a
  candidate over the same input (scores, entitlements, rule totals, the
  comparison), what ``credence backtest`` runs without ``--groups``: one
  joint plan for both policies; then the same with a plan per policy.
It prints the ratio, and the target: a backtest within 2.5x of one rescore.
With ``--check`` it also times the per-subject path (``run_policies`` and
``compare``, what ``--groups`` and policy activation run) and checks that
both give the same report. The load average is printed before and after,
since the ratio is only as steady as the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from batch import AS_OF, POLICY, cpu_seconds, generate  # noqa: E402

TARGET = 2.5
# The candidate: a stricter deposit waiver and smaller on-time rewards.
EDITS = [
    ("when: {tier_at_least: good}", "when: {tier_at_least: excellent}"),
    (
        "    points: 4\n    dimension: payment_history",
        "    points: 3\n    dimension: payment_history",
    ),
]


def policies() -> tuple[object, object]:
    from credence.engine import compile_policy
    from credence.policy import load_policy, parse_policy

    text = POLICY.read_text().replace('version: "2026.11.1"', 'version: "2026.12.1"')
    for old, new in EDITS:
        assert old in text, old
        text = text.replace(old, new)
    return compile_policy(load_policy(POLICY).policy), compile_policy(parse_policy(text).policy)


def timed(label: str, run: object) -> tuple[float, float, object]:
    cpu = cpu_seconds()
    started = time.perf_counter()
    result = run()  # type: ignore[operator]
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    print(f"  {label}: {seconds:.2f} s ({cpu:.2f} CPU s)", file=sys.stderr)
    return seconds, cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--data", type=Path, help="reuse (or keep) generated Parquet here")
    parser.add_argument(
        "--check", action="store_true", help="also time the per-subject path; compare reports"
    )
    args = parser.parse_args()
    from credence.batch.duckdb_runner import run_duckdb
    from credence.engine.plan import build_plan
    from credence.lab.summary import summarise

    with tempfile.TemporaryDirectory(prefix="credence-bench-") as tmp:
        data = args.data or Path(tmp) / "records"
        if not data.exists():
            generate(data, args.records)
        active, candidate = policies()
        load_before = os.getloadavg()
        plan = build_plan(active, as_of=AS_OF)  # type: ignore[arg-type]
        rescore_s, rescore_cpu, scores = timed("one rescore", lambda: run_duckdb(plan, data))

        def backtest() -> object:
            return summarise(active, candidate, data, as_of=AS_OF, kinds={})  # type: ignore[arg-type]

        back_s, back_cpu, report = timed("backtest (two policies)", backtest)

        def separately() -> object:
            return summarise(active, candidate, data, as_of=AS_OF, kinds={}, joint=False)  # type: ignore[arg-type]

        sep_s, sep_cpu, sep_report = timed("backtest, a plan per policy", separately)
        reference = None
        if args.check:
            from credence.lab.backtest import compare
            from credence.lab.runs import run_policies

            def per_subject() -> object:
                runs = run_policies([active, candidate], data, as_of=AS_OF, kinds={})  # type: ignore[list-item]
                return compare(runs[0], runs[1], as_of=AS_OF).report

            reference = timed("per-subject path", per_subject)
        load_after = os.getloadavg()
    subjects = scores.num_rows  # type: ignore[attr-defined]
    print(f"records: {args.records:,}  subjects: {subjects:,}")
    print("| run | seconds | CPU seconds | vs one rescore |")
    print("|---|---:|---:|---:|")
    print(f"| one rescore (batch plan, DuckDB) | {rescore_s:.2f} | {rescore_cpu:.2f} | 1.00x |")
    print(
        f"| backtest, active + candidate | {back_s:.2f} | {back_cpu:.2f} | "
        f"{back_s / rescore_s:.2f}x |"
    )
    print(
        f"| backtest, a plan per policy | {sep_s:.2f} | {sep_cpu:.2f} | {sep_s / rescore_s:.2f}x |"
    )
    print(f"joint and per-policy reports agree: {_same(report, sep_report)}")  # type: ignore[arg-type]
    if reference is not None:
        ref_s, ref_cpu, ref_report = reference
        print(
            f"| per-subject path (run_policies + compare) | {ref_s:.2f} | {ref_cpu:.2f} | "
            f"{ref_s / rescore_s:.2f}x |"
        )
        same = _same(report, ref_report)  # type: ignore[arg-type]
        print(f"reports agree: {same}")
    harmed = report["harmed"]["subjects"]  # type: ignore[index]
    print(
        f"backtest / rescore: {back_s / rescore_s:.2f}x wall, {back_cpu / rescore_cpu:.2f}x CPU "
        f"(target <= {TARGET}x); {harmed:,} subjects harmed"
    )
    print(
        "load average (1, 5, 15 min): before "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after "
        + ", ".join(f"{x:.2f}" for x in load_after)
    )


def _same(fast: dict[str, object], slow: dict[str, object]) -> bool:
    """Equal reports, rule totals (float sums in another order) within 1e-6."""
    if {k: v for k, v in fast.items() if k != "rules"} != {
        k: v for k, v in slow.items() if k != "rules"
    }:
        return False
    pairs = list(zip(fast["rules"], slow["rules"], strict=True))  # type: ignore[call-overload]
    return all(
        f["id"] == s["id"]
        and all(
            abs((f[p] or 0.0) - (s[p] or 0.0)) <= 1e-6 * max(1.0, abs(s[p] or 0.0))
            for p in ("before", "after", "change")
        )
        for f, s in pairs
    )


if __name__ == "__main__":
    main()
