"""The ledger safeguard commands: verify, checkpoint, purge, erase, backup.

The CLI adds them with ``ledger.register(app)``. Each command parses,
calls one service in ``credence.service.safeguards`` and prints one line;
errors are Credence errors, printed by the core CLI as ``error[code]: …``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from credence.cli.common import DbOption, as_of_micros, out, settings_for, subject_ref
from credence.errors import UsageError
from credence.service import safeguards
from credence.service.ledger import open_ledger
from credence.types import MICROS, format_duration, format_time, parse_duration

CheckpointOption = Annotated[
    Path | None,
    typer.Option(
        "--checkpoint",
        help="A checkpoint file from `credence checkpoint`: the chain must pass through it exactly.",
        show_default=False,
    ),
]


def verify_command(db: DbOption = None, checkpoint: CheckpointOption = None) -> None:
    """Check the hash chain and every record's content hash; exit 1 at the first bad record."""
    report = safeguards.verify_ledger(settings_for(db), checkpoint=checkpoint)
    head = report.head
    against = f"; matches checkpoint {checkpoint}" if checkpoint is not None else ""
    out.print(
        f"ledger verifies: {head.records} records to seq {head.seq} "
        f"({report.checked_content} content hashes recomputed, {report.tombstones} tombstones), "
        f"head {head.chain_hash.hex()}{against}",
        markup=False,
    )


def checkpoint_command(
    out_path: Annotated[
        Path, typer.Option("--out", help="JSON file to write the signed checkpoint to.")
    ],
    db: DbOption = None,
) -> None:
    """Verify the ledger, then export its signed chain head (with the public key) as JSON."""
    with open_ledger(settings_for(db)) as ledger:
        signed = safeguards.make_checkpoint(ledger, out_path)
    out.print(
        f"checkpoint of {signed.head.records} records to seq {signed.head.seq} at "
        f"{format_time(signed.at)} written to {out_path}",
        markup=False,
    )


def _grace(text: str) -> int:
    try:
        return parse_duration(text) * MICROS
    except ValueError as e:
        raise UsageError(f"--grace: {e}") from e


def purge_command(
    db: DbOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Purge what had expired by this RFC 3339 time (default: now; never later).",
            show_default=False,
        ),
    ] = None,
    grace: Annotated[
        str,
        typer.Option("--grace", help="Keep expired records this much longer (e.g. 30d, 12w)."),
    ] = "30d",
) -> None:
    """Tombstone records past their rule's expiry plus the grace period (active policy)."""
    when, grace_us = as_of_micros(as_of), _grace(grace)
    with open_ledger(settings_for(db)) as ledger:
        report = safeguards.purge(ledger, as_of=when, grace_us=grace_us)
    out.print(
        f"purged {report.purged} records of {report.subjects} subjects "
        f"(expired by {format_time(report.as_of)} plus {format_duration(report.grace_us // MICROS)})",
        markup=False,
    )


def erase_command(
    subject: Annotated[
        str, typer.Argument(help="The subject to erase, as scheme:id, e.g. custom:alice.")
    ],
    db: DbOption = None,
) -> None:
    """Erase a subject: destroy its keys and identifier, tombstone its records."""
    with open_ledger(settings_for(db)) as ledger:
        report = safeguards.erase(ledger, subject_ref(subject))
    out.print(
        f"erased subject {report.subject_key}: identifier destroyed, "
        f"{report.records} records tombstoned",
        markup=False,
    )


def backup_command(
    out_path: Annotated[Path, typer.Option("--out", help="New file for the backup copy.")],
    db: DbOption = None,
) -> None:
    """Copy a SQLite ledger to a new, compacted file (PostgreSQL: use pg_dump)."""
    written = safeguards.backup(settings_for(db), out_path)
    out.print(f"backup written to {written}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``verify``, ``checkpoint``, ``purge``, ``erase`` and ``backup`` to the CLI."""
    app.command("verify")(verify_command)
    app.command("checkpoint")(checkpoint_command)
    app.command("purge")(purge_command)
    app.command("erase")(erase_command)
    app.command("backup")(backup_command)
