"""Tamper evidence: every edit, deletion, reordering and insertion done in SQL is found,
and a truncated tail is found against an exported checkpoint."""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from safeguard_data import POLICY_TEXT, T0, fill, opened, settings
from tamper import KINDS, tamper, verify

from credence.cli import main
from credence.ledger import StoredPolicy, open_store
from credence.ledger.sqlite import SQLiteStore
from credence.service import safeguards

RUNS = 1_000


def _build(url: str) -> None:
    store = open_store(url)
    try:
        store.migrate()
        store.add_policy(StoredPolicy("purge-test", "1", "d", POLICY_TEXT, T0))
        people = fill(store)
        (row,) = store.find_subjects([people[3].lookup]).values()
        store.erase_subject(row.key, at=T0 + 10**9, lookup=b"\x01" * 32)
        store.purge([("bank-a", "e0"), ("city", "e1"), ("bank-a", "e4")], at=T0 + 10**9)
        report = store.verify()
        assert report.ok and report.tombstones >= 3, report
    finally:
        store.close()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("tamper") / "ledger.db"
    _build(str(path))
    yield path


@pytest.mark.parametrize("kind", KINDS)
def test_every_random_tampering_is_detected(ledger: Path, kind: str) -> None:
    rng = random.Random(f"tamper-{kind}")
    conn = sqlite3.connect(ledger, isolation_level=None)
    try:
        assert verify(conn).ok  # the untouched ledger verifies
        missed = []
        for _ in range(RUNS):
            conn.execute("BEGIN")
            try:
                done = tamper(conn, rng, kind)
                report = verify(conn)
            finally:
                conn.execute("ROLLBACK")
            if report.ok:
                missed.append(done)
        assert missed == []
        assert verify(conn).ok
    finally:
        conn.close()


def test_verify_command_names_the_first_bad_record(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(ledger, copy)
    assert main(["verify", "--db", str(copy)]) == 0
    assert "ledger verifies" in capsys.readouterr().out
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE records SET attributes = '{\"days_late\":1}' WHERE seq = 7")
    assert main(["verify", "--db", str(copy)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[ledger.tampered]: ") and "record seq 7" in err
    assert "content hash" in err


def test_a_truncated_tail_is_detected_against_a_checkpoint(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(ledger, copy)
    held = tmp_path / "checkpoint.json"
    config = settings(str(copy))
    with opened(str(copy)) as opened_ledger:
        signed = safeguards.make_checkpoint(opened_ledger, held)
    # More records arrive after the checkpoint; the chain still passes through it.
    store = SQLiteStore(copy)
    try:
        fill(store, seed=9, records=20)
    finally:
        store.close()
    assert safeguards.verify_ledger(config, checkpoint=held).checkpoint_seen
    # An intruder removes the last records and rewrites the chain head to match.
    with sqlite3.connect(copy) as conn:
        cut = signed.head.seq - 5
        conn.execute("DELETE FROM records WHERE seq > ?", (cut,))
        seq, chain, count = conn.execute(
            "SELECT seq, chain_hash, (SELECT count(*) FROM records) FROM records ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        conn.execute(
            "UPDATE chain_head SET seq = ?, chain_hash = ?, records = ?", (seq, chain, count)
        )
    assert safeguards.verify_ledger(config).ok  # consistent on its own...
    assert (
        main(["verify", "--db", str(copy), "--checkpoint", str(held)]) == 1
    )  # ...not against the checkpoint
    assert "removed from the tail" in capsys.readouterr().err


def test_an_altered_checkpoint_is_refused(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = tmp_path / "checkpoint.json"
    assert main(["checkpoint", "--db", str(ledger), "--out", str(held)]) == 1  # no key in the env
    capsys.readouterr()
    with opened(str(ledger)) as opened_ledger:
        safeguards.make_checkpoint(opened_ledger, held)
    text = held.read_text()
    held.write_text(text.replace('"records": ', '"records": 1', 1))
    assert main(["verify", "--db", str(ledger), "--checkpoint", str(held)]) == 1
    assert "error[checkpoint.invalid]" in capsys.readouterr().err


def test_a_sealed_identifier_moved_to_another_subject_is_detected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The chain covers records, not the sealed identifiers; each must open to its own lookup."""
    root = Path(__file__).parents[2]
    db = str(tmp_path / "ledger.db")
    policy = root / "examples" / "policies" / "consumer-trust.yaml"
    assert main(["init", "--db", db, "--policy", str(policy)]) == 0
    assert main(["ingest", "--db", db, str(root / "tests" / "data" / "golden-consumer.jsonl")]) == 0
    as_of = ["--as-of", "2026-07-01T00:00:00Z"]
    assert main(["score", "--db", db, "--all", *as_of]) == 0
    with sqlite3.connect(db) as conn:  # bob's sealed identifier and data key, copied onto alice
        (bob,) = conn.execute(
            "SELECT sealed_id, wrapped_key FROM subjects ORDER BY subject_key LIMIT 1 OFFSET 1"
        )
        conn.execute(
            "UPDATE subjects SET sealed_id = ?, wrapped_key = ? WHERE subject_key = "
            "(SELECT min(subject_key) FROM subjects)",
            bob,
        )
    capsys.readouterr()
    rescore = ["rescore", "--out", str(tmp_path / "scores.parquet")]
    for command in (["score", "--all"], ["explain", "custom:alice"], rescore):
        assert main([command[0], "--db", db, *command[1:], *as_of]) == 1, command
        last = capsys.readouterr().err.strip().splitlines()[-1]  # after any progress lines
        assert last.startswith("error[ledger.tampered]: subject 1's sealed identifier"), last
