"""What every command shares: the --db option, settings, time parsing, error exit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from credence.errors import CredenceError, InputFileError, UsageError
from credence.settings import Settings, load_settings
from credence.text import escape
from credence.types import SubjectRef, parse_time


class _Console(Console):
    """A console that escapes control and bidirectional formatting characters in every text
    it prints (tables and error lines included), so stored data cannot act on the terminal."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(escape(text), **kwargs)


out = _Console(highlight=False, soft_wrap=True)
if not out.is_terminal:  # piped output: never truncate table columns to 80 characters
    out.width = max(out.width, 200)
err = _Console(stderr=True, highlight=False, soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Ledger: SQLite file path or postgresql:// URL. Default: $CREDENCE_DB, else credence.db.",
        show_default=False,
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Score as of this RFC 3339 time (default: now).", show_default=False
    ),
]

JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print JSON in the shape docs/cli.md documents."),
]


def print_json(body: Any) -> None:
    """One JSON document on stdout, exactly as encoded (no markup, emoji or wrapping)."""
    typer.echo(json.dumps(body, ensure_ascii=False, indent=2))


@contextmanager
def json_errors(enabled: bool) -> Iterator[None]:
    """With ``--json``, an expected failure is printed on stdout too, in the one error shape.

    The one line on stderr and the exit code stay as for every command.
    """
    try:
        yield
    except CredenceError as e:
        if enabled:
            print_json(e.to_dict())
        raise


def settings_for(db: str | None) -> Settings:
    """Settings from the environment, with ``--db`` taking precedence."""
    return load_settings(db=db)


def as_of_micros(text: str | None) -> int | None:
    """``--as-of`` as epoch microseconds.

    Raises:
        UsageError: when it is not an RFC 3339 time.
    """
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as e:
        raise UsageError(f"--as-of: {e}") from e


def subject_ref(text: str) -> SubjectRef:
    """A ``scheme:id`` argument."""
    return SubjectRef.parse(text)


def write_output(path: Path, text: str) -> None:
    """Write a file a command was asked to write.

    Raises:
        InputFileError: when it cannot be written.
    """
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputFileError(f"cannot write {path}: {e}", path=str(path)) from e
