"""Rescore on ledgers whose first records leave an optional column empty, on both SQL stores.

Regression: SQLite's ADBC reader typed an all-NULL first batch (1,024 rows) as
INT64, so `credence rescore` stopped at the first later `retracts` or
`evidence` with "Type mismatch in column 7: expected INT64 but got
STRING/BINARY". The export now reads the ledger with an explicit schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from credence.batch.export import LEDGER_SCHEMA, ledger_batches
from credence.clock import FixedClock
from credence.service.batch import rescore
from credence.service.ingest import ingest_files
from credence.service.ledger import open_ledger
from credence.service.scoring import score_all
from credence.service.setup import init_ledger
from credence.settings import Settings, load_settings
from credence.types import parse_time

pytest.importorskip("adbc_driver_sqlite")
pytest.importorskip("adbc_driver_postgresql")

POLICY = Path(__file__).parents[2] / "examples" / "policies" / "consumer-trust.yaml"
NOW = parse_time("2026-06-01T00:00:00Z")
PLAIN = 1_100  # more than the 1,024 rows SQLite's reader types its columns from
SUBJECTS = 50


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    db = str(tmp_path / "ledger.db")
    if request.param == "postgres":
        db = str(request.getfixturevalue("postgres_url"))
    settings = load_settings(db=db, key_file=str(tmp_path / "ledger.key"))
    init_ledger(settings, POLICY, clock=FixedClock(NOW))
    return settings


def _late(days: int, index: int) -> dict[str, Any]:
    return {
        "provider": "bank-a",
        "provider_event_id": f"e{index}",
        "subject_scheme": "custom",
        "subject_id": f"s{index % SUBJECTS:03d}",
        "subject_kind": "person",
        "type": "bill.paid",
        "occurred_at": f"2026-0{1 + index % 5}-{1 + index % 28:02d}T00:00:00Z",
        "attributes": {"days_late": days, "amount": 50.0},
    }


def _ingest(settings: Settings, path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with open_ledger(settings) as ledger:
        [report] = ingest_files(ledger, [path])
    assert (report.inserted, report.rejected) == (len(rows), 0)


def _plain(settings: Settings, tmp_path: Path) -> None:
    """Records without `evidence` or `retracts`; every third one is 45 days late."""
    _ingest(
        settings,
        tmp_path / "plain.jsonl",
        [_late(45 if i % 3 == 0 else 0, i) for i in range(PLAIN)],
    )


def _online(settings: Settings) -> dict[str, int]:
    with open_ledger(settings) as ledger:
        return {s.ref.id: s.outcome.score for s in score_all(ledger, as_of=NOW)}


def _rescore_agrees_with_online(settings: Settings, tmp_path: Path) -> dict[str, int]:
    out = tmp_path / "scores.parquet"
    with open_ledger(settings) as ledger:
        result = rescore(ledger, as_of=NOW, out=out)
    batch = {r["subject_id"]: r["score"] for r in pq.read_table(out).to_pylist()}
    assert result.subjects == SUBJECTS and batch == _online(settings)
    return batch


def test_rescore_survives_late_retraction(settings: Settings, tmp_path: Path) -> None:
    _plain(settings, tmp_path)
    before = _online(settings)
    retraction = _late(0, PLAIN) | {"subject_id": "s000", "retracts": "e0"}  # e0 was 45 days late
    _ingest(settings, tmp_path / "retraction.jsonl", [retraction])
    scores = _rescore_agrees_with_online(settings, tmp_path)
    assert scores["s000"] == before["s000"] + 15  # bill_late's -15 no longer counts
    assert {k: v for k, v in scores.items() if k != "s000"} == {
        k: v for k, v in before.items() if k != "s000"
    }
    batches = list(ledger_batches(settings.db))
    assert all(b.schema.equals(LEDGER_SCHEMA) for b in batches)
    retracts = [v for b in batches for v in b.column("retracts").to_pylist()]
    assert retracts.count(None) == PLAIN and [v for v in retracts if v] == ["e0"]


def test_rescore_survives_late_evidence(settings: Settings, tmp_path: Path) -> None:
    _plain(settings, tmp_path)
    _ingest(settings, tmp_path / "evidence.jsonl", [_late(0, PLAIN) | {"evidence": "sha256:9a7c"}])
    _rescore_agrees_with_online(settings, tmp_path)
    batches = list(ledger_batches(settings.db))
    assert all(b.schema.equals(LEDGER_SCHEMA) for b in batches)
    evidence = [v for b in batches for v in b.column("evidence").to_pylist()]
    assert evidence.count(None) == PLAIN and [v for v in evidence if v] == ["sha256:9a7c"]
