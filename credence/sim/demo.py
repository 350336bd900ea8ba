"""``credence demo``: a ledger built from the bundled policy and a simulated population.

It lives with the simulator it runs, and reaches the ledger only through the service.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from credence.clock import Clock, SystemClock
from credence.engine import CompiledPolicy
from credence.service.ingest import ingest_files
from credence.service.ledger import open_ledger
from credence.service.scoring import SubjectReport, explain_subject, score_all
from credence.service.setup import (
    bundled_policy,
    clear_demo_ledger,
    init_ledger,
    mark_demo_ledger,
)
from credence.settings import load_settings
from credence.sim.population import population
from credence.types import DAY_US


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What the demo built, and three subjects to look at."""

    db: Path
    subjects: int
    records: int
    rejected: int
    tiers: list[tuple[str, int]]  # highest tier first
    examples: list[tuple[str, SubjectReport]]  # (why chosen, report)
    policy: CompiledPolicy


def run_demo(
    db: Path,
    *,
    subjects: int = 1000,
    seed: int = 7,
    clock: Clock | None = None,
    on_progress: Callable[[Path, int, int], None] | None = None,
) -> DemoReport:
    """Create ``db`` from the consumer-trust policy and a synthetic population, and score it."""
    clock = clock or SystemClock()
    today = clock.now() // DAY_US * DAY_US
    clear_demo_ledger(db)
    settings = load_settings(db=str(db), master_key=None, key_file=None)
    init_ledger(settings, bundled_policy(), clock=clock)
    with tempfile.TemporaryDirectory(prefix="credence-demo-") as tmp:
        data = Path(tmp) / "synthetic-population.jsonl"
        with data.open("w", encoding="utf-8") as handle:
            for row in population(subjects=subjects, seed=seed, until=today):
                handle.write(json.dumps(row, separators=(",", ":")) + "\n")
        with open_ledger(settings, clock=clock) as ledger:
            mark_demo_ledger(ledger, f"synthetic population, seed {seed}")
            reports = ingest_files(ledger, [data], on_progress=on_progress)
            scores = list(score_all(ledger))
            counts = Counter(s.outcome.tier for s in scores)
            ranked = sorted(scores, key=lambda s: (s.outcome.score, s.ref.id))
            picks = [
                ("highest score", ranked[-1]),
                ("median score", ranked[len(ranked) // 2]),
                ("lowest score", ranked[0]),
            ]
            examples = [(why, explain_subject(ledger, s.ref, purpose="demo")) for why, s in picks]
            tiers = [(t, counts.get(t, 0)) for t in ledger.policy.tier_ids]
            stored = ledger.store.counts()
            compiled = ledger.policy
    return DemoReport(
        db=db,
        subjects=stored["subjects"],
        records=stored["records"],
        rejected=sum(r.rejected for r in reports),
        tiers=tiers,
        examples=examples,
        policy=compiled,
    )
