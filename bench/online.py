"""Online path: in-process time to score and decide for one subject with N records.

Prints p50/p99 of `score` + `decide` (the engine only: records already in memory),
beside a baseline measured in the same run: a plain Python loop that only sums
each record's points (no matching, caps, expiry, decay or reasons), so the ratio
shows what the full semantics cost.

    python bench/online.py [--records 200] [--runs 5000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from credence.engine import compile_policy, decide, score
from credence.policy import load_policy
from credence.types import DAY_US, Record, parse_time

POLICY = Path(__file__).resolve().parents[1] / "examples" / "policies" / "consumer-trust.yaml"
AS_OF = parse_time("2026-11-26T00:00:00Z")


def subject_records(n: int, rng: random.Random) -> list[Record]:
    """A plausible mix of the consumer-trust policy's record types over three years."""
    out = []
    for i in range(n):
        at = AS_OF - rng.randint(0, 3 * 365) * DAY_US - rng.randint(0, 86_399) * 1_000_000
        kind = rng.random()
        if kind < 0.55:
            rec = Record(
                "bank-a",
                f"b{i}",
                "bill.paid",
                at,
                {"days_late": rng.choice((0, 0, 0, 3, 45)), "amount": 50.0},
            )
        elif kind < 0.85:
            rec = Record(
                "homes-marketplace",
                f"r{i}",
                "rent.paid",
                at,
                {"days_late": rng.choice((0, 0, 7)), "amount": 900.0},
            )
        else:
            rec = Record(
                "rent-it",
                f"x{i}",
                "rental.returned",
                at,
                {"days_late": rng.choice((0, 4)), "damaged": rng.random() < 0.1},
            )
        out.append(rec)
    out.sort(key=lambda r: r.order)
    return out


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5000)
    args = parser.parse_args()
    policy = compile_policy(load_policy(POLICY).policy)
    rng = random.Random(1)
    subjects = [subject_records(args.records, rng) for _ in range(50)]
    points = {"bill.paid": 4.0, "rent.paid": 5.0, "rental.returned": 3.0}

    def baseline(records: list[Record]) -> float:
        return 600.0 + sum(points.get(r.type, 0.0) for r in records)

    def one(records: list[Record]) -> None:
        decide(policy, score(policy, records, as_of=AS_OF), "deposit_free_rental")

    def two(records: list[Record]) -> None:
        outcome = score(policy, records, as_of=AS_OF)
        decide(policy, outcome, "deposit_free_rental")
        decide(policy, outcome, "rental_suspension")

    results = {}
    cases = (("baseline sum", baseline), ("score + decide", one), ("score + 2 decisions", two))
    for name, fn in cases:
        for records in subjects[:5]:  # warm up
            fn(records)
        times = []
        for i in range(args.runs):
            records = subjects[i % len(subjects)]
            start = time.perf_counter_ns()
            fn(records)
            times.append((time.perf_counter_ns() - start) / 1e3)
        results[name] = (percentile(times, 0.5), percentile(times, 0.99))
    print(f"subject with {args.records} records, {args.runs} runs each (microseconds)")
    print(f"{'':22} {'p50':>9} {'p99':>9}")
    for name, (p50, p99) in results.items():
        print(f"{name:22} {p50:9.1f} {p99:9.1f}")
    base, full_ = results["baseline sum"], results["score + decide"]
    print(
        f"ratio score+decide/baseline: p50 {full_[0] / base[0]:.1f}x, p99 {full_[1] / base[1]:.1f}x"
    )
    print(f"target p99 <= 500 us for score + decide: {'met' if full_[1] <= 500 else 'NOT met'}")


if __name__ == "__main__":
    main()
