"""The ``credence`` command line (Typer). Commands are thin: parse, call the service, render."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from credence.cli import (
    batch,
    core,
    disputes,
    lab,
    ledger,
    parties,
    policy_cmds,
    redress,
    safeguards,
    serve,
)
from credence.cli.common import err
from credence.errors import CredenceError


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("credence")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


app = typer.Typer(
    name="credence",
    help="Accountable trust scoring: policies, an append-only ledger, scores and decisions with reasons.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"credence {_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the installed version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    pass


core.register(app)
batch.register(app)
app.add_typer(policy_cmds.app, name="policy")
safeguards.register(app)
ledger.register(app)
parties.register(app)
lab.register(app, policy_cmds.app)
serve.register(app)
disputes.register(app)
redress.register(app, key_app=parties.key_app)


_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; expected failures print one line and exit non-zero, never a traceback."""
    try:
        app(args=argv, prog_name="credence")
    except SystemExit as e:  # Typer's standalone mode ends every run this way
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if code == _INTERRUPTED:
            err.print("interrupted")  # Typer turns Ctrl-C into a silent exit 130
        return code
    except CredenceError as e:
        err.print(e.one_line(), markup=False)
        return 2 if e.code.startswith("usage.") else 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return _INTERRUPTED
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
