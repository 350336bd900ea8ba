"""Tamper evidence: every edit, deletion, reordering and insertion done in SQL is found,
and a truncated tail is found against an exported checkpoint."""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from safeguard_data import MASTER, POLICY_TEXT, T0, fill, opened, settings
from tamper import KINDS, tamper, verify

from credence.cli import main
from credence.errors import StoreError
from credence.ledger import StoredPolicy, open_store
from credence.ledger.chain import EventsHead, chain_events
from credence.ledger.sqlite import SQLiteStore
from credence.service import safeguards
from credence.settings import load_settings
from credence.signing import sign, signing_key

RUNS = 1_000


def _build(url: str) -> None:
    store = open_store(url)
    try:
        store.migrate()
        store.add_policy(StoredPolicy("purge-test", "1", "d", POLICY_TEXT, T0))
        people = fill(store)
        (row,) = store.find_subjects([people[3].lookup]).values()
        key = signing_key(MASTER).sign  # as the service signs them
        store.erase_subject(row.key, at=T0 + 10**9, lookup=b"\x01" * 32, sign=key)
        store.purge([("bank-a", "e0"), ("city", "e1"), ("bank-a", "e4")], at=T0 + 10**9, sign=key)
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


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return str(request.getfixturevalue("postgres_url"))


def _connect(url: str) -> Any:
    if "://" in url:
        import psycopg

        return psycopg.connect(url)
    return sqlite3.connect(url)


def _late_record(url: str) -> tuple[int, int]:
    """The seq and subject key of a live record that lowers its subject's score."""
    with closing(_connect(url)) as conn:
        rows = conn.cursor().execute(
            "SELECT seq, subject_key, attributes FROM records WHERE purged_at IS NULL ORDER BY seq"
        )
        for seq, subject_key, attributes in rows:
            if orjson.loads(attributes).get("days_late", 0) > 30:
                return seq, subject_key
    raise AssertionError("the test ledger has no late bill")


@pytest.mark.parametrize("checkpoint", [False, True], ids=["alone", "checkpoint"])
@pytest.mark.parametrize("cunning", [False, True], ids=["plain", "pointed"])
def test_forged_tombstone_detected(
    url: str, tmp_path: Path, checkpoint: bool, cunning: bool
) -> None:
    """Content set to NULL and purged_at set in SQL made a negative record stop counting."""
    _build(url)
    config = settings(url)
    held = tmp_path / "checkpoint.json"
    if checkpoint:
        with opened(url) as ledger:
            safeguards.make_checkpoint(ledger, held)
    seq, _ = _late_record(url)
    mark = "%s" if "://" in url else "?"
    with closing(_connect(url)) as conn:
        by, at = None, T0 + 2 * 10**9
        if cunning:  # pointed at a real purge event, with its time
            (by, at) = (
                conn.cursor()
                .execute("SELECT seq, at FROM events WHERE kind = 'purge' ORDER BY seq LIMIT 1")
                .fetchone()
            )
        conn.cursor().execute(
            "UPDATE records SET attributes = NULL, evidence = NULL, "
            f"purged_at = {mark}, purged_by = {mark} WHERE seq = {mark}",
            (at, by, seq),
        )
        conn.commit()
    with pytest.raises(StoreError) as caught:
        safeguards.verify_ledger(config, checkpoint=held if checkpoint else None)
    assert caught.value.code == "ledger.tampered"
    message = caught.value.message
    if cunning:  # the event it points at is of another subject, or names other records
        assert "event" in message, message
    else:
        assert f"record seq {seq}: this tombstone has no purge or erasure event" in message


def test_purge_event_without_tombstone_detected(url: str, tmp_path: Path) -> None:
    """A purge event chained in SQL, naming a live record, is not a purge (even to an
    outside party without the key that would show it unsigned)."""
    _build(url)
    seq, subject_key = _late_record(url)
    mark = "%s" if "://" in url else "?"
    with closing(_connect(url)) as conn:
        cursor = conn.cursor()
        count, prev = cursor.execute("SELECT events, chain_hash FROM event_head").fetchone()
        (event,), tip = chain_events(
            [(subject_key, "purge", T0 + 3 * 10**9, [seq], None)],
            head=EventsHead(count, bytes(prev)),
        )
        cursor.execute(
            "INSERT INTO events (seq, subject_key, kind, at, records, targets, payload, "
            f"chain_hash) VALUES ({', '.join([mark] * 8)})",
            (event.seq, subject_key, "purge", event.at, 1, event.targets, None, event.chain_hash),
        )
        cursor.execute(
            f"UPDATE event_head SET events = {mark}, chain_hash = {mark}",
            (tip.events, tip.chain_hash),
        )
        conn.commit()
    with pytest.raises(StoreError) as caught:
        safeguards.verify_ledger(load_settings({}, db=url, key_file=tmp_path / "no-key"))
    assert caught.value.code == "ledger.tampered"
    assert caught.value.details["event"] == event.seq
    assert "names 1 records, but 0 tombstones name it" in caught.value.message


def test_a_checkpoint_from_before_the_event_chain_still_verifies(
    ledger: Path, tmp_path: Path
) -> None:
    """A credence-checkpoint/1 file vouches for the records; it is read and checked as such."""
    copy = tmp_path / "copy.db"
    shutil.copy(ledger, copy)
    config = settings(str(copy))
    store = SQLiteStore(copy)
    head = store.chain_head()
    store.close()
    old = sign(replace(head, events=None), at=T0, key=signing_key(MASTER))
    assert '"credence-checkpoint/1"' in old.to_json() and "events" not in old.to_json()
    held = tmp_path / "old.json"
    held.write_text(old.to_json())
    assert safeguards.verify_ledger(config, checkpoint=held).checkpoint_seen
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE records SET occurred_at = occurred_at + 1 WHERE seq = 3")
    with pytest.raises(StoreError, match="record seq 3"):
        safeguards.verify_ledger(config, checkpoint=held)


def _forge_with_event(url: str, kind: str) -> int:
    """The whole forgery: a live late bill tombstoned, and a purge event naming it chained
    after the last one, event head rewritten. Returns the forged event's seq."""
    seq, subject_key = _late_record(url)
    mark = "%s" if "://" in url else "?"
    at = T0 + 4 * 10**9
    with closing(_connect(url)) as conn:
        cursor = conn.cursor()
        count, prev = cursor.execute("SELECT events, chain_hash FROM event_head").fetchone()
        (event,), tip = chain_events(
            [(subject_key, kind, at, [seq], None)], head=EventsHead(count, bytes(prev))
        )
        cursor.execute(
            "INSERT INTO events (seq, subject_key, kind, at, records, targets, payload, "
            f"chain_hash) VALUES ({', '.join([mark] * 8)})",
            (event.seq, subject_key, kind, at, 1, event.targets, None, event.chain_hash),
        )
        cursor.execute(
            f"UPDATE event_head SET events = {mark}, chain_hash = {mark}",
            (tip.events, tip.chain_hash),
        )
        cursor.execute(
            "UPDATE records SET attributes = NULL, evidence = NULL, "
            f"purged_at = {mark}, purged_by = {mark} WHERE seq = {mark}",
            (at, event.seq, seq),
        )
        conn.commit()
    return event.seq


@pytest.mark.parametrize("kind", ["purge", "legacy_purge"])
def test_a_forged_purge_event_is_caught_by_the_ledgers_key(
    url: str, tmp_path: Path, kind: str
) -> None:
    """Purge and erasure events are signed with the checkpoint key, which an intruder lacks."""
    _build(url)
    config = settings(url)
    held = tmp_path / "checkpoint.json"
    with opened(url) as ledger:
        safeguards.make_checkpoint(ledger, held)
    forged = _forge_with_event(url, kind)
    store = open_store(url)
    try:
        assert store.verify().ok  # consistent to anyone without the key: see docs/ledger.md
    finally:
        store.close()
    outside = load_settings({}, db=url, key_file=tmp_path / "no-key")  # an outside party
    for checkpoint, who in ((held, outside), (None, config), (held, config)):
        with pytest.raises(StoreError) as caught:
            safeguards.verify_ledger(who, checkpoint=checkpoint)
        assert caught.value.details["event"] == forged
        expected = "not signed by the ledger's key" if kind == "purge" else "written outside"
        assert expected in caught.value.message, caught.value.message
