"""``init``: where the key is, and a refused or failed run leaves nothing behind."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from credence.errors import CredenceError, CryptoKeyError, PolicyError, StoreUnavailable
from credence.ledger import open_store
from credence.service.ingest import ingest_files
from credence.service.ledger import open_ledger
from credence.service.setup import init_ledger
from credence.settings import Settings, load_settings, postgres_key_name

ROOT = Path(__file__).parents[2]
POLICY = ROOT / "examples" / "policies" / "consumer-trust.yaml"
GOLDEN = ROOT / "tests" / "data" / "golden-consumer.jsonl"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return str(request.getfixturevalue("postgres_url"))


def settings(db: str, key_file: Path) -> Settings:
    return load_settings({}, db=db, key_file=key_file)


def changed_policy(tmp_path: Path, *, version: str = "2026.12.1") -> Path:
    text = POLICY.read_text(encoding="utf-8").replace(
        'version: "2026.11.1"', f'version: "{version}"'
    )
    path = tmp_path / f"policy-{version}.yaml"
    path.write_text(text + "\n# changed\n", encoding="utf-8")
    return path


def with_records(db: str, tmp_path: Path) -> Settings:
    given = settings(db, tmp_path / "a.key")
    init_ledger(given, POLICY)
    data = tmp_path / "golden.jsonl"
    shutil.copy(GOLDEN, data)
    with open_ledger(given) as ledger:
        [report] = ingest_files(ledger, [data])
    assert report.inserted > 0
    return given


def test_init_failure_leaves_no_key_file(db: str, tmp_path: Path) -> None:
    init_ledger(settings(db, tmp_path / "a.key"), POLICY)
    other = tmp_path / "b.key"
    with pytest.raises(CryptoKeyError) as refused:
        init_ledger(settings(db, other), POLICY)
    assert str(other) in refused.value.message
    assert not other.exists()  # it used to be written, then refused
    # Nor any directory made for it, nor a staged copy.
    nested = tmp_path / "keys" / "deeper" / "c.key"
    with pytest.raises(CryptoKeyError):
        init_ledger(settings(db, nested), POLICY)
    assert sorted(p.name for p in tmp_path.iterdir() if "ledger.db" not in p.name) == ["a.key"]


def test_init_failure_leaves_no_new_ledger_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x", encoding="utf-8")
    db = tmp_path / "ledger.db"
    with pytest.raises(CryptoKeyError):
        init_ledger(settings(str(db), blocker / "ledger.key"), POLICY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-directory"]


def test_init_refuses_foreign_sqlite_file(tmp_path: Path) -> None:
    foreign = tmp_path / "app.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    before = foreign.read_bytes()
    given = settings(str(foreign), tmp_path / "app.key")
    with pytest.raises(StoreUnavailable) as refused:
        init_ledger(given, POLICY)
    assert refused.value.code == "store.foreign" and "users" in refused.value.message
    assert foreign.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]
    # Other commands say the same, rather than suggesting an init that would be refused.
    with pytest.raises(StoreUnavailable) as read:
        open_ledger(given).__enter__()
    assert read.value.code == "store.foreign"
    # A file that is not SQLite at all is refused too, and left as it was.
    text = tmp_path / "notes.db"
    text.write_text("my notes\n", encoding="utf-8")
    with pytest.raises(StoreUnavailable, match="not a Credence ledger"):
        init_ledger(settings(str(text), tmp_path / "notes.key"), POLICY)
    assert text.read_text(encoding="utf-8") == "my notes\n"
    assert not (tmp_path / "notes.key").exists()


def test_init_accepts_an_empty_sqlite_file(tmp_path: Path) -> None:
    empty = tmp_path / "ledger.db"
    empty.touch()
    report = init_ledger(settings(str(empty), tmp_path / "l.key"), POLICY)
    assert report.policy_changed and report.key_file == tmp_path / "l.key"


def test_init_refuses_policy_switch_with_records(db: str, tmp_path: Path) -> None:
    given = with_records(db, tmp_path)
    newer = changed_policy(tmp_path)
    with pytest.raises(PolicyError) as refused:
        init_ledger(given, newer)
    assert refused.value.code == "policy.switch_refused"
    assert "--new-version" in (refused.value.suggestion or "")
    store = open_store(db)
    try:
        active = store.active_policy()
        assert active is not None and active.version == "2026.11.1"
    finally:
        store.close()
    # Told explicitly, init stores it as a new version, and it is the one scoring.
    report = init_ledger(given, newer, new_version=True)
    assert report.policy_changed and report.policy_version == "2026.12.1"
    with open_ledger(given) as ledger:
        assert ledger.loaded_policy.policy.version == "2026.12.1"
    # Other text under a version already stored is refused even so.
    same_version = tmp_path / "same-version.yaml"
    same_version.write_text(newer.read_text(encoding="utf-8") + "# again\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="needs a new version"):
        init_ledger(given, same_version, new_version=True)


def test_init_switches_the_policy_of_a_ledger_without_records(tmp_path: Path) -> None:
    given = settings(str(tmp_path / "ledger.db"), tmp_path / "l.key")
    init_ledger(given, POLICY)
    report = init_ledger(given, changed_policy(tmp_path))
    assert report.policy_changed and report.policy_version == "2026.12.1"


def test_postgres_key_file_per_database(tmp_path: Path) -> None:
    keys = tmp_path / "keys"

    def key_of(url: str) -> Path:
        return load_settings({"CREDENCE_KEY_DIR": str(keys)}, db=url).resolved_key_file()

    a = key_of("postgresql://app@db.example.com:5433/ledger_a")
    b = key_of("postgresql://app:secret@db.example.com:5433/ledger_b")
    assert a == keys / "postgresql-db.example.com-5433-ledger_a.key"
    assert b == keys / "postgresql-db.example.com-5433-ledger_b.key"
    assert key_of("postgresql://other.example.com/ledger_a") != a  # another server
    # libpq's defaults: localhost, 5432, the database named after the user.
    assert postgres_key_name("postgresql://alice@/") == "postgresql-localhost-5432-alice.key"
    assert (
        postgres_key_name("postgresql:///ledger?host=/var/run/postgresql")
        == "postgresql-_var_run_postgresql-5432-ledger.key"
    )
    # Not the current directory, whatever it is; an explicit key file still wins.
    assert not key_of("postgresql://app@h/x").is_relative_to(Path.cwd())
    assert load_settings({}, db="postgresql://h/x", key_file=Path("k.key")).resolved_key_file() == (
        Path("k.key")
    )
    default = load_settings({}, db="postgresql://h/x").resolved_key_file()
    assert default == Path.home() / ".config/credence/keys/postgresql-h-5432-x.key"


@pytest.mark.postgres
def test_two_postgres_databases_get_their_own_keys(tmp_path: Path, postgres_server: str) -> None:
    from tests.conftest import new_postgres_database

    keys = tmp_path / "keys"
    with new_postgres_database(postgres_server) as a, new_postgres_database(postgres_server) as b:
        reports = [
            init_ledger(load_settings({"CREDENCE_KEY_DIR": str(keys)}, db=url), POLICY)
            for url in (a, b)
        ]
        written = [r.key_file for r in reports]
        assert all(p is not None and p.parent == keys for p in written)
        assert written[0] != written[1]
        assert written[0].read_text() != written[1].read_text()  # type: ignore[union-attr]
        assert oct(keys.stat().st_mode & 0o777) == "0o700"
        # Found again from the settings alone, wherever the command runs.
        again = init_ledger(load_settings({"CREDENCE_KEY_DIR": str(keys)}, db=a), POLICY)
        assert again.key_file is None and again.key_source == str(written[0])


def test_errors_of_init_are_credence_errors(tmp_path: Path) -> None:
    with pytest.raises(CredenceError):
        init_ledger(settings(str(tmp_path / "x.db"), tmp_path / "x.key"), tmp_path / "nope.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_postgres_key_left_in_the_old_default_place_is_pointed_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credence.service.ledger import key_ring

    monkeypatch.chdir(tmp_path)
    (tmp_path / "credence.key").write_text("x\n", encoding="utf-8")
    given = load_settings({"CREDENCE_KEY_DIR": str(tmp_path / "keys")}, db="postgresql://h/x")
    with pytest.raises(CryptoKeyError) as missing:
        key_ring(given)
    assert str(given.resolved_key_file()) in missing.value.message
    assert "move it to" in (missing.value.suggestion or "")
