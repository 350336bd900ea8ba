"""A rescore from a pre-aggregate built before disputes ended equals online scoring, on both
SQL stores: a dispute upheld after the build, one lapsed by the clock with no sweep, and one
upheld before the build (left out and named in the file) are all dropped at every as-of."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from credence.batch.preaggregate import read_preaggregate, rescore_preaggregate
from credence.clock import FixedClock
from credence.errors import UsageError
from credence.service import disputes
from credence.service.batch import build_preaggregate, rescore
from credence.service.ingest import ingest_files
from credence.service.ledger import Ledger, open_ledger
from credence.service.parties import PartyKind, add_party
from credence.service.scoring import score_all
from credence.service.setup import init_ledger
from credence.settings import Settings, load_settings
from credence.types import DAY_US, Record, SubjectRef, parse_time

pytest.importorskip("duckdb")
pytest.importorskip("adbc_driver_sqlite")
pytest.importorskip("adbc_driver_postgresql")

POLICY = Path(__file__).parents[2] / "examples" / "policies" / "consumer-trust.yaml"
NOW = parse_time("2026-06-01T00:00:00Z")
SUBJECTS = 6


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    db = str(tmp_path / "ledger.db")
    if request.param == "postgres":
        db = str(request.getfixturevalue("postgres_url"))
    settings = load_settings(db=db, key_file=str(tmp_path / "ledger.key"))
    init_ledger(settings, POLICY, clock=FixedClock(NOW - 400 * DAY_US))
    rows = [
        {
            "provider": "bank-a",
            "provider_event_id": f"e{i}",
            "subject_scheme": "custom",
            "subject_id": f"s{i % SUBJECTS}",
            "subject_kind": "person",
            "type": "bill.paid",
            "occurred_at": f"2026-0{1 + i % 5}-{1 + i % 28:02d}T00:00:00Z",
            "attributes": {"days_late": 45 if (i // SUBJECTS) % 3 == 0 else 0, "amount": 50.0},
        }
        for i in range(48)
    ]
    data = tmp_path / "records.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with open_ledger(settings, clock=FixedClock(NOW)) as ledger:
        [report] = ingest_files(ledger, [data])
    assert report.rejected == 0
    return settings


def _adverse(ledger: Ledger, subject: str) -> tuple[SubjectRef, Record]:
    scored = list(score_all(ledger, as_of=NOW))  # read whole: no cursor left open
    return next(
        (item.ref, c.record)
        for item in scored
        if item.ref.id == subject
        for c in item.outcome.contributions
        if c.value < 0
    )


def _file(ledger: Ledger, subject: str) -> str:
    ref, record = _adverse(ledger, subject)
    rid = disputes.format_record_id(record.provider, record.provider_event_id)
    return disputes.file_dispute(ledger, disputes.acting_for(ledger, ref), rid, "not mine").id


def _scores(rows: list[dict[str, object]]) -> dict[str, tuple[object, object]]:
    return {str(r["subject_id"]): (r["score"], r["tier"]) for r in rows}


def test_rescore_from_a_preaggregate_drops_what_disputes_dropped_since(
    settings: Settings, tmp_path: Path
) -> None:
    clock = FixedClock(NOW)
    pre = tmp_path / "pre.parquet"
    with open_ledger(settings, clock=clock) as ledger:
        reviewer = add_party(ledger, "reviewer-1", kind=PartyKind.REVIEWER)
        before = _file(ledger, "s1")
        disputes.resolve_dispute(ledger, reviewer, before, "upheld", "unverified")
        lapsing = _file(ledger, "s0")  # open at the build, lapses by the clock later
        upheld = _file(ledger, "s2")
        built = build_preaggregate(
            ledger, pre, valid_from=NOW - 30 * DAY_US, valid_until=NOW + 60 * DAY_US
        )
        [struck_at_build] = built.struck
        assert struck_at_build[1:] == _struck_key(ledger, before)
        assert read_preaggregate(pre).struck == built.struck

        disputes.resolve_dispute(ledger, reviewer, upheld, "upheld", "unverified")
        clock.advance(31 * DAY_US)  # no sweep: the dispute has lapsed only by the clock
        [row] = [d for d in ledger.store.all_disputes() if d.id == lapsing]
        assert row.state == "open"  # as written: no sweep
        assert disputes.view(row, now=clock.now()).state == "lapsed"
        policy = ledger.policy_at(NOW)
        stale = {
            r["subject_key"]: (r["score"], r["tier"])
            for r in rescore_preaggregate(policy, pre, as_of=NOW).to_pylist()
        }
        key_of = {
            subject: _subject_key(ledger, d)
            for subject, d in (("s0", lapsing), ("s1", before), ("s2", upheld))
        }
        for as_of in (NOW - 30 * DAY_US, NOW, NOW + 45 * DAY_US, NOW + 60 * DAY_US):
            online = {s.ref.id: s.outcome for s in score_all(ledger, as_of=as_of)}
            out = tmp_path / "scores.parquet"
            result = rescore(ledger, as_of=as_of, out=out, from_preaggregate=pre)
            rows = pq.read_table(out).to_pylist()
            out.unlink()
            assert result.subjects == len(online) == SUBJECTS
            assert _scores(rows) == {k: (o.score, o.tier) for k, o in online.items()}
            for row in rows:
                assert abs(row["raw"] - online[row["subject_id"]].raw) <= 1e-6
            if as_of == NOW:
                # Read as it is, the file still counts the two records dropped since it was built.
                fresh = _scores(rows)
                assert [fresh[s] == stale[key_of[s]] for s in ("s0", "s1", "s2")] == [
                    False,
                    True,
                    False,
                ]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _subject_key(ledger: Ledger, dispute_id: str) -> int:
    [row] = [d for d in ledger.store.all_disputes() if d.id == dispute_id]
    return row.subject_key


def _struck_key(ledger: Ledger, dispute_id: str) -> tuple[str, str]:
    [row] = [d for d in ledger.store.all_disputes() if d.id == dispute_id]
    return row.provider, row.provider_event_id


def test_a_rescore_from_a_preaggregate_runs_on_duckdb_only(
    settings: Settings, tmp_path: Path
) -> None:
    with (
        open_ledger(settings, clock=FixedClock(NOW)) as ledger,
        pytest.raises(UsageError, match="pre-aggregate"),
    ):
        rescore(
            ledger,
            as_of=NOW,
            out=tmp_path / "s.parquet",
            engine="spark",
            from_preaggregate=tmp_path / "pre.parquet",
        )
