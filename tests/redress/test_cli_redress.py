"""``credence override``, ``review``, ``queue`` and ``notices outbox`` end to end, per backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from credence.cli import app
from tests.cli.test_cli import build, run


@pytest.fixture(params=["sqlite", "postgres"])
def cli_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return build(str(tmp_path / "ledger.db"), tmp_path)
    return build(str(request.getfixturevalue("postgres_url")), tmp_path)


def test_overrides_reviews_queue_and_outbox_from_the_command_line(
    cli_db: str, tmp_path: Path
) -> None:
    env = {"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")}

    def cli(*args: str, ok: bool = True) -> tuple[str, str, int]:
        proc = run(*args, "--db", cli_db, cwd=tmp_path, ok=ok, env=env)
        return proc.stdout, proc.stderr, proc.returncode

    def js(*args: str) -> Any:
        return json.loads(cli(*args, "--json")[0])

    decided = js("decide", "custom:alice", "deposit_free_rental")
    assert decided["outcome"] == "denied"
    review = js("review", "request", "custom:alice", decided["decision_id"],
                "--statement", "the damage claim was withdrawn")  # fmt: skip
    assert review["state"] == "open" and review["days_left"] == 30
    _, stderr, code = cli("review", "request", "custom:alice", decided["decision_id"], ok=False)
    assert code == 1 and "error[review.conflict]" in stderr
    queue = js("queue")
    assert [c["id"] for c in queue["cases"]] == [review["id"]]
    assert "days" in cli("queue")[0] and review["id"] in cli("queue")[0]

    resolved = js("review", "resolve", review["id"], "--resolution", "overridden",
                  "--outcome", "granted", "--reason", "claim withdrawn")  # fmt: skip
    assert resolved["state"] == "overridden"
    _, stderr, code = cli("review", "resolve", review["id"], "--resolution", "confirmed",
                          "--reason", "again", ok=False)  # fmt: skip
    assert code == 1 and "error[review.conflict]" in stderr
    again = js("decide", "custom:alice", "deposit_free_rental")
    assert again["outcome"] == "granted"
    assert again["receipt"]["override"] == resolved["override_id"]
    (listed,) = js("override", "list")
    assert listed["id"] == resolved["override_id"]
    ended = js("override", "end", listed["id"])
    assert ended["state"] == "ended"
    assert js("override", "list") == []
    assert js("decide", "custom:alice", "deposit_free_rental")["outcome"] == "denied"

    made = js("override", "set", "custom:bob", "deposit_free_rental", "--outcome", "granted",
              "--reason", "checked by hand")  # fmt: skip
    assert made["state"] == "in_force"
    _, stderr, code = cli("override", "set", "custom:bob", "deposit_free_rental", "--outcome",
                          "denied", "--reason", "x", ok=False)  # fmt: skip
    assert code == 1 and "error[override.conflict]" in stderr
    _, stderr, code = cli("override", "set", "custom:bob", "preferred_loan_rate", "--outcome",
                          "granted", "--reason", "x", "--until", "2099-01-01T00:00:00Z",
                          ok=False)  # fmt: skip
    assert code == 1 and "error[override.invalid]" in stderr  # more than a year away

    page = js("notices", "outbox", "--after", "0", "--limit", "2")
    assert [n["seq"] for n in page["notices"]] == [1, 2] and page["more"]
    rest = js("notices", "outbox", "--after", str(page["next_after"]))
    seqs = [n["seq"] for n in rest["notices"]]
    assert seqs == list(range(3, 3 + len(seqs))) and not rest["more"]
    kinds = {n["kind"] for n in page["notices"] + rest["notices"]}
    assert kinds == {"adverse", "override", "review"}
    _, stderr, _ = cli("notices", "outbox", "--after", "0")
    assert "next: --after" in stderr


def test_every_due_process_command_has_help() -> None:
    for command in (
        ["override", "set"], ["override", "list"], ["override", "end"], ["review", "request"],
        ["review", "list"], ["review", "resolve"], ["queue"], ["notices", "outbox"],
        ["receipt", "verify"], ["key", "public"],
    ):  # fmt: skip
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command
