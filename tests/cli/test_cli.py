"""The installed ``credence`` command, end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from credence.cli import app
from tests.conftest import new_postgres_database

ROOT = Path(__file__).parents[2]
POLICY = ROOT / "examples" / "policies" / "consumer-trust.yaml"
GOLDEN = ROOT / "tests" / "data" / "golden-consumer.jsonl"
AS_OF = "2026-07-01T00:00:00Z"
CREDENCE = shutil.which("credence")

pytestmark = pytest.mark.skipif(CREDENCE is None, reason="the credence command is not installed")


def run(
    *args: str, cwd: Path, ok: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CREDENCE_") or k.startswith("CREDENCE_TEST_")
    }
    full_env.update(env or {})
    proc = subprocess.run(
        [CREDENCE or "credence", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return str(request.getfixturevalue("postgres_url"))


def build(db: str, folder: Path) -> str:
    """A ledger at ``db`` with the consumer policy and the golden records; its key in ``folder``."""
    key = ["--db", db]
    env = {"CREDENCE_KEY_FILE": str(folder / "ledger.key")}
    run("init", *key, "--policy", str(POLICY), cwd=folder, env=env)
    data = folder / "golden.jsonl"
    shutil.copy(GOLDEN, data)
    run("ingest", *key, str(data), cwd=folder, env=env)
    return db


@pytest.fixture
def ledger(db: str, tmp_path: Path) -> str:
    """A fresh golden ledger, for tests that write to it."""
    return build(db, tmp_path)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def golden(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """One golden ledger per backend, shared by the tests that only read it: (db, folder)."""
    folder = tmp_path_factory.mktemp("golden")
    if request.param == "sqlite":
        yield build(str(folder / "ledger.db"), folder), folder
        return
    with new_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield build(url, folder), folder


def scores(db: str, cwd: Path, *extra: str) -> dict[str, dict]:
    proc = run(
        "score",
        "--db",
        db,
        "--all",
        "--as-of",
        AS_OF,
        "--format",
        "jsonl",
        *extra,
        cwd=cwd,
        env={"CREDENCE_KEY_FILE": str(cwd / "ledger.key")},
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    return {row["subject_id"]: row for row in rows}


def test_golden_scores_match_the_hand_computed_values(golden: tuple[str, Path]):
    ledger, tmp_path = golden
    got = scores(ledger, tmp_path)
    # alice: 600 + (4*0.5 + 5*0.5 + 5 - 15 - 3) - 25 + 12 + 40 = 618.5, rounded half up
    assert got["alice"]["score"] == 619 and got["alice"]["tier"] == "fair"
    assert got["alice"]["raw"] == pytest.approx(618.5)
    assert got["alice"]["dimensions"] == pytest.approx(
        {
            "payment_history": -8.5,
            "contract_fulfilment": -25,
            "history_length": 12,
            "identity_verification": 40,
            "general": 0,
        }
    )
    # bob: ten good returns capped at 24 a year; a default two half-lives old (-80 -> -40); the late rent retracted
    assert (got["bob"]["score"], got["bob"]["tier"]) == (584, "fair")
    # carol: twenty late bills, -300, bounded at -250 in payment history
    assert (got["carol"]["score"], got["carol"]["tier"]) == (350, "poor")
    assert got["carol"]["dimensions"]["payment_history"] == -250
    assert set(got["alice"]) == {
        "subject_scheme",
        "subject_id",
        "score",
        "raw",
        "tier",
        "dimensions",
    }


def test_reingesting_changes_nothing(ledger: str, tmp_path: Path):
    before = scores(ledger, tmp_path)
    proc = run(
        "ingest",
        "--db",
        ledger,
        str(tmp_path / "golden.jsonl"),
        cwd=tmp_path,
        env={"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")},
    )
    assert "0 new, 41 already stored, 0 rejected" in proc.stdout
    assert scores(ledger, tmp_path) == before


def test_ingest_through_the_ledger_worker_gives_the_same_scores(db: str, tmp_path: Path):
    env = {"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key"), "CREDENCE_INGEST_WORKER": "on"}
    run("init", "--db", db, "--policy", str(POLICY), cwd=tmp_path, env=env)
    data = tmp_path / "golden.jsonl"
    shutil.copy(GOLDEN, data)
    proc = run("ingest", "--db", db, str(data), cwd=tmp_path, env=env)
    assert "41 new, 0 already stored, 0 rejected" in proc.stdout
    got = scores(db, tmp_path)
    assert [got[who]["score"] for who in ("alice", "bob", "carol")] == [619, 584, 350]


def test_score_formats(golden: tuple[str, Path]):
    ledger, tmp_path = golden
    env = {"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")}
    one = run(
        "score",
        "--db",
        ledger,
        "custom:alice",
        "--as-of",
        AS_OF,
        "--format",
        "json",
        cwd=tmp_path,
        env=env,
    )
    assert json.loads(one.stdout)["score"] == 619
    csv_out = run(
        "score", "--db", ledger, "--all", "--as-of", AS_OF, "--format", "csv", cwd=tmp_path, env=env
    ).stdout.splitlines()
    assert csv_out[0].startswith("subject_scheme,subject_id,score,raw,tier,dim_payment_history")
    assert len(csv_out) == 4
    table = run("score", "--db", ledger, "--all", "--as-of", AS_OF, cwd=tmp_path, env=env).stdout
    assert "custom:carol" in table and "poor" in table


def test_explain_lists_records_reasons_and_changes(golden: tuple[str, Path]):
    ledger, tmp_path = golden
    out = run(
        "explain",
        "--db",
        ledger,
        "custom:alice",
        "--as-of",
        AS_OF,
        cwd=tmp_path,
        env={"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")},
    ).stdout
    assert "score 619" in out and "tier fair" in out
    assert "rental_damaged" in out and "expires 2027-02-01" in out
    assert "Rentals returned damaged" in out
    assert "31 more points reach tier 'good'" in out  # raw 618.5: 649.5 rounds to 650


def test_decide_benefit_and_restriction(ledger: str, tmp_path: Path):
    env = {"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")}
    denied = json.loads(
        run(
            "decide",
            "--db",
            ledger,
            "custom:alice",
            "deposit_free_rental",
            "--as-of",
            AS_OF,
            "--json",
            cwd=tmp_path,
            env=env,
        ).stdout
    )
    assert denied["outcome"] == "denied" and denied["allowed"] is False
    assert denied["reason_codes"][0] == "rental_damaged"
    # Each change carries what a reader can check by rescoring.
    first, *_, gap = denied["changes"]
    assert first["at"] == "2027-02-01T00:00:00Z" and first["record"]["provider_event_id"] == "a7"
    assert (first["score_before"], first["score_after"], first["points"]) == (615, 640, 25)
    assert gap == {
        "kind": "threshold",
        "text": "31 more points reach tier 'good' (from 650)",
        "points": 31,
        "dimension": "general",
        "measure": "tier",
        "target": "good",
        "level": 650,
    }
    pending = run(
        "decide",
        "--db",
        ledger,
        "custom:carol",
        "credit_limit_review",
        "--json",
        cwd=tmp_path,
        env=env,
    )
    body = json.loads(pending.stdout)
    assert body["outcome"] == "pending" and body["notice"]["issued_now"] is True
    again = json.loads(
        run(
            "decide",
            "--db",
            ledger,
            "custom:carol",
            "credit_limit_review",
            "--json",
            cwd=tmp_path,
            env=env,
        ).stdout
    )
    assert again["notice"]["issued_now"] is False and again["notice"]["given_before"] is True
    text = run("explain", "--db", ledger, "custom:carol", cwd=tmp_path, env=env).stdout
    assert "Notices given:" in text and "credit_limit_review" in text and "Who looked" in text


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["score", "custom:nobody"], "subject.not_found"),
        (["score", "nonsense"], "usage.invalid"),
        (["decide", "custom:alice", "deposit_free_rentals"], "entitlement.not_found"),
        (["score", "--all", "--as-of", "yesterday"], "usage.invalid"),
        (["score", "cn.ric:123"], "identifier.invalid"),
    ],
)
def test_errors_are_one_line_and_non_zero(golden: tuple[str, Path], args: list[str], code: str):
    ledger, tmp_path = golden
    proc = run(
        *args[:1],
        "--db",
        ledger,
        *args[1:],
        cwd=tmp_path,
        ok=False,
        env={"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")},
    )
    assert proc.returncode != 0
    assert proc.stderr.startswith(f"error[{code}]") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_bad_rows_are_rejected_with_line_and_reason_and_good_rows_land(ledger: str, tmp_path: Path):
    env = {"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")}
    good = {
        "provider": "bank-a",
        "provider_event_id": "n1",
        "subject_scheme": "custom",
        "subject_id": "dan",
        "subject_kind": "person",
        "type": "bill.paid",
        "occurred_at": "2026-05-01T00:00:00Z",
        "attributes": {"days_late": 0, "amount": 5.0},
    }
    bad_type = {**good, "provider_event_id": "n2", "type": "bill.payed"}
    bad_attr = {
        **good,
        "provider_event_id": "n3",
        "attributes": {"days_late": 0, "amount": 5.0, "religion": "x"},
    }
    data = tmp_path / "mixed.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in (good, bad_type, bad_attr)) + "\n{not json\n")
    proc = run("ingest", "--db", ledger, str(data), cwd=tmp_path, ok=False, env=env)
    assert proc.returncode == 1 and "1 new" in proc.stdout and "3 rejected" in proc.stdout
    rejects = [
        json.loads(line)
        for line in (tmp_path / "mixed.jsonl.rejects.jsonl").read_text().splitlines()
    ]
    assert [r["line"] for r in rejects] == [2, 3, 4]
    assert "dan" in scores(ledger, tmp_path)


def test_missing_ledger_is_a_clear_error(tmp_path: Path):
    proc = run("score", "--db", str(tmp_path / "none.db"), "--all", cwd=tmp_path, ok=False)
    assert proc.stderr.startswith("error[store.not_initialised]") and "credence init" in proc.stderr
    assert not (tmp_path / "none.db").exists()


def test_init_refuses_an_unlawful_policy(tmp_path: Path):
    bad = ROOT / "examples" / "policies" / "as-described.yaml"
    proc = run("init", "--db", str(tmp_path / "x.db"), "--policy", str(bad), cwd=tmp_path, ok=False)
    assert proc.stderr.startswith("error[policy.unlawful]")


def test_every_command_has_help(tmp_path: Path):
    # The console script itself starts (one subprocess); each command's help is read in process.
    top = run("--help", cwd=tmp_path).stdout
    commands = ["init", "ingest", "score", "explain", "decide", "demo", "lint", "audit", "policy"]
    for command in commands:
        assert command in top
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output
