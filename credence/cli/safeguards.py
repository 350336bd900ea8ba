"""``credence lint`` and ``credence audit``: the safeguards, from the command line.

The CLI adds these commands with ``safeguards.register(app)``.
Exit codes: 0 clean (warnings allowed), 1 when the policy is refused or cannot
be loaded, 2 on a usage error. Errors print one line, never a traceback.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from credence.errors import CredenceError, UsageError
from credence.policy.audit import audit, markdown_table, refused
from credence.policy.lint import lint
from credence.policy.load import LoadedPolicy, SourceMap, load_policy

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


class LintFormat(StrEnum):
    """How ``credence lint`` prints its findings."""

    TEXT = "text"
    JSON = "json"


class AuditFormat(StrEnum):
    """How ``credence audit`` prints its table."""

    TABLE = "table"
    MARKDOWN = "markdown"
    JSON = "json"


PolicyArg = Annotated[
    Path, typer.Argument(help="Policy file (YAML, format v1).", show_default=False)
]


def _load(path: Path) -> LoadedPolicy:
    try:
        return load_policy(path)
    except CredenceError as e:
        _fail(e)


def _fail(error: CredenceError) -> NoReturn:
    _err.print(error.one_line(), markup=False)
    raise typer.Exit(2 if isinstance(error, UsageError) else 1)


def lint_command(
    policy: PolicyArg,
    output: Annotated[
        LintFormat, typer.Option("--format", help="text: one finding a line; json: a list.")
    ] = LintFormat.TEXT,
    strict: Annotated[
        bool, typer.Option("--strict", help="Also fail on warnings without a justification.")
    ] = False,
) -> None:
    """Check a policy against the safeguards; exit 1 if any error refuses it."""
    loaded = _load(policy)
    diagnostics = lint(loaded.policy, source_map=SourceMap(loaded.source), origin=loaded.origin)
    if output is LintFormat.JSON:
        _out.print(json.dumps([d.to_dict() for d in diagnostics], indent=2), markup=False)
    else:
        for d in diagnostics:
            style = {"error": "red", "warning": "yellow", "justified": "green"}[d.status]
            _out.print(d.format(), style=style, markup=False)
        errors = sum(d.is_error for d in diagnostics)
        warnings = sum(not d.is_error and not d.justified for d in diagnostics)
        justified = sum(d.justified for d in diagnostics)
        _out.print(
            f"{loaded.origin}: {errors} error(s), {warnings} warning(s), {justified} justified",
            markup=False,
        )
    failed = any(d.is_error or (strict and not d.justified) for d in diagnostics)
    if failed:
        raise typer.Exit(1)


def audit_command(
    policy: PolicyArg,
    output: Annotated[
        AuditFormat, typer.Option("--format", help="table, markdown or json.")
    ] = AuditFormat.TABLE,
) -> None:
    """Explain a policy element by element: accepted or refused, with the law behind it.

    Exits 1 when any element is refused.
    """
    loaded = _load(policy)
    rows = audit(loaded.policy, source_map=SourceMap(loaded.source))
    if output is AuditFormat.JSON:
        _out.print(json.dumps([r.to_dict() for r in rows], indent=2), markup=False)
    elif output is AuditFormat.MARKDOWN:
        _out.print(markdown_table(rows), markup=False, end="")
    else:
        table = Table(title=f"Audit of {loaded.origin}")
        for column in ("Element", "Verdict", "Codes", "Principle or law"):
            table.add_column(column, overflow="fold")
        for row in rows:
            style = "red" if row.verdict.value == "refused" else None
            table.add_row(
                row.element,
                row.verdict.value,
                ", ".join(row.codes) or "—",
                "; ".join(row.law) or "—",
                style=style,
            )
        _out.print(table)
    if refused(rows):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``lint`` and ``audit`` to a Typer app."""
    app.command("lint")(lint_command)
    app.command("audit")(audit_command)
