"""Online and batch agree with disputes: upheld and lapsed records are dropped in both, open and
rejected ones count in both, for any as-of (Hypothesis), from the records and from a
pre-aggregate built before the disputes; an export made before a dispute ended does not bring
its record back."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credence.clock import FixedClock
from credence.crypto import KeyRing
from credence.ledger import StoredPolicy, open_store
from credence.policy import load_policy
from credence.service import disputes
from credence.service.batch import build_preaggregate, export, rescore
from credence.service.ingest import ingest_files
from credence.service.ledger import Ledger, open_ledger
from credence.service.parties import Party, PartyKind, add_party
from credence.service.scoring import score_all
from credence.service.setup import bundled_policy
from credence.settings import load_settings
from credence.sim.demo import run_demo
from credence.types import DAY_US, parse_time
from tests.service.service_data import GOLDEN, MASTER

pytest.importorskip("duckdb")

NOW = parse_time("2026-07-01T00:00:00Z")
FATES = ("open", "upheld", "rejected", "lapsed", "frivolous")


def _golden_ledger(folder: Path) -> Ledger:
    store = open_store("memory:")
    store.migrate()
    loaded = load_policy(bundled_policy())
    policy = loaded.policy
    store.add_policy(
        StoredPolicy(policy.name, policy.version, loaded.digest, loaded.source, NOW - 10**12)
    )
    ledger = Ledger(
        store=store,
        keys=KeyRing(MASTER),
        settings=load_settings(environ={}, db="memory:", master_key=MASTER.hex()),
        clock=FixedClock(NOW),
    )
    data = folder / GOLDEN.name
    if not data.exists():
        shutil.copy(GOLDEN, data)
    ingest_files(ledger, [data])
    return ledger


def _dispute_all(ledger: Ledger, fates: dict[int, str], reviewer: Party) -> None:
    """Dispute the records at these indexes (of all scored records), each to its fate."""
    clock = ledger.clock
    assert isinstance(clock, FixedClock)
    targets = [
        (item.ref, c.record) for item in score_all(ledger) for c in item.outcome.contributions
    ]
    for index, fate in fates.items():
        ref, record = targets[index % len(targets)]
        session = disputes.acting_for(ledger, ref)
        if any(
            (d.provider, d.provider_event_id) == record.key
            for d in ledger.store.disputes(session.subject_key)
        ):
            continue
        rid = disputes.format_record_id(record.provider, record.provider_event_id)
        if fate == "lapsed":
            clock.advance(-31 * DAY_US)
            disputes.file_dispute(ledger, disputes.acting_for(ledger, ref), rid, "not mine")
            clock.advance(31 * DAY_US)
            continue
        view = disputes.file_dispute(ledger, session, rid, "not mine")
        if fate != "open":
            disputes.resolve_dispute(ledger, reviewer, view.id, fate, "looked into it")


def _batch(
    ledger: Ledger, as_of: int, out: Path, preaggregate: Path | None = None
) -> dict[str, Any]:
    rescore(ledger, as_of=as_of, out=out, from_preaggregate=preaggregate)
    rows = pq.read_table(out).to_pylist()
    out.unlink()
    return {f"{r['subject_scheme']}:{r['subject_id']}": r for r in rows}


def _agree(ledger: Ledger, as_of: int, out: Path, preaggregate: Path | None = None) -> None:
    batch = _batch(ledger, as_of, out, preaggregate)
    online = list(score_all(ledger, as_of=as_of))
    assert len(online) == len(batch)
    for item in online:
        row = batch[str(item.ref)]
        assert (row["score"], row["tier"]) == (item.outcome.score, item.outcome.tier)
        assert abs(row["raw"] - item.outcome.raw) <= 1e-6


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("disputes-batch")


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fates=st.dictionaries(st.integers(0, 200), st.sampled_from(FATES), max_size=6),
    back=st.integers(0, 400),
)
def test_online_and_batch_agree_with_disputes(
    folder: Path, fates: dict[int, str], back: int
) -> None:
    ledger = _golden_ledger(folder)
    pre = folder / "pre.parquet"
    pre.unlink(missing_ok=True)
    build_preaggregate(ledger, pre, valid_from=NOW - 400 * DAY_US, valid_until=NOW)
    reviewer = add_party(ledger, "reviewer-1", kind=PartyKind.REVIEWER)
    _dispute_all(ledger, fates, reviewer)
    struck = disputes.ledger_struck_keys(ledger)
    dropped = {k for k, f in fates.items() if f in ("upheld", "lapsed")}
    assert bool(struck) <= bool(dropped)
    _agree(ledger, NOW - back * DAY_US, folder / "scores.parquet")
    _agree(ledger, NOW - back * DAY_US, folder / "scores.parquet", pre)
    for item in score_all(ledger):
        assert not {c.record.key for c in item.outcome.contributions} & struck


@pytest.mark.slow
def test_an_export_made_before_a_dispute_was_upheld_does_not_bring_the_record_back(
    tmp_path: Path,
) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    db = tmp_path / "ledger.db"
    run_demo(db, subjects=30, seed=7, clock=FixedClock(NOW))
    config = load_settings(db=str(db))
    with open_ledger(config, clock=FixedClock(NOW)) as ledger:
        directory = tmp_path / "export"
        export(ledger, directory)
        reviewer = add_party(ledger, "reviewer-1", kind=PartyKind.REVIEWER)
        negative = next(
            (item.ref, c.record)
            for item in score_all(ledger)
            for c in item.outcome.contributions
            if c.value < 0
        )
        ref, record = negative
        rid = disputes.format_record_id(record.provider, record.provider_event_id)
        view = disputes.file_dispute(ledger, disputes.acting_for(ledger, ref), rid, "not mine")
        disputes.resolve_dispute(ledger, reviewer, view.id, "upheld", "unverified")
        online = {str(s.ref): s.outcome.score for s in score_all(ledger)}
        for source in (None, directory):
            out = tmp_path / f"scores-{source is None}.parquet"
            rescore(ledger, as_of=NOW, out=out, from_dir=source)
            rows = pq.read_table(out).to_pylist()
            batch = {f"{r['subject_scheme']}:{r['subject_id']}": r["score"] for r in rows}
            assert batch == online
        fresh = tmp_path / "export-after"
        export(ledger, fresh)
        keys = {
            (p, e)
            for p, e in zip(
                pq.read_table(fresh).column("provider").to_pylist(),
                pq.read_table(fresh).column("provider_event_id").to_pylist(),
                strict=True,
            )
        }
        assert record.key not in keys
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
