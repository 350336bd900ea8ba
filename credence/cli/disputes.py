"""``credence dispute`` and ``credence disputes``: disputes from the operator's command line.

The operator files and adds information for a subject whose identity it has
verified, a provider's answer is given under the provider's name, and
``resolve`` acts as the operator (or ``--as`` a registered reviewer). Each
command calls one use case in ``credence.service.disputes`` and prints one
line per dispute, or ``--json``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from credence.cli.common import (
    DbOption,
    JsonOption,
    err,
    json_errors,
    out,
    print_json,
    settings_for,
)
from credence.cli.common import subject_ref as parse_subject
from credence.errors import UsageError
from credence.service import disputes as service
from credence.service.disputes import DisputeView
from credence.service.ledger import open_ledger
from credence.service.parties import get_party
from credence.types import format_time

dispute_app = typer.Typer(
    help="File, list, answer and resolve disputes of records (FCRA §611).", no_args_is_help=True
)
disputes_app = typer.Typer(help="Work on every dispute at once: sweep.", no_args_is_help=True)

Evidence = Annotated[
    str | None, typer.Option("--evidence", help="An http(s) link to evidence.", show_default=False)
]


def dispute_json(v: DisputeView) -> dict[str, Any]:
    """A dispute in the JSON shape docs/cli.md documents (the HTTP API's)."""

    def t(at: int | None) -> str | None:
        return None if at is None else format_time(at)

    return {
        "id": v.id,
        "record": v.record,
        "provider": v.provider,
        "provider_event_id": v.provider_event_id,
        "statement": v.statement,
        "evidence": v.evidence,
        "information": [{"at": t(n.at), "text": n.text, "evidence": n.evidence} for n in v.notes],
        "state": v.state,
        "filed_at": t(v.filed_at),
        "deadline": t(v.deadline),
        "extended": v.extended,
        "days_left": v.days_left,
        "provider_due": t(v.provider_due),
        "answer": v.answer,
        "correcting_record": v.answer_record,
        "answered_at": t(v.answered_at),
        "resolution": v.resolution,
        "resolved_at": t(v.resolved_at),
        "reason": v.reason,
    }


def _line(v: DisputeView) -> str:
    tail = f"{v.days_left}d left" if v.state == "open" else (v.reason or "-")
    answer = v.answer or "unanswered"
    return f"{v.id}\t{v.record}\t{v.state}\tdeadline {format_time(v.deadline)}\t{answer}\t{tail}"


def _show(views: list[DisputeView], *, as_json: bool, empty: str = "") -> None:
    if as_json:
        print_json([dispute_json(v) for v in views])
        return
    for v in views:
        out.print(_line(v), markup=False)
    if not views and empty:
        err.print(empty)


def _one(v: DisputeView, *, as_json: bool) -> None:
    if as_json:
        print_json(dispute_json(v))
    else:
        out.print(_line(v), markup=False)


@dispute_app.command("file")
def dispute_file(
    subject: Annotated[str, typer.Argument(help="The subject as scheme:id, identity verified.")],
    record: Annotated[str, typer.Argument(help="The record as provider:provider_event_id.")],
    statement: Annotated[str, typer.Option("--statement", help="What is wrong, in words.")],
    evidence: Evidence = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """File a dispute of RECORD for SUBJECT; it is decided within 30 days or lapses."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        session = service.acting_for(ledger, parse_subject(subject))
        view = service.file_dispute(ledger, session, record, statement, evidence)
    _one(view, as_json=as_json)


@dispute_app.command("add-info")
def dispute_add_info(
    dispute_id: Annotated[str, typer.Argument(help="The dispute id (dsp_...).")],
    subject: Annotated[str, typer.Option("--subject", help="The subject who filed it.")],
    text: Annotated[str, typer.Option("--text", help="The information to add.")],
    evidence: Evidence = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Add information to an open dispute; within 30 days of filing it extends it once by 15."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        session = service.acting_for(ledger, parse_subject(subject))
        view = service.add_information(ledger, session, dispute_id, text, evidence)
    _one(view, as_json=as_json)


@dispute_app.command("list")
def dispute_list(
    subject: Annotated[
        str | None,
        typer.Option("--subject", help="Every dispute of this subject.", show_default=False),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider", help="Every dispute of this provider's records.", show_default=False
        ),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List disputes: the open ones by deadline (the review queue), or a subject's or provider's."""
    if subject is not None and provider is not None:
        raise UsageError("give --subject or --provider, not both")
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        if subject is not None:
            views = service.own_disputes(ledger, service.acting_for(ledger, parse_subject(subject)))
        elif provider is not None:
            views = service.provider_disputes(ledger, get_party(ledger, provider))
        else:
            views = service.open_disputes(ledger, party=service.operator(ledger))
    _show(views, as_json=as_json, empty="no disputes")


@dispute_app.command("answer")
def dispute_answer(
    dispute_id: Annotated[str, typer.Argument(help="The dispute id (dsp_...).")],
    provider: Annotated[str, typer.Option("--provider", help="The record's provider.")],
    answer: Annotated[str, typer.Option("--answer", help="verified, corrected or retracted.")],
    correcting_record: Annotated[
        str | None,
        typer.Option(
            "--correcting-record",
            help="For corrected: the provider_event_id of the correcting record.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Give the provider's answer to a dispute of one of its records (once)."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        party = get_party(ledger, provider)
        view = service.answer_dispute(ledger, party, dispute_id, answer, correcting_record)
    _one(view, as_json=as_json)


@dispute_app.command("resolve")
def dispute_resolve(
    dispute_id: Annotated[str, typer.Argument(help="The dispute id (dsp_...).")],
    outcome: Annotated[str, typer.Option("--outcome", help="upheld, rejected or frivolous.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, as the subject is told.")],
    acting_as: Annotated[
        str | None,
        typer.Option("--as", help="A registered reviewer to act as.", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Resolve an open dispute: upheld drops the record for good; rejected keeps it."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        party = service.operator(ledger) if acting_as is None else get_party(ledger, acting_as)
        view = service.resolve_dispute(ledger, party, dispute_id, outcome, reason)
    _one(view, as_json=as_json)


@disputes_app.command("sweep")
def disputes_sweep(as_json: JsonOption = False, db: DbOption = None) -> None:
    """Write down every dispute its deadline lapsed (each already counted as lapsed)."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        views = service.sweep(ledger)
    if as_json:
        print_json({"lapsed": [dispute_json(v) for v in views]})
        return
    for v in views:
        out.print(_line(v), markup=False)
    err.print(f"{len(views)} dispute(s) lapsed")


def register(app: typer.Typer) -> None:
    """Add ``dispute`` and ``disputes`` to the CLI."""
    app.add_typer(dispute_app, name="dispute")
    app.add_typer(disputes_app, name="disputes")
