"""``credence party``, ``key`` and ``subject sign-in-token`` end to end on a SQLite ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from credence.cli import app
from credence.cli.parties import parse_kind, parse_ttl
from credence.errors import UsageError
from credence.service.parties import PartyKind
from tests.cli.test_cli import build, run


def test_parties_keys_and_sign_in_tokens_from_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    build(db, tmp_path)
    env = {"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")}
    key = ["--db", db]

    def cli(*args: str, ok: bool = True) -> tuple[str, str, int]:
        proc = run(*args, *key, cwd=tmp_path, ok=ok, env=env)
        return proc.stdout, proc.stderr, proc.returncode

    stdout, _, _ = cli(
        "party", "add", "landlord-7", "--kind", "relying-party", "--context", "rentals"
    )
    assert "landlord-7: relying-party in rentals" in stdout
    _, stderr, code = cli("party", "add", "landlord-7", "--kind", "reviewer", ok=False)
    assert code == 1 and "error[party.exists]" in stderr
    _, stderr, code = cli("party", "add", "x", "--kind", "relying-party", ok=False)
    assert code == 1 and "error[party.invalid]" in stderr
    listed = cli("party", "list")[0].splitlines()
    assert [line.split()[:3] for line in listed] == [
        ["landlord-7", "relying-party", "rentals"],
        ["operator", "operator", "-"],  # registered by init
    ]
    token, stderr, _ = cli("key", "create", "landlord-7")
    token = token.strip()
    assert token.startswith("cred_") and "shown once" in stderr
    key_id = token.split("_")[1]
    (row,) = cli("key", "list")[0].splitlines()
    assert row.split()[:2] == [key_id, "landlord-7"] and row.endswith("active")
    assert token not in row
    rotated = cli("key", "rotate", key_id)[0].strip()
    assert rotated.startswith("cred_") and rotated != token
    assert "revoked at" in cli("key", "revoke", rotated.split("_")[1])[0]
    states = [
        line.split()[3] for line in cli("key", "list", "--party", "landlord-7")[0].splitlines()
    ]
    assert len(states) == 2 and "active" not in states
    assert token.encode() not in Path(db).read_bytes()
    _, stderr, code = cli("key", "revoke", "0000000000000000", ok=False)
    assert code == 1 and "error[api_key.not_found]" in stderr
    sign_in, stderr, _ = cli("subject", "sign-in-token", "custom:alice", "--ttl", "10m")
    assert sign_in.strip().startswith("csign_") and "single use" in stderr
    _, stderr, code = cli("subject", "sign-in-token", "custom:nobody", ok=False)
    assert code == 1 and "error[subject.not_found]" in stderr
    _, stderr, code = cli("subject", "sign-in-token", "custom:alice", "--ttl", "soon", ok=False)
    assert code == 2 and "error[usage.invalid]" in stderr


def test_ttl_and_kind_options_parse() -> None:
    assert parse_ttl("15m") == 15 * 60 * 1_000_000
    assert parse_ttl(" 2h ") == 7_200 * 1_000_000
    assert parse_ttl("90s") == 90 * 1_000_000
    with pytest.raises(UsageError):
        parse_ttl("15")
    assert parse_kind("relying-party") is PartyKind.RELYING_PARTY
    assert parse_kind("Provider") is PartyKind.PROVIDER
    with pytest.raises(UsageError):
        parse_kind("landlord")


@pytest.mark.parametrize(
    "command",
    [
        ["party", "add"],
        ["party", "list"],
        ["key", "create"],
        ["key", "list"],
        ["key", "revoke"],
        ["key", "rotate"],
        ["subject", "sign-in-token"],
    ],
)
def test_every_party_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and "--db" in result.output


def test_a_party_sign_in_token_opens_a_console_session(tmp_path: Path) -> None:
    from credence.service.ledger import open_ledger
    from credence.service.party_sessions import start_party_session
    from credence.settings import load_settings

    db = str(tmp_path / "ledger.db")
    build(db, tmp_path)
    env = {"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")}

    def cli(*args: str, ok: bool = True) -> tuple[str, str, int]:
        proc = run(*args, "--db", db, cwd=tmp_path, ok=ok, env=env)
        return proc.stdout, proc.stderr, proc.returncode

    _, stderr, code = cli("party", "sign-in", "operator", ok=False)
    assert code == 2 and "error[usage.invalid]" in stderr and "key create" in stderr
    cli("key", "create", "operator")
    token, stderr, _ = cli("party", "sign-in", "operator", "--ttl", "5m")
    assert "/console/sign-in?token=" in stderr
    settings = load_settings({}, db=db, key_file=env["CREDENCE_KEY_FILE"])
    with open_ledger(settings) as ledger:
        _, session = start_party_session(ledger, sign_in_token=token.strip())
    assert session.party.name == "operator"
    _, stderr, code = cli("party", "sign-in", "nobody", ok=False)
    assert code == 1 and "error[party.not_found]" in stderr
