"""``credence dispute`` and ``credence disputes sweep`` end to end on a SQLite ledger; an upheld
dispute's record stays dropped in a restored backup."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import build, run


def test_a_dispute_from_filing_to_resolution_and_through_a_backup(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    build(db, tmp_path)
    env = {"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")}

    def cli(*args: str, ok: bool = True, at: str = db) -> tuple[str, str, int]:
        proc = run(*args, "--db", at, cwd=tmp_path, ok=ok, env=env)
        return proc.stdout, proc.stderr, proc.returncode

    def score(at: str = db) -> int:
        return int(
            json.loads(
                cli(
                    "score",
                    "custom:alice",
                    "--format",
                    "json",
                    "--as-of",
                    "2026-07-01T00:00:00Z",
                    at=at,
                )[0]
            )["score"]
        )

    before = score()
    cli("party", "add", "rent-it", "--kind", "provider")
    filed = json.loads(
        cli(
            "dispute",
            "file",
            "custom:alice",
            "rent-it:a7",
            "--statement",
            "The item was not damaged",
            "--json",
        )[0]
    )
    assert (filed["state"], filed["record"], filed["days_left"]) == ("open", "rent-it:a7", 30)
    dispute = filed["id"]
    out, _, _ = cli(
        "dispute", "add-info", dispute, "--subject", "custom:alice", "--text", "receipt"
    )
    assert dispute in out and ("44d left" in out or "45d left" in out)
    queue = json.loads(cli("dispute", "list", "--json")[0])
    assert [d["id"] for d in queue] == [dispute] and queue[0]["extended"]
    listed = json.loads(cli("dispute", "list", "--provider", "rent-it", "--json")[0])
    assert [d["id"] for d in listed] == [dispute]
    _, stderr, code = cli(
        "dispute", "answer", dispute, "--provider", "rent-it", "--answer", "maybe", ok=False
    )
    assert code == 1 and "error[dispute.invalid]" in stderr
    answered = json.loads(
        cli(
            "dispute", "answer", dispute, "--provider", "rent-it", "--answer", "verified", "--json"
        )[0]
    )
    assert answered["answer"] == "verified"
    resolved = json.loads(
        cli("dispute", "resolve", dispute, "--outcome", "upheld", "--reason", "no proof", "--json")[
            0
        ]
    )
    assert (resolved["state"], resolved["reason"]) == ("upheld", "no proof")
    _, stderr, code = cli(
        "dispute", "resolve", dispute, "--outcome", "rejected", "--reason", "x", ok=False
    )
    assert code == 1 and "error[dispute.state]" in stderr
    assert score() > before
    assert json.loads(cli("disputes", "sweep", "--json")[0]) == {"lapsed": []}
    assert cli("verify")[2] == 0  # the dispute events verify in the chain
    # a restored backup keeps the record dropped
    copy = str(tmp_path / "restored.db")
    cli("backup", "--out", copy)
    assert score(copy) == score()
