"""Ctrl-C ends a command with status 130 and says so; an interrupted ingest says what stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from credence.cli import main
from credence.service import ingest

ROOT = Path(__file__).parents[2]
POLICY = ROOT / "examples" / "policies" / "consumer-trust.yaml"
GOLDEN = ROOT / "tests" / "data" / "golden-consumer.jsonl"


def test_an_interrupted_ingest_exits_130_and_says_what_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "ledger.db")
    assert main(["init", "--db", db, "--policy", str(POLICY)]) == 0

    def interrupted(*_args: object, **_kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest, "ingest_files", interrupted)
    capsys.readouterr()
    assert main(["ingest", "--db", db, str(GOLDEN)]) == 130
    lines = capsys.readouterr().err.split("\n")
    text = " ".join(line.strip() for line in lines)
    assert "the batches written so far stay in the ledger" in text
    assert "interrupted" in lines[-2]
