"""`credence rescore` and `credence export`, registered on a Typer app as the core CLI does."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from credence.cli.batch import register
from credence.clock import FixedClock
from credence.sim.demo import run_demo
from credence.types import parse_time

pytest.importorskip("adbc_driver_sqlite")


def test_rescore_and_export_commands(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    run_demo(db, subjects=20, seed=5, clock=FixedClock(parse_time("2026-06-01T00:00:00Z")))
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    out = tmp_path / "scores.parquet"
    result = runner.invoke(
        app, ["rescore", "--db", str(db), "--as-of", "2026-06-01", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == 20
    assert table.column_names[:5] == ["subject_scheme", "subject_id", "score", "raw", "tier"]
    assert "dim_general" in table.column_names
    result = runner.invoke(app, ["export", "--db", str(db), "--out", str(tmp_path / "export")])
    assert result.exit_code == 0, result.output
    again = tmp_path / "again.parquet"
    result = runner.invoke(
        app,
        [
            "rescore",
            "--db",
            str(db),
            "--as-of",
            "2026-06-01",
            "--out",
            str(again),
            "--from",
            str(tmp_path / "export"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert pq.read_table(again).column("score").equals(table.column("score"))
    for command in ("rescore", "export"):
        assert runner.invoke(app, [command, "--help"]).exit_code == 0
