"""The policy lab's commands: ``backtest``, ``audit-fairness``, ``simulate``, and policy versions.

``credence policy propose|list|diff|activate`` are added to the ``policy``
group from here, so the lab's commands live in one module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from credence.cli.common import DbOption, as_of_micros, out, settings_for
from credence.errors import UsageError
from credence.service.ledger import open_ledger
from credence.types import format_time

AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Score as of this RFC 3339 time (default: now).", show_default=False
    ),
]
OutDir = Annotated[
    Path | None,
    typer.Option("--out", help="Directory for report.md, report.json and the plots."),
]
GroupsOption = Annotated[
    Path | None,
    typer.Option(
        "--groups",
        help="Audit file (CSV or Parquet) keyed by subject: protected attributes, optional label.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


def backtest_command(
    candidate: Annotated[
        str, typer.Argument(help="A candidate policy file, or a proposed version in the ledger.")
    ],
    as_of: AsOf = None,
    out_dir: OutDir = None,
    groups: GroupsOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score every subject under the active policy and CANDIDATE; report who moves and who is harmed."""
    from credence.lab.analyses import run_backtest
    from credence.service.policies import candidate_policy

    with open_ledger(settings_for(db)) as ledger:
        when = as_of_micros(as_of) or ledger.clock.now()
        policy = candidate_policy(ledger, candidate)
        report, files = run_backtest(ledger, policy, as_of=when, out=out_dir, groups=groups)
    if as_json:
        out.print(json.dumps(report, indent=2, ensure_ascii=False), markup=False)
        return
    harmed = report["harmed"]
    change = report["score_change"]
    out.print(
        f"backtest of {report['candidate']['name']} {report['candidate']['version']} against "
        f"{report['active']['version']}: {report['subjects']} subjects as of {report['as_of']}",
        markup=False,
    )
    out.print(
        f"scores: {change['raised']} raised, {change['lowered']} lowered, "
        f"{change['unchanged']} unchanged (mean {change['mean']:+.2f})",
        markup=False,
    )
    moved = sum(
        n
        for i, row in enumerate(report["migration"]["counts"])
        for j, n in enumerate(row)
        if report["migration"]["rows"][i] != report["migration"]["columns"][j]
    )
    out.print(f"tiers: {moved} subjects change tier", markup=False)
    for e in report["entitlements"]:
        if e["newly_adverse"] or e["newly_favourable"]:
            out.print(
                f"  {e['id']}: {e['newly_adverse']} newly adverse, "
                f"{e['newly_favourable']} newly favourable",
                markup=False,
            )
    out.print(
        f"newly adversely affected: {harmed['subjects']} subjects "
        f"({harmed['by_entitlement']} by an entitlement, {harmed['tier_lowered']} by a lower tier)",
        markup=False,
    )
    if "fairness" in report:
        _print_failures(report["fairness"])
    if files:
        out.print(f"wrote {len(files)} files to {out_dir}", markup=False)


def _print_failures(fairness: dict[str, Any]) -> None:
    from credence.lab.fairness import failures

    found = failures(fairness)
    if not found:
        out.print("fairness: every entitlement passes the four-fifths rule", markup=False)
    for line in found:
        out.print(f"fairness: {line}", markup=False)
    for warning in fairness.get("warnings", []):
        out.print(f"warning: {warning}", markup=False)


def audit_command(
    groups: Annotated[
        Path,
        typer.Option(
            "--groups",
            help="Audit file (CSV or Parquet) keyed by subject: protected attributes, optional label.",
        ),
    ],
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            help="Audit this candidate (file or proposed version), not the active policy.",
        ),
    ] = None,
    as_of: AsOf = None,
    out_dir: OutDir = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Audit a policy's outcomes per protected group: selection rates, impact ratios, error rates."""
    from credence.lab.analyses import run_audit
    from credence.service.policies import candidate_policy

    with open_ledger(settings_for(db)) as ledger:
        when = as_of_micros(as_of) or ledger.clock.now()
        chosen = ledger.policy if policy is None else candidate_policy(ledger, policy)
        written = run_audit(ledger, chosen, groups=groups, as_of=when, out=out_dir)
    report = written.report
    if as_json:
        out.print(json.dumps(report, indent=2, ensure_ascii=False), markup=False)
        return
    out.print(
        f"fairness audit of {report['policy']['name']} {report['policy']['version']}: "
        f"{report['subjects']} subjects matched, {report['unmatched']} rows unmatched",
        markup=False,
    )
    for ent in report["entitlements"]:
        for attr in ent["attributes"]:
            verdict = "ok" if attr["passes_four_fifths"] else "FAILS four-fifths"
            out.print(
                f"  {ent['id']} by {attr['attribute']}: impact ratio "
                f"{attr['disparate_impact']:.2f} ({verdict}), parity difference "
                f"{attr['demographic_parity_difference']:.3f}",
                markup=False,
            )
    _print_failures(report)
    if written.files:
        out.print(f"wrote {len(written.files)} files to {out_dir}", markup=False)


def propose_command(
    file: Annotated[Path, typer.Argument(help="The candidate policy YAML file.")],
    db: DbOption = None,
) -> None:
    """Lint a candidate policy and keep it in the ledger beside the active policy."""
    from credence.service.policies import propose

    with open_ledger(settings_for(db)) as ledger:
        candidate, new = propose(ledger, file)
    state = "proposed" if new else "already proposed"
    out.print(
        f"policy {candidate.name} {candidate.version} {state} "
        f"(digest {candidate.digest[:12]}); backtest it with "
        f"`credence backtest {candidate.version}`",
        markup=False,
    )


def list_command(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List every policy version (in effect, scheduled, superseded) and every proposal."""
    from credence.service.policies import list_versions

    with open_ledger(settings_for(db)) as ledger:
        found = list_versions(ledger)
    if as_json:
        rows = [
            {
                "name": v.name,
                "version": v.version,
                "digest": v.digest,
                "status": v.status,
                "proposed_at": None if v.proposed_at is None else format_time(v.proposed_at),
                "activated_at": None if v.activated_at is None else format_time(v.activated_at),
                "effective_at": None if v.effective_at is None else format_time(v.effective_at),
            }
            for v in found
        ]
        out.print(json.dumps(rows, indent=2, ensure_ascii=False), markup=False)
        return
    for v in found:
        when = (
            f"effective {format_time(v.effective_at)}"
            if v.effective_at is not None
            else f"proposed {format_time(v.proposed_at or 0)}"
        )
        out.print(f"{v.name} {v.version}  {v.status:<10}  {when}  {v.digest[:12]}", markup=False)


def diff_command(
    a: Annotated[str, typer.Argument(help="A version, or a policy file.")],
    b: Annotated[str, typer.Argument(help="Another version, or a policy file.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what changed from A to B: rules, points, caps, expiries, tiers, entitlements."""
    from credence.policy.diff import diff, summary
    from credence.service.policies import find_policy

    with open_ledger(settings_for(db)) as ledger:
        first, second = find_policy(ledger, a).policy, find_policy(ledger, b).policy
    changes = diff(first, second)
    if as_json:
        body = {"summary": summary(changes), "changes": [c.to_dict() for c in changes]}
        out.print(json.dumps(body, indent=2, ensure_ascii=False), markup=False)
        return
    counts = summary(changes)
    out.print(
        f"{first.name} {first.version} -> {second.name} {second.version}: "
        f"{counts['added']} added, {counts['removed']} removed, {counts['changed']} changed",
        markup=False,
    )
    for change in changes:
        out.print(change.describe(), markup=False)


def activate_command(
    version: Annotated[str, typer.Argument(help="The proposed version to activate.")],
    effective: Annotated[
        str | None,
        typer.Option(
            "--effective",
            help="When it takes effect (RFC 3339 or YYYY-MM-DD); default: as soon as allowed.",
            show_default=False,
        ),
    ] = None,
    groups: GroupsOption = None,
    db: DbOption = None,
) -> None:
    """Activate a proposed version: notice to every subject it harms, fairness checked first."""
    from credence.cli.common import as_of_micros as parse_when
    from credence.lab.activation import activate

    when = None
    if effective is not None:
        try:
            when = parse_when(effective)
        except UsageError as e:
            raise UsageError(e.message.replace("--as-of", "--effective")) from None
    with open_ledger(settings_for(db)) as ledger:
        result = activate(ledger, version, effective=when, groups=groups)
    timing = (
        "takes effect now"
        if result.effective_at == result.activated_at
        else f"takes effect {format_time(result.effective_at)}"
    )
    out.print(
        f"policy {result.name} {result.version} activated; {timing}; "
        f"{result.harmed} subjects worse off, {result.notices} notices given",
        markup=False,
    )
    if result.fairness is not None:
        _print_failures(result.fairness)
    if result.justified:
        out.print("activated under its recorded fairness_justification", markup=False)


def simulate_command(
    policy: Annotated[Path, typer.Option("--policy", help="The policy YAML file to simulate.")],
    population: Annotated[
        Path, typer.Option("--population", help="Population spec YAML: segments and rates.")
    ],
    months: Annotated[int, typer.Option("--months", help="How many months to run.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same report.")] = 0,
    out_dir: OutDir = None,
    groups: GroupsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a synthetic population month by month through a scratch ledger and the batch plan."""
    from credence.lab.simulate import simulate, simulation_markdown

    result = simulate(policy, population, months=months, seed=seed, scratch=out_dir, groups=groups)
    report = result.report
    files: list[Path] = []
    if out_dir is not None:
        from credence.lab.plots import simulation_plots
        from credence.lab.report import write_report

        files = write_report(report, out_dir, markdown=simulation_markdown, plots=simulation_plots)
    if as_json:
        out.print(json.dumps(report, indent=2, ensure_ascii=False), markup=False)
        return
    last = report["months"][-1]
    tiers = ", ".join(f"{t} {n}" for t, n in last["tiers"].items())
    out.print(
        f"simulated {report['months_run']} months (seed {report['seed']}): "
        f"{last['subjects']} synthetic subjects; final tiers: {tiers}",
        markup=False,
    )
    for ent, share in last["restricted"].items():
        out.print(f"  {ent}: {share:.1%} restricted", markup=False)
    if report["rejected_records"]:
        out.print(f"warning: {report['rejected_records']} records were rejected", markup=False)
    if "fairness" in report:
        _print_failures(report["fairness"])
    if files:
        out.print(f"wrote {len(files)} files to {out_dir}", markup=False)


def register(app: typer.Typer, policy_app: typer.Typer) -> None:
    """Add the lab's commands to the CLI and the version commands to ``credence policy``."""
    app.command("backtest")(backtest_command)
    app.command("audit-fairness")(audit_command)
    app.command("simulate")(simulate_command)
    policy_app.command("propose")(propose_command)
    policy_app.command("list")(list_command)
    policy_app.command("diff")(diff_command)
    policy_app.command("activate")(activate_command)
