"""`credence verify` on a read-only copy, as an outside auditor holds one (docs/ledger.md).

Regression: the SQLite store always opened a writer (WAL switch, BEGIN
IMMEDIATE), so verifying a 0444 copy in a read-only directory failed with
"attempt to write a readonly database". Root ignores file modes, so under
root the auditor's commands run as an unprivileged user.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from credence.cli import main
from credence.errors import StoreUnavailable
from credence.ledger import open_store

ROOT = Path(__file__).parents[2]
POLICY = ROOT / "examples" / "policies" / "consumer-trust.yaml"
GOLDEN = ROOT / "tests" / "data" / "golden-consumer.jsonl"
CREDENCE = shutil.which("credence")
NOBODY = 65534

pytestmark = pytest.mark.skipif(CREDENCE is None, reason="the credence command is not installed")


def _as_auditor() -> list[str]:
    """A command prefix that runs without the power to write a 0444 file."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file modes cannot be enforced")
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def _auditor(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDENCE_")}
    return subprocess.run(
        [*_as_auditor(), CREDENCE or "credence", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=120,
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A live ledger with the golden records, closed, and a checkpoint of it beside it."""
    folder = tmp_path_factory.mktemp("operator")
    db = folder / "ledger.db"
    data = folder / "golden.jsonl"
    shutil.copy(GOLDEN, data)
    assert main(["init", "--db", str(db), "--policy", str(POLICY)]) == 0
    assert main(["ingest", "--db", str(db), "-q", str(data)]) == 0
    assert main(["checkpoint", "--db", str(db), "--out", str(folder / "checkpoint.json")]) == 0
    return db


@pytest.fixture
def shelf() -> Iterator[Path]:
    """A directory the auditor can read (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="credence-audit-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        for p in (path, *path.rglob("*")):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        shutil.rmtree(path)


def _read_only_copy(source: Path, shelf: Path, *, how: str) -> Path:
    """The ledger copied as the auditor gets it: 0444 in a 0555 directory."""
    folder = shelf / how
    folder.mkdir()
    copy = folder / "ledger.db"
    if how == "backup":
        assert main(["backup", "--db", str(source), "--out", str(copy)]) == 0
    else:  # a plain copy of the closed WAL ledger
        shutil.copy(source, copy)
    shutil.copy(source.parent / "checkpoint.json", folder / "checkpoint.json")
    for p in folder.iterdir():
        os.chmod(p, 0o444)
    os.chmod(folder, 0o555)
    return copy


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.mark.parametrize("how", ["backup", "copy"])
@pytest.mark.parametrize("with_checkpoint", [False, True], ids=["plain", "checkpoint"])
def test_verify_read_only_copy(source: Path, shelf: Path, how: str, with_checkpoint: bool) -> None:
    copy = _read_only_copy(source, shelf, how=how)
    before = _snapshot(copy.parent)
    extra = ["--checkpoint", str(copy.parent / "checkpoint.json")] if with_checkpoint else []
    proc = _auditor("verify", "--db", str(copy), *extra)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ledger verifies: 41 records to seq 41")
    assert ("matches checkpoint" in proc.stdout) is with_checkpoint
    assert _snapshot(copy.parent) == before  # nothing written, not even a -shm
    assert stat.S_IMODE(copy.stat().st_mode) == 0o444


def test_a_read_only_copy_still_shows_tampering(source: Path, shelf: Path) -> None:
    folder = shelf / "tampered"
    folder.mkdir()
    copy = folder / "ledger.db"
    assert main(["backup", "--db", str(source), "--out", str(copy)]) == 0
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE records SET occurred_at = occurred_at + 1 WHERE seq = 7")
    os.chmod(copy, 0o444)
    os.chmod(folder, 0o555)
    proc = _auditor("verify", "--db", str(copy))
    assert proc.returncode == 1 and "error[ledger.tampered]" in proc.stderr
    assert "seq 7" in proc.stderr


def test_a_read_only_copy_with_an_unfolded_wal_is_refused(shelf: Path) -> None:
    """Opened immutable, SQLite would read the main file alone and miss the log's records."""
    folder = shelf / "wal"
    folder.mkdir()
    db = folder / "ledger.db"
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (1)")
    shutil.copy(db, shelf / "main")
    shutil.copy(f"{db}-wal", shelf / "wal-log")
    writer.close()
    for p in folder.iterdir():
        p.unlink()
    shutil.move(shelf / "main", db)
    shutil.move(shelf / "wal-log", f"{db}-wal")
    assert Path(f"{db}-wal").stat().st_size > 0
    for p in folder.iterdir():
        os.chmod(p, 0o444)
    os.chmod(folder, 0o555)
    proc = _auditor("verify", "--db", str(db))
    assert proc.returncode == 1
    assert "error[store.unavailable]" in proc.stderr and "ledger.db-wal" in proc.stderr


def test_a_read_only_store_refuses_writes(source: Path) -> None:
    store = open_store(str(source), read_only=True)
    try:
        assert store.verify().ok
        with pytest.raises(StoreUnavailable, match="read-only"):
            store.migrate()
    finally:
        store.close()
