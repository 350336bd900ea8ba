"""The rough edges a new user hits first: hints that work, errors that say what to do."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from credence.cli import main
from credence.errors import MissingExtra, StoreUnavailable
from credence.ledger import open_store
from tests.cli.test_cli import GOLDEN, POLICY, run

AS_OF = "2026-07-01T00:00:00Z"


def hinted_command(stderr: str) -> list[str]:
    """The `credence ...` command an error line suggests, with FILE as the policy."""
    found = re.search(r"`(credence init [^`]*)`", stderr)
    assert found is not None, stderr
    return [POLICY.as_posix() if word == "FILE" else word for word in shlex.split(found[1])][1:]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_not_initialised_hint_works(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        db = str(tmp_path / "ledger.db")
        Path(db).touch()  # a file with no schema: the store's own hint
    else:
        db = str(request.getfixturevalue("postgres_url"))
    env = {"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")}
    failed = run("score", "--all", "--db", db, cwd=tmp_path, env=env, ok=False)
    assert failed.stderr.startswith("error[store.not_initialised]"), failed.stderr
    run(*hinted_command(failed.stderr), cwd=tmp_path, env=env)
    run("score", "--all", "--db", db, cwd=tmp_path, env=env)


def test_missing_ledger_hint_works(tmp_path: Path) -> None:
    db = tmp_path / "dir with space" / "ledger.db"
    db.parent.mkdir()
    failed = run("score", "--all", "--db", str(db), cwd=tmp_path, ok=False)
    run(*hinted_command(failed.stderr), cwd=tmp_path)
    assert db.exists()


def test_init_says_where_the_key_is(tmp_path: Path) -> None:
    first = run("init", "--db", "l.db", "--policy", str(POLICY), cwd=tmp_path)
    assert "master key written to l.db.key" in first.stdout
    again = run("init", "--db", "l.db", "--policy", str(POLICY), cwd=tmp_path)
    assert "master key: l.db.key" in again.stdout


@pytest.mark.postgres
def test_postgres_key_is_found_from_any_directory(tmp_path: Path, postgres_url: str) -> None:
    keys, here, elsewhere = tmp_path / "keys", tmp_path / "a", tmp_path / "b"
    here.mkdir()
    elsewhere.mkdir()
    env = {"CREDENCE_KEY_DIR": str(keys)}
    made = run("init", "--db", postgres_url, "--policy", str(POLICY), cwd=here, env=env)
    [key] = keys.iterdir()
    assert f"master key written to {key}" in made.stdout
    assert list(here.iterdir()) == []  # nothing in the current directory
    run("ingest", "--db", postgres_url, str(GOLDEN), cwd=elsewhere, env=env)
    run("score", "--all", "--db", postgres_url, "--as-of", AS_OF, cwd=elsewhere, env=env)


def test_missing_postgres_extra_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As without `pip install 'credence[postgres]'`: the driver cannot be imported.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "credence.ledger.postgres", raising=False)
    with pytest.raises(MissingExtra) as missing:
        open_store("postgresql://app@127.0.0.1:5432/ledger")
    assert missing.value.suggestion == "pip install 'credence[postgres]'"
    code = main(["score", "--all", "--db", "postgresql://app@127.0.0.1:5432/ledger"])
    stderr = capsys.readouterr().err
    assert code == 1
    assert stderr.startswith("error[extra.missing]: a PostgreSQL ledger needs the `postgres` extra")
    assert "pip install 'credence[postgres]'" in stderr and "Traceback" not in stderr


def test_rescore_without_batch_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "ledger.db")
    run("init", "--db", db, "--policy", str(POLICY), cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    for module in ("adbc_driver_sqlite", "duckdb"):  # the ADBC driver alone was store.unavailable
        monkeypatch.setitem(sys.modules, module, None)
        out = tmp_path / "scores.parquet"
        code = main(["rescore", "--db", db, "--as-of", AS_OF, "--out", str(out)])
        stderr = capsys.readouterr().err.lstrip()  # after the progress display's blank line
        assert code == 1, stderr
        assert stderr.startswith("error[extra.missing]"), stderr
        assert f"no module '{module}'" in stderr and "credence[batch]" in stderr
        assert not out.exists()
    code = main(["export", "--db", db, "--out", str(tmp_path / "export")])
    assert capsys.readouterr().err.lstrip().startswith("error[extra.missing]") and code == 1


@pytest.mark.postgres
def test_refused_login_is_not_a_retry(postgres_server: str) -> None:
    server = postgres_server.rsplit("/", 1)[0]
    host = server.split("@", 1)[-1]
    cases = {
        f"postgresql://no_such_role_credence@{host}/postgres": "refused the login",
        f"{server}/postgres?sslmode=bogus": "SSL settings",
        f"{server}/postgres?no_such_option=1": "is not valid",
    }
    for url, said in cases.items():
        with pytest.raises(StoreUnavailable) as refused:
            open_store(url)
        text = refused.value.one_line()
        assert said in text, text
        assert "retry" not in text and "lost the connection" not in text


def test_ingest_summary_error_form(tmp_path: Path) -> None:
    run("init", "--db", "l.db", "--policy", str(POLICY), cwd=tmp_path)
    data = tmp_path / "in.jsonl"
    data.write_text(GOLDEN.read_text(encoding="utf-8") + '{"provider": "bank-a"}\n')
    proc = run("ingest", "--db", "l.db", str(data), cwd=tmp_path, ok=False)
    assert proc.returncode == 1
    assert "41 new" in proc.stdout
    [line] = proc.stderr.splitlines()
    assert re.fullmatch(
        rf"error\[record\.rejected\]: {re.escape(str(data))}\.rejects\.jsonl: 1 row\(s\) "
        r"rejected \(.*\)",
        line,
    ), line


def test_unsafe_characters_in_output_are_escaped(tmp_path: Path) -> None:
    # Errors carry what the user typed (here a path, shown as given): printed escaped, never raw.
    proc = run("score", "--all", "--db", "x\u202eb\x1b[2J.db", cwd=tmp_path, ok=False)
    assert proc.stderr.startswith("error[store.not_initialised]: no ledger at ")
    assert "\u202e" not in proc.stderr and "\x1b" not in proc.stderr
    assert "x\\u202eb\\u001b[2J.db" in proc.stderr


def test_init_new_version_gives_notice_like_policy_activate(tmp_path: Path) -> None:
    """`init --new-version` once made a harmful policy take effect at once, without notice."""
    key = {"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")}
    db = str(tmp_path / "ledger.db")
    run("init", "--db", db, "--policy", str(POLICY), cwd=tmp_path, env=key)
    data = tmp_path / "golden.jsonl"
    data.write_text(GOLDEN.read_text(encoding="utf-8"), encoding="utf-8")
    run("ingest", "--db", db, str(data), cwd=tmp_path, env=key)
    harsher = tmp_path / "harsher.yaml"
    text = POLICY.read_text(encoding="utf-8")
    fair = "  - {id: fair, min: 550, label: Fair}\n"
    assert 'version: "2026.11.1"' in text and fair in text
    harsher.write_text(  # a fair score now needs 640: every subject at 550-639 drops a tier
        text.replace('version: "2026.11.1"', 'version: "2026.12.9"')
        .replace(fair, fair.replace("550", "640"), 1)
        .replace("\nscale:", "\nfairness_justification: Tested in a separate audit.\nscale:", 1),
        encoding="utf-8",
    )
    refused = run("init", "--db", db, "--policy", str(harsher), cwd=tmp_path, env=key, ok=False)
    assert refused.returncode == 1 and "error[policy.switch_refused]" in refused.stderr
    done = run("init", "--db", db, "--policy", str(harsher), "--new-version", cwd=tmp_path, env=key)
    said = done.stdout.strip().splitlines()[-1]
    assert said.startswith("policy consumer-trust 2026.12.9: a new version, in effect 20"), said
    harmed = int(said.split("; ")[1].split()[0])
    assert harmed > 0 and f"{harmed} notices given" in said
    listed = run("policy", "list", "--db", db, cwd=tmp_path, env=key).stdout
    assert "2026.12.9" in listed and "scheduled" in listed
