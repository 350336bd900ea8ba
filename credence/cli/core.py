"""The core commands: init, ingest, score, explain, decide, demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from credence.cli import render
from credence.cli.common import (
    AsOfOption,
    DbOption,
    JsonOption,
    as_of_micros,
    err,
    json_errors,
    out,
    print_json,
    settings_for,
    subject_ref,
    write_output,
)
from credence.errors import CredenceError, PolicyError, UsageError
from credence.service.ledger import open_ledger
from credence.service.scoring import (
    access_log,
    decide_with_receipt,
    explain_subject,
    score_all,
    score_subject,
)
from credence.service.setup import init_ledger
from credence.settings import Settings, load_settings
from credence.types import format_time

SubjectArg = Annotated[
    str | None,
    typer.Argument(
        help="The subject as scheme:id, e.g. cn.ric:11010519491231002X or custom:alice."
    ),
]


def init(
    policy: Annotated[Path, typer.Option("--policy", help="The policy YAML file to make active.")],
    db: DbOption = None,
    new_version: Annotated[
        bool,
        typer.Option(
            "--new-version",
            help="On a ledger that holds records, propose POLICY and activate it as a new "
            "version, as `credence policy activate` does: backtested, with notice to "
            "everyone it harms.",
        ),
    ] = False,
) -> None:
    """Create the ledger (or upgrade it) and make POLICY its active policy."""
    settings = settings_for(db)
    try:
        report = init_ledger(settings, policy)
    except PolicyError as e:
        if not (new_version and e.code == "policy.switch_refused" and e.details.get("records")):
            raise
        _activate_new_version(settings, policy)
        return
    out.print(
        f"ledger {report.db}: schema ready; {report.counts['subjects']} subjects, {report.counts['records']} records"
    )
    if report.key_file is not None:
        out.print(
            f"master key written to {report.key_file} (mode 0600): back it up; without it identifiers cannot be read"
        )
    else:
        out.print(f"master key: {report.key_source}")
    state = "now active" if report.policy_changed else "already active"
    out.print(f"policy {report.policy_name} {report.policy_version}: {state}")


def _activate_new_version(settings: Settings, policy: Path) -> None:
    """A new policy for a ledger with records goes the way every version change does:
    proposed, backtested, audited, and given its notice period when it harms anyone."""
    from credence.lab.activation import activate
    from credence.service.policies import propose

    with open_ledger(settings) as ledger:
        candidate, _new = propose(ledger, policy)
        result = activate(ledger, candidate.version)
    when = "now" if result.effective_at == result.activated_at else format_time(result.effective_at)
    out.print(
        f"policy {result.name} {result.version}: a new version, in effect {when}; "
        f"{result.harmed} subjects worse off, {result.notices} notices given",
        markup=False,
    )


def ingest(
    files: Annotated[
        list[Path], typer.Argument(help="JSON Lines, CSV or Parquet files of records.")
    ],
    db: DbOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Append records to the ledger; rejected rows go to <file>.rejects.jsonl with their reasons."""
    with json_errors(as_json):
        _ingest(files, db=db, quiet=quiet or as_json, as_json=as_json)


def _ingest(files: list[Path], *, db: str | None, quiet: bool, as_json: bool) -> None:
    from credence.service.ingest import ingest_files, raise_if_rejected

    with open_ledger(settings_for(db)) as ledger:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=quiet or not err.is_terminal,
            transient=True,
        )
        tasks: dict[Path, TaskID] = {}

        def on_progress(path: Path, done: int, total: int) -> None:
            if path not in tasks:
                tasks[path] = progress.add_task(path.name, total=total)
            progress.update(tasks[path], completed=done)

        with progress:
            try:
                reports = ingest_files(ledger, files, on_progress=on_progress)
            except KeyboardInterrupt:
                err.print(
                    "ingest stopped: the batches written so far stay in the ledger; run the "
                    "same command again to add the rest (rows already stored are skipped)"
                )
                raise
    if as_json:
        print_json(render.ingest_dict(reports))
        try:
            raise_if_rejected(reports)
        except CredenceError as e:  # the JSON document says which rows and where: no second one
            err.print(e.one_line(), markup=False)
            raise typer.Exit(1) from e
        return
    for r in reports:
        out.print(
            f"{r.path}: {r.rows} rows, {r.inserted} new, {r.unchanged} already stored, {r.rejected} rejected"
            + (f" -> {r.rejects_path}" if r.rejected else ""),
            markup=False,
        )
    raise_if_rejected(reports)


def score(
    subject: SubjectArg = None,
    all_subjects: Annotated[bool, typer.Option("--all", help="Score every subject.")] = False,
    as_of: AsOfOption = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv.")] = "table",
    db: DbOption = None,
) -> None:
    """Score one subject (scheme:id) or --all, as of now or --as-of."""
    if fmt not in render.FORMATS:
        raise UsageError(f"--format must be one of {', '.join(render.FORMATS)}, not {fmt!r}")
    if (subject is None) == (not all_subjects):
        raise UsageError("give either a SUBJECT (scheme:id) or --all")
    when = as_of_micros(as_of)
    with open_ledger(settings_for(db)) as ledger:
        dims = ledger.policy_at(ledger.clock.now() if when is None else when).dimension_ids
        items = (
            score_all(ledger, as_of=when)
            if all_subjects
            else iter([score_subject(ledger, subject_ref(subject or ""), as_of=when)])
        )
        if fmt == "jsonl":
            for line in render.jsonl_lines(items):
                out.print(line, markup=False)
        elif fmt == "csv":
            for line in render.csv_lines(items, dims):
                out.print(line, markup=False)
        elif fmt == "json":
            rows = [render.score_row(i) for i in items]
            body = rows if all_subjects else rows[0]
            out.print(json.dumps(body, ensure_ascii=False, indent=2), markup=False)
        else:
            out.print(render.score_table(items, dims))


def explain(
    subject: Annotated[str, typer.Argument(help="The subject as scheme:id.")],
    as_of: AsOfOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Explain a subject's score: every counting record, the key factors, what would change it.

    Records withdrawn by a retraction are listed beside their retractions.
    """
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        report = explain_subject(ledger, subject_ref(subject), as_of=as_of_micros(as_of))
        policy = ledger.policy_at(report.explanation.outcome.as_of)
        if as_json:
            print_json(render.explanation_dict(policy, report))
        else:
            out.print(render.explanation_text(policy, report), markup=False)


def access_log_command(
    subject: Annotated[str, typer.Argument(help="The subject as scheme:id.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who read SUBJECT's data: when, who, what they did and why (this read is logged too)."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        log = access_log(ledger, subject_ref(subject))
    if as_json:
        print_json(render.access_log_dict(log))
    else:
        out.print(render.access_log_text(log), markup=False)


def decide(
    subject: Annotated[str, typer.Argument(help="The subject as scheme:id.")],
    entitlement: Annotated[str, typer.Argument(help="The entitlement id from the policy.")],
    as_of: AsOfOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    receipt: Annotated[
        Path | None,
        typer.Option(
            "--receipt",
            help="Write the decision's signed receipt to this file (check it with "
            "`credence receipt verify`).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """May SUBJECT have ENTITLEMENT? The answer, its reason codes, and what would change it.

    Every decision is logged with a signed receipt.
    """
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        made = decide_with_receipt(
            ledger, subject_ref(subject), entitlement, as_of=as_of_micros(as_of)
        )
        if receipt is not None:
            write_output(receipt, made.receipt.to_bytes().decode() + "\n")
    if as_json:
        body = render.decision_dict(made.decision)
        body["decision_id"] = made.decision_id
        body["receipt"] = made.receipt.to_dict()
        print_json(body)
    else:
        out.print(render.decision_text(made.decision), markup=False)
        out.print(
            f"  decision {made.decision_id}, receipt signed by key "
            f"{made.receipt.to_dict()['key_id']}"
            + (f", written to {receipt}" if receipt is not None else ""),
            markup=False,
        )


def demo(
    db: Annotated[Path, typer.Option("--db", help="Where to create the demo ledger.")] = Path(
        "credence-demo.db"
    ),
    subjects: Annotated[int, typer.Option(help="Synthetic subjects to generate.", min=10)] = 1000,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same population.")
    ] = 7,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Only build the ledger; do not serve its pages.")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="TCP port to serve on.", min=1, max=65535)
    ] = 8000,
) -> None:
    """Build a demo ledger (bundled consumer-trust policy, synthetic population, demo parties),
    print sign-in links for a demo subject and the operator, and serve its pages."""
    from credence.cli.serve import pages_available, run_server
    from credence.sim.demo import run_demo

    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("ingesting synthetic records", total=None)

        def on_progress(path: Path, done: int, total: int) -> None:
            progress.update(task, total=total, completed=done)

        report = run_demo(db, subjects=subjects, seed=seed, on_progress=on_progress)
    serving = not no_serve and pages_available()
    base = f"http://{host}:{port}"
    out.print(render.demo_text(report, base_url=base), markup=False)
    if no_serve:
        out.print(f"\nOpen them after: credence serve --db {report.db} --port {port}", markup=False)
    elif not serving:
        out.print(
            "\nThe pages need the web extra: pip install 'credence[web]', then "
            f"credence serve --db {report.db} --port {port}",
            markup=False,
        )
    if serving:
        out.print(f"\nServing the demo at {base}/ (Ctrl-C to stop).", markup=False)
        run_server(
            load_settings(db=str(report.db), master_key=None, key_file=None),
            host=host,
            port=port,
            log_level="warning",
        )


def register(app: typer.Typer) -> None:
    """Add the core commands to the app."""
    for command in (init, ingest, score, explain, decide, demo):
        app.command()(command)
    app.command("access-log")(access_log_command)
