"""Rescore and export over a real SQLite ledger: the same numbers as `credence score --all`."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from credence.batch.export import read_export
from credence.clock import FixedClock
from credence.errors import UsageError
from credence.service.batch import export, rescore
from credence.service.ledger import open_ledger
from credence.service.scoring import score_all
from credence.settings import load_settings
from credence.sim.demo import run_demo
from credence.types import parse_time

pytest.importorskip("adbc_driver_sqlite")

NOW = parse_time("2026-06-01T00:00:00Z")


@pytest.fixture(scope="module")
def ledger_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("ledger") / "ledger.db"
    run_demo(db, subjects=60, seed=3, clock=FixedClock(NOW))
    return db


def test_rescore_matches_online_scores_subject_by_subject(ledger_db: Path, tmp_path: Path) -> None:
    settings = load_settings(db=str(ledger_db))
    out = tmp_path / "scores.parquet"
    as_of = NOW - 30 * 86_400_000_000
    with open_ledger(settings) as ledger:
        result = rescore(ledger, as_of=as_of, out=out)
    rows = {(r["subject_scheme"], r["subject_id"]): r for r in pq.read_table(out).to_pylist()}
    with open_ledger(settings) as ledger:
        online = list(score_all(ledger, as_of=as_of))
    assert result.subjects == len(online) == len(rows) > 0
    for item in online:
        row = rows[(item.ref.scheme, item.ref.id)]
        assert row["score"] == item.outcome.score
        assert row["tier"] == item.outcome.tier
        assert abs(row["raw"] - item.outcome.raw) <= 1e-6
        for dim, value in item.outcome.dimensions.items():
            assert abs(row["dim_" + dim] - value) <= 1e-6
    assert [p.name for p in tmp_path.iterdir()] == ["scores.parquet"]  # no staging left behind


def test_export_round_trips_and_rescores_from_it(ledger_db: Path, tmp_path: Path) -> None:
    settings = load_settings(db=str(ledger_db))
    directory = tmp_path / "export"
    with open_ledger(settings) as ledger:
        count = export(ledger, directory)
        data = read_export(directory).to_table()
        assert data.num_rows == count > 0
        assert all(p.name.startswith("month=") for p in directory.iterdir())
        assert "attributes" in data.column_names
        with pytest.raises(UsageError):
            export(ledger, directory)
        a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
        rescore(ledger, as_of=NOW, out=a)
        rescore(ledger, as_of=NOW, out=b, from_dir=directory)
    left, right = pq.read_table(a).to_pylist(), pq.read_table(b).to_pylist()
    assert len(left) == len(right)
    for x, y in zip(left, right, strict=True):  # sums in parallel may differ in the last bit
        assert {k: v for k, v in x.items() if not isinstance(v, float)} == {
            k: v for k, v in y.items() if not isinstance(v, float)
        }
        assert all(abs(v - y[k]) <= 1e-9 for k, v in x.items() if isinstance(v, float))


def test_an_interrupted_rescore_leaves_no_output(
    ledger_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import credence.service.batch as service

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(service.pq, "write_table", boom)
    out = tmp_path / "scores.parquet"
    with pytest.raises(KeyboardInterrupt), open_ledger(load_settings(db=str(ledger_db))) as ledger:
        rescore(ledger, as_of=NOW, out=out)
    assert list(tmp_path.iterdir()) == []


def test_rescore_after_purge_and_erasure_still_matches_online(tmp_path: Path) -> None:
    """Regression: the export read tombstones, so purged records matched rules again in batch."""
    from credence.service.safeguards import erase, purge
    from credence.types import SubjectRef

    db = tmp_path / "ledger.db"
    run_demo(db, subjects=40, seed=5, clock=FixedClock(NOW))
    settings = load_settings(db=str(db))
    with open_ledger(settings, clock=FixedClock(NOW)) as ledger:
        report = purge(ledger, grace_us=0)
        assert report.purged > 0
        erase(ledger, SubjectRef("custom", "synthetic-person-00003"))
        out = tmp_path / "scores.parquet"
        rescore(ledger, as_of=NOW, out=out)
    rows = {r["subject_id"]: r for r in pq.read_table(out).to_pylist()}
    with open_ledger(settings) as ledger:
        online = {s.ref.id: s.outcome for s in score_all(ledger, as_of=NOW)}
    assert rows.keys() == online.keys() and "[erased]" not in rows
    for subject, outcome in online.items():
        assert (rows[subject]["score"], rows[subject]["tier"]) == (outcome.score, outcome.tier)
        assert abs(rows[subject]["raw"] - outcome.raw) <= 1e-6
