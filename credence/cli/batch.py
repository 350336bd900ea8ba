"""The batch commands, ``credence rescore`` and ``credence export``; the core CLI registers them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from credence.cli.common import DbOption, as_of_micros, err, out, settings_for
from credence.errors import UsageError
from credence.service.batch import ENGINES, export, rescore
from credence.service.ledger import open_ledger
from credence.types import format_time


class _RichReporter:
    """Service progress as a Rich display on stderr: one line per stage."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def stage(self, name: str, total: int | None = None) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[-1].total or 0)
            self.progress.stop_task(self.task)
        self.task = self.progress.add_task(name, total=total)

    def advance(self, steps: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, steps)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def rescore_command(
    out_path: Annotated[
        Path, typer.Option("--out", help="Parquet file to write, one row per subject.")
    ],
    as_of: Annotated[
        str, typer.Option("--as-of", help="Score as of this RFC 3339 time (or YYYY-MM-DD).")
    ],
    db: DbOption = None,
    engine: Annotated[
        str, typer.Option("--engine", help="duckdb (in-process) or spark (local mode or cluster).")
    ] = "duckdb",
    from_dir: Annotated[
        Path | None,
        typer.Option("--from", help="Read records from this export instead of the ledger."),
    ] = None,
) -> None:
    """Rescore every subject at once with the batch plan; same numbers as `credence score`."""
    if engine not in ENGINES:
        raise UsageError(f"--engine: unknown engine {engine!r}", suggestion="use duckdb or spark")
    when = as_of_micros(as_of)
    assert when is not None
    with open_ledger(settings_for(db)) as ledger, _progress() as progress:
        result = rescore(
            ledger,
            as_of=when,
            out=out_path,
            engine=engine,  # checked against ENGINES above
            from_dir=from_dir,
            reporter=_RichReporter(progress),
        )
    out.print(
        f"wrote {result.subjects} subjects as of {format_time(result.as_of)} to {result.out} "
        f"({result.engine}, {result.seconds:.1f} s)"
    )


def export_command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="New directory for the Parquet export (month=YYYY-MM/).")
    ],
    db: DbOption = None,
) -> None:
    """Export the ledger's records to Parquet, partitioned by month, for batch runs and Spark."""
    with open_ledger(settings_for(db)) as ledger, _progress() as progress:
        count = export(ledger, out_dir, reporter=_RichReporter(progress))
    out.print(f"exported {count} records to {out_dir}")


def register(app: typer.Typer) -> None:
    """Add ``rescore`` and ``export`` to the ``credence`` CLI."""
    app.command("rescore")(rescore_command)
    app.command("export")(export_command)
