"""``credence policy``: the JSON Schema of the policy format, and checking a policy file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from credence.cli.common import err, out
from credence.errors import PolicyError
from credence.policy import load_policy
from credence.policy.schema import policy_json_schema

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
