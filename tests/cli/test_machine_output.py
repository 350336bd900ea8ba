"""Machine-readable output, `--version`, `access-log`, and withdrawn records in `explain`.

The JSON shapes of explain, ingest, verify and access-log are a contract
documented in docs/cli.md; one test holds each documented example's keys to
the real output, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import new_postgres_database

ROOT = Path(__file__).parents[2]
POLICY = ROOT / "examples" / "policies" / "consumer-trust.yaml"
GOLDEN = ROOT / "tests" / "data" / "golden-consumer.jsonl"
CLI_DOC = ROOT / "docs" / "cli.md"
AS_OF = "2026-07-01T00:00:00Z"
CREDENCE = shutil.which("credence")

pytestmark = pytest.mark.skipif(CREDENCE is None, reason="the credence command is not installed")


def credence(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(Path(CREDENCE or "credence").parent) + ":/usr/bin:/bin"}
    env["CREDENCE_KEY_FILE"] = str(cwd / "ledger.key")
    proc = subprocess.run(
        [CREDENCE or "credence", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def as_json(*args: str, cwd: Path, ok: bool = True) -> Any:
    return json.loads(credence(*args, "--json", cwd=cwd, ok=ok).stdout)


class Golden:
    """A golden ledger (consumer policy, golden records) and the folder beside it."""

    def __init__(self, db: str, folder: Path) -> None:
        self.db, self.folder = db, folder

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        return credence(args[0], "--db", self.db, *args[1:], cwd=self.folder, ok=ok)

    def json(self, *args: str, ok: bool = True) -> Any:
        return as_json(args[0], "--db", self.db, *args[1:], cwd=self.folder, ok=ok)


def _build(db: str, folder: Path) -> Golden:
    shutil.copy(GOLDEN, folder / "golden.jsonl")
    golden = Golden(db, folder)
    golden.run("init", "--policy", str(POLICY))
    golden.run("ingest", "golden.jsonl")
    return golden


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def golden(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Golden]:
    folder = tmp_path_factory.mktemp("golden")
    if request.param == "sqlite":
        yield _build(str(folder / "ledger.db"), folder)
        return
    with new_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield _build(url, folder)


# --- the documented examples --------------------------------------------------------------


def documented(name: str) -> Any:
    """The JSON example docs/cli.md gives for a command, under `<!-- contract: NAME -->`."""
    text = CLI_DOC.read_text()
    match = re.search(
        rf"<!-- contract: {re.escape(name)} -->\n```json\n(.*?)^```", text, re.S | re.M
    )
    assert match, f"docs/cli.md has no contract example for {name}"
    return json.loads(match.group(1))


def shape_problems(doc: Any, real: Any, at: str, seen: set[str]) -> list[str]:
    """Where ``real`` lacks a documented key or has an undocumented one, at every level.

    A list is compared element by element against the documented first element;
    the lists compared that way (both sides non-empty) are added to ``seen``.
    """
    if isinstance(doc, dict):
        if not isinstance(real, dict):
            return [f"{at}: documented an object, got {type(real).__name__}"]
        problems = [f"{at}.{k}: documented, missing" for k in doc.keys() - real.keys()]
        problems += [f"{at}.{k}: present, undocumented" for k in real.keys() - doc.keys()]
        for key in doc.keys() & real.keys():
            problems += shape_problems(doc[key], real[key], f"{at}.{key}", seen)
        return problems
    if isinstance(doc, list):
        if not isinstance(real, list):
            return [f"{at}: documented a list, got {type(real).__name__}"]
        if doc and real:
            seen.add(at)
            return [p for item in real for p in shape_problems(doc[0], item, f"{at}[]", seen)]
        return []
    if doc is not None and real is not None and isinstance(doc, str) != isinstance(real, str):
        return [f"{at}: documented {type(doc).__name__}, got {type(real).__name__}"]
    return []


def non_empty_lists(doc: Any, at: str = "$") -> set[str]:
    found: set[str] = set()
    if isinstance(doc, dict):
        for key, value in doc.items():
            found |= non_empty_lists(value, f"{at}.{key}")
    elif isinstance(doc, list) and doc:
        found.add(at)
        found |= non_empty_lists(doc[0], f"{at}[]")
    return found


def assert_documented(name: str, *outputs: Any) -> None:
    """Every output has exactly the documented keys, and every documented list was compared."""
    doc = documented(name)
    seen: set[str] = set()
    problems = [p for out in outputs for p in shape_problems(doc, out, "$", seen)]
    assert problems == []
    assert non_empty_lists(doc) - seen == set(), "a documented list was never seen filled"


def test_the_json_examples_in_the_docs_match_the_real_output(golden: Golden) -> None:
    golden.json("decide", "custom:carol", "credit_limit_review")  # issues carol's notice
    bob = golden.json("explain", "custom:bob", "--as-of", AS_OF)
    carol = golden.json("explain", "custom:carol", "--as-of", AS_OF)
    assert_documented("explain", bob, carol)
    assert_documented("access-log", golden.json("access-log", "custom:bob"))
    golden.run("checkpoint", "--out", "checkpoint.json")
    assert_documented("verify", golden.json("verify", "--checkpoint", "checkpoint.json"))
    again = golden.json("ingest", "golden.jsonl")
    bad = golden.folder / "bad.jsonl"
    bad.write_text('{"provider": "bank-a"}\n')
    rejected = golden.json("ingest", "golden.jsonl", "bad.jsonl", ok=False)
    assert_documented("ingest", again, rejected)


def test_the_contract_check_catches_a_renamed_key() -> None:
    doc = documented("verify")
    real = dict(doc)
    real["content_hashes"] = real.pop("content_hashes_checked")
    assert shape_problems(doc, real, "$", set()) == [
        "$.content_hashes_checked: documented, missing",
        "$.content_hashes: present, undocumented",
    ]


# --- each command -----------------------------------------------------------------------


def test_explain_json(golden: Golden) -> None:
    alice = golden.json("explain", "custom:alice", "--as-of", AS_OF)
    text = golden.run("explain", "custom:alice", "--as-of", AS_OF).stdout
    assert (alice["score"], alice["tier"], alice["raw"]) == (619, "fair", pytest.approx(618.5))
    assert alice["subject"] == {"scheme": "custom", "id": "alice", "kind": "person"}
    dims = {d["id"]: d["value"] for d in alice["dimensions"]}
    assert dims == pytest.approx(
        {
            "payment_history": -8.5,
            "contract_fulfilment": -25,
            "history_length": 12,
            "identity_verification": 40,
            "general": 0,
        }
    )
    assert alice["lowering"][0]["code"] == "rental_damaged"
    assert any(c["kind"] == "tier" and "31 more points" in c["text"] for c in alice["changes"])
    assert f"Records counting now ({len(alice['counting'])} of {alice['considered']}" in text
    assert sum(r["points"] for r in alice["counting"]) == pytest.approx(sum(dims.values()))
    assert alice["accesses"][-1]["action"] == "explain"


def test_explain_shows_retracted(golden: Golden) -> None:
    """Regression: a withdrawn record and its retraction were left out of the account."""
    text = golden.run("explain", "custom:bob", "--as-of", AS_OF).stdout
    assert "Withdrawn records (1; retracted by their provider, they count at no time):" in text
    line = next(x for x in text.splitlines() if "homes-marketplace/b21" in x)
    assert "2026-03-05" in line and "rent.paid" in line and "retracted by b22 (2026-03-20)" in line
    body = golden.json("explain", "custom:bob", "--as-of", AS_OF)
    [withdrawn] = body["withdrawn"]
    assert withdrawn["record"]["provider_event_id"] == "b21"
    assert [r["provider_event_id"] for r in withdrawn["retracted_by"]] == ["b22"]
    counting = {r["provider_event_id"] for r in body["counting"]}
    assert not counting & {"b21", "b22"}  # neither counts
    alice = golden.json("explain", "custom:alice", "--as-of", AS_OF)
    assert (
        alice["withdrawn"] == []
        and "Withdrawn records"
        not in golden.run("explain", "custom:alice", "--as-of", AS_OF).stdout
    )


def test_version_flag(tmp_path: Path) -> None:
    proc = credence("--version", cwd=tmp_path)
    assert proc.stdout == f"credence {version('credence')}\n"
    assert "--version" in credence("--help", cwd=tmp_path).stdout


def test_access_log_command(golden: Golden) -> None:
    golden.run("score", "custom:carol")
    golden.json("decide", "custom:carol", "deposit_free_rental")
    log = golden.json("access-log", "custom:carol")
    assert log["subject"] == {"scheme": "custom", "id": "carol", "kind": "person"}
    actions = [(a["action"], a["purpose"]) for a in log["accesses"]]
    assert actions[-3:] == [
        ("score", "score lookup"),
        ("decide deposit_free_rental", "rentals"),
        ("access-log", "access log review"),
    ]
    assert all(a["actor"] == "operator" and a["at"].endswith("Z") for a in log["accesses"])
    text = golden.run("access-log", "custom:carol").stdout.splitlines()
    assert text[0] == f"custom:carol (person): {len(actions) + 1} accesses to their data"
    assert "decide deposit_free_rental" in text[-3] and "(rentals)" in text[-3]
    missing = golden.run("access-log", "custom:nobody", "--json", ok=False)
    assert missing.returncode == 1 and missing.stderr.startswith("error[subject.not_found]")
    assert json.loads(missing.stdout)["error"]["code"] == "subject.not_found"


def test_ingest_json(golden: Golden) -> None:
    data = golden.folder / "mixed.jsonl"
    good = {
        "provider": "bank-a",
        "provider_event_id": "json-1",
        "subject_scheme": "custom",
        "subject_id": "erin",
        "subject_kind": "person",
        "type": "bill.paid",
        "occurred_at": "2026-05-01T00:00:00Z",
        "attributes": {"days_late": 0, "amount": 5.0},
    }
    data.write_text(json.dumps(good) + "\n" + json.dumps({**good, "type": "bill.payed"}) + "\n")
    proc = golden.run("ingest", "mixed.jsonl", "golden.jsonl", "--json", ok=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error[record.rejected]")
    body = json.loads(proc.stdout)
    assert (body["rows"], body["inserted"], body["unchanged"], body["rejected"]) == (43, 1, 41, 1)
    assert body["rejects_paths"] == ["mixed.jsonl.rejects.jsonl"]
    assert [f["rejects_path"] for f in body["files"]] == ["mixed.jsonl.rejects.jsonl", None]
    assert (golden.folder / "mixed.jsonl.rejects.jsonl").exists()


def test_verify_json(golden: Golden) -> None:
    body = golden.json("verify")
    text = golden.run("verify").stdout
    assert body["ok"] is True and body["checkpoint"] is None
    assert f"head {body['head']}" in text and f"{body['records']} records" in text
    assert body["content_hashes_checked"] + body["tombstones"] == body["records"]


def test_verify_json_reports_tampering(tmp_path: Path) -> None:
    import sqlite3

    golden = _build(str(tmp_path / "ledger.db"), tmp_path)
    with sqlite3.connect(golden.db) as conn:
        conn.execute("UPDATE records SET occurred_at = occurred_at + 1 WHERE seq = 5")
    proc = golden.run("verify", "--json", ok=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error[ledger.tampered]")
    error = json.loads(proc.stdout)["error"]
    assert error["code"] == "ledger.tampered" and error["details"]["seq"] == 5


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["explain", "custom:nobody"], "subject.not_found"),
        (["decide", "custom:alice", "deposit_free_rentals"], "entitlement.not_found"),
        (["access-log", "cn.ric:123"], "identifier.invalid"),
        (["ingest", "no-such-file.jsonl"], "input.invalid"),
    ],
)
def test_json_errors_come_on_stdout_too(golden: Golden, args: list[str], code: str) -> None:
    proc = golden.run(*args, "--json", ok=False)
    assert proc.returncode == 1 and proc.stderr.startswith(f"error[{code}]")
    assert json.loads(proc.stdout)["error"]["code"] == code
