"""Erasure by crypto-shredding: nothing of the subject is left in the file, the WAL or a new backup."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from safeguard_data import KEYS, MASTER, POLICY_TEXT, T0, new_record, settings, subject

from credence.cli import main
from credence.ledger import StoredPolicy
from credence.ledger.sqlite import SQLiteStore
from credence.service import safeguards
from credence.types import Record, SubjectRef

IDENTIFIERS = [("custom", "erase-me-4242"), ("cn.ric", "11010519491231002X")]
MARKER = "PLAINTEXT-MARKER-7f3a9c"


def _scan(*paths: Path) -> bytes:
    return b"".join(p.read_bytes() for p in paths if p.exists())


def test_erased_subjects_leave_no_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDENCE_MASTER_KEY", base64.b64encode(MASTER).decode())
    db = tmp_path / "ledger.db"
    store = SQLiteStore(db)
    store.migrate()
    store.add_policy(StoredPolicy("purge-test", "1", "d", POLICY_TEXT, T0))
    people = [subject(i, scheme=s) for s, i in IDENTIFIERS]
    bystander = subject("keep-me")
    records = [
        new_record(
            p,
            Record(
                "bank-a",
                f"{n}-{k}",
                "bill.paid",
                T0 + k,
                {"days_late": 0, "note": f"{MARKER}-{n}"},
                None,
                f"https://evidence/{MARKER}-{n}",
            ),
        )
        for n, p in enumerate(people)
        for k in range(30)
    ]
    records.append(
        new_record(
            bystander, Record("bank-a", "b", "bill.paid", T0, {"days_late": 0, "note": "bystander"})
        )
    )
    store.append([*people, bystander], records, ingested_at=T0)
    rows = store.find_subjects([p.lookup for p in people])
    secrets = [bytes(v) for r in rows.values() for v in (r.lookup, r.sealed_id, r.wrapped_key) if v]
    store.close()

    old_backup = tmp_path / "before.db"
    config = settings(str(db))
    safeguards.backup(config, old_backup)
    # The control: before erasure the scan finds the marker, the sealed identifiers and
    # lookup hashes, and the old backup's keys still open the identifiers.
    before = _scan(db, Path(f"{db}-wal"))
    for n in range(len(people)):
        assert f"{MARKER}-{n}".encode() in before
    assert all(s in before for s in secrets)
    backup_store = SQLiteStore(old_backup)
    opened = {
        KEYS.open(r.sealed_id, r.wrapped_key)
        for r in backup_store.subjects()
        if r.sealed_id and r.wrapped_key
    }
    backup_store.close()
    assert {i for _, i in IDENTIFIERS} <= opened

    counts_before = SQLiteStore(db).counts()
    for scheme, identifier in IDENTIFIERS:
        assert main(["erase", "--db", str(db), f"{scheme}:{identifier}"]) == 0 or pytest.fail(
            capsys.readouterr().err
        )
    new_backup = tmp_path / "after.db"
    assert main(["backup", "--db", str(db), "--out", str(new_backup)]) == 0
    capsys.readouterr()

    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
    for where in (db, wal, new_backup):
        haystack = _scan(where)
        for n in range(len(people)):
            assert f"{MARKER}-{n}".encode() not in haystack, where
        for _, identifier in IDENTIFIERS:
            assert identifier.encode() not in haystack
            assert identifier.encode("utf-16-le") not in haystack
        for secret in secrets:
            assert secret not in haystack, where
        if where != wal:
            assert b"bystander" in haystack  # the scan still sees what is kept

    store = SQLiteStore(db)
    try:
        assert store.counts() == counts_before
        assert store.find_subjects([p.lookup for p in people]) == {}  # cannot be found or confirmed
        erased = [r for r in store.subjects() if r.sealed_id is None]
        assert len(erased) == 2 and all(r.wrapped_key is None for r in erased)
        assert all(store.records(r.key) == [] for r in erased)  # attribute values tombstoned
        assert store.verify().ok
    finally:
        store.close()
    assert safeguards.verify_ledger(config).ok
    from credence.service.ledger import open_ledger
    from credence.service.subjects import identity

    with open_ledger(config) as ledger:
        assert [identity(ledger, r) for r in erased] == [
            SubjectRef("custom", "[erased]"),
            SubjectRef("cn.ric", "[erased]"),
        ]
    # Erasing again: the identifier no longer names anyone.
    assert main(["erase", "--db", str(db), "custom:erase-me-4242"]) == 1
    assert "error[subject.not_found]" in capsys.readouterr().err


def test_backup_is_refused_for_postgres_with_a_pointer_to_pg_dump(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from credence.ledger import open_store

    store = open_store(postgres_url)
    store.migrate()
    store.close()
    assert main(["backup", "--db", postgres_url, "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[backup.unsupported]") and "pg_dump" in err
