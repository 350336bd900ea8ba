"""Due process from the command line: receipts and the ledger's public key.

``credence receipt verify`` checks a decision receipt offline; ``credence key
public`` exports the key that signs receipts and checkpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from credence.cli.common import (
    DbOption,
    JsonOption,
    json_errors,
    out,
    print_json,
    settings_for,
    write_output,
)
from credence.service.receipts import public_key_pem, verify_receipt_file

receipt_app = typer.Typer(help="Decision receipts: check one offline.", no_args_is_help=True)
key_app = typer.Typer(
    help="The ledger's signing key: export its public half.", no_args_is_help=True
)


@receipt_app.command("verify")
def receipt_verify(
    file: Annotated[Path, typer.Argument(help="A receipt file (`credence decide --receipt`).")],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The ledger's public key (`credence key public --out FILE`); without it the "
            "receipt is checked against the key it carries.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a decision receipt's signature offline; exit 1 when it was altered."""
    with json_errors(as_json):
        receipt = verify_receipt_file(file, public_key=public_key)
    body = receipt.to_dict()
    if as_json:
        print_json({"valid": True, "checked_against": _against(public_key), "receipt": body})
        return
    out.print(
        f"valid receipt {receipt.decision_id}: {body['entitlement']} {body['outcome']} "
        f"as of {body['as_of_utc']}, policy {body['policy']['name']} "
        f"{body['policy']['version']}, ledger at {body['ledger']['records']} records; "
        f"signed by key {body['key_id']} ({_against(public_key)})",
        markup=False,
    )


def _against(public_key: Path | None) -> str:
    return "the given public key" if public_key is not None else "the key the receipt carries"


def key_public(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write the PEM to this file instead of printing it."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Print (or write) the ledger's Ed25519 public key as PEM: it checks receipts and
    checkpoints."""
    pem = public_key_pem(settings_for(db))
    if out_file is None:
        typer.echo(pem, nl=False)
    else:
        write_output(out_file, pem)
        out.print(f"wrote the public key to {out_file}", markup=False)


def register(app: typer.Typer, *, key_app: typer.Typer) -> None:
    """Add the due-process commands to the app, and ``key public`` to the ``key`` group."""
    app.add_typer(receipt_app, name="receipt")
    key_app.command("public")(key_public)
