"""Due process from the command line: overrides, reviews, the queue, notices, receipts.

Commands act as the operator the settings name (``CREDENCE_ACTOR``), as
``credence decide`` does. ``credence receipt verify`` checks a decision
receipt offline; ``credence key public`` exports the key that signs receipts
and checkpoints.
"""

from __future__ import annotations

from pathlib import Path
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
    subject_ref,
    write_output,
)
from credence.errors import UsageError
from credence.service.ledger import open_ledger
from credence.service.notices import outbox
from credence.service.overrides import (
    Override,
    end_override,
    overrides_in_force,
    set_override,
    subject_overrides,
)
from credence.service.queue import Queue, review_queue
from credence.service.receipts import public_key_pem, verify_receipt_file
from credence.service.reviews import (
    Review,
    open_reviews,
    request_review_for,
    resolve_review,
    subject_reviews,
)
from credence.types import format_time, parse_time

override_app = typer.Typer(
    help="Set, list and end overrides: an outcome set by a person for one subject and entitlement.",
    no_args_is_help=True,
)
review_app = typer.Typer(
    help="Human review of decisions: record a request, list, and resolve within 30 days.",
    no_args_is_help=True,
)
notices_app = typer.Typer(
    help="Notices given to subjects: read the outbox a messaging system delivers from.",
    no_args_is_help=True,
)
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


def _time(option: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as e:
        raise UsageError(f"{option}: {e}") from e


def override_dict(o: Override) -> dict[str, Any]:
    """An override as JSON."""
    return {
        "id": o.id,
        "subject": str(o.subject),
        "entitlement": o.entitlement,
        "outcome": o.outcome,
        "reason": o.reason,
        "set_by": o.set_by,
        "set_at": format_time(o.set_at),
        "ends_at": format_time(o.ends_at),
        "ended_at": None if o.ended_at is None else format_time(o.ended_at),
        "ended_by": o.ended_by,
        "review_id": o.review_id,
        "state": o.state,
    }


def _override_line(o: Override) -> str:
    return (
        f"{o.id}  {o.subject}  {o.entitlement} -> {o.outcome}  {o.state} until "
        f"{format_time(o.ended_at if o.state == 'ended' and o.ended_at else o.ends_at)}  "
        f"by {o.set_by}: {o.reason}"
    )


@override_app.command("set")
def override_set(
    subject: Annotated[str, typer.Argument(help="The subject as scheme:id.")],
    entitlement: Annotated[str, typer.Argument(help="The entitlement id from the policy.")],
    outcome: Annotated[
        str,
        typer.Option(
            "--outcome", help="granted or denied for a benefit; not_restricted for a restriction."
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why, in words the subject reads.")],
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="RFC 3339 end time, at most 1 year away (default: 1 year).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Set the outcome of ENTITLEMENT for SUBJECT by hand, with a reason and an end date."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        made = set_override(
            ledger, subject_ref(subject), entitlement, outcome=outcome, reason=reason,
            ends_at=_time("--until", until),
        )  # fmt: skip
    if as_json:
        print_json(override_dict(made))
    else:
        out.print(_override_line(made), markup=False)


@override_app.command("list")
def override_list(
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            help="Every override of this subject, ended ones included.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List the overrides in force (or every override of one subject)."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        found = (
            overrides_in_force(ledger)
            if subject is None
            else subject_overrides(ledger, subject_ref(subject))
        )
    if as_json:
        print_json([override_dict(o) for o in found])
    elif not found:
        out.print("no overrides" + (" in force" if subject is None else ""), markup=False)
    else:
        for o in found:
            out.print(_override_line(o), markup=False)


@override_app.command("end")
def override_end(
    override_id: Annotated[str, typer.Argument(help="The override's id (ovr_...).")],
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """End an override now: decisions are the engine's again at once."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        ended = end_override(ledger, override_id)
    if as_json:
        print_json(override_dict(ended))
    else:
        out.print(_override_line(ended), markup=False)


def review_dict(r: Review) -> dict[str, Any]:
    """A review request as JSON."""
    return {
        "id": r.id,
        "subject": str(r.subject),
        "decision_id": r.decision_id,
        "entitlement": r.entitlement,
        "statement": r.statement,
        "requested_at": format_time(r.requested_at),
        "deadline": format_time(r.deadline),
        "days_left": r.days_left,
        "state": r.state,
        "resolved_at": None if r.resolved_at is None else format_time(r.resolved_at),
        "reviewer": r.reviewer,
        "resolution": r.resolution,
        "override_id": r.override_id,
    }


def _review_line(r: Review) -> str:
    clock = (
        f"{r.days_left} days left (due {format_time(r.deadline)})"
        if r.state == "open"
        else f"{r.state} by {r.reviewer}: {r.resolution}"
    )
    return f"{r.id}  {r.subject}  {r.decision_id} ({r.entitlement})  {r.state}  {clock}"


@review_app.command("request")
def review_request(
    subject: Annotated[str, typer.Argument(help="The subject as scheme:id.")],
    decision_id: Annotated[str, typer.Argument(help="The decision to review (dec_...).")],
    statement: Annotated[
        str, typer.Option("--statement", help="What the subject wants the reviewer to know.")
    ] = "",
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Record SUBJECT's request for a person to review DECISION_ID (made by letter or at a
    desk; subjects ask themselves with POST /v1/me/reviews)."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        made = request_review_for(ledger, subject_ref(subject), decision_id, statement=statement)
    if as_json:
        print_json(review_dict(made))
    else:
        out.print(_review_line(made), markup=False)


@review_app.command("list")
def review_list(
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            help="Every review of this subject, resolved ones included.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List the open review requests by deadline (or every review of one subject)."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        found = (
            open_reviews(ledger)
            if subject is None
            else subject_reviews(ledger, subject_ref(subject))
        )
    if as_json:
        print_json([review_dict(r) for r in found])
    elif not found:
        out.print("no open reviews" if subject is None else "no reviews", markup=False)
    else:
        for r in found:
            out.print(_review_line(r), markup=False)


@review_app.command("resolve")
def review_resolve(
    review_id: Annotated[str, typer.Argument(help="The review's id (rev_...).")],
    resolution: Annotated[
        str, typer.Option("--resolution", help="confirmed, or overridden (with --outcome).")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why; the subject is told.")],
    outcome: Annotated[
        str | None,
        typer.Option("--outcome", help="For overridden: the outcome to set.", show_default=False),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="For overridden: when the override ends (default: 1 year).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Confirm or override a reviewed decision; the subject is given a notice of it."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        done = resolve_review(
            ledger, review_id, resolution=resolution, reason=reason, outcome=outcome,
            ends_at=_time("--until", until),
        )  # fmt: skip
    if as_json:
        print_json(review_dict(done))
    else:
        out.print(_review_line(done), markup=False)


def queue_dict(q: Queue) -> dict[str, Any]:
    """The review queue as JSON."""
    return {
        "at": format_time(q.at),
        "cases": [
            {
                "kind": c.kind,
                "id": c.id,
                "subject": str(c.subject),
                "about": c.about,
                "opened_at": format_time(c.opened_at),
                "deadline": format_time(c.deadline),
                "days_left": c.days_left,
            }
            for c in q.cases
        ],
        "restrictions": [
            {
                "subject": str(r.subject),
                "entitlement": r.entitlement,
                "state": r.state,
                "issued_at": format_time(r.issued_at),
                "effective_at": format_time(r.effective_at),
                "ends_at": None if r.ends_at is None else format_time(r.ends_at),
            }
            for r in q.restrictions
        ],
        "overrides": [override_dict(o) for o in q.overrides],
    }


def queue_command(as_json: JsonOption = False, db: DbOption = None) -> None:
    """What waits for a person: open reviews and disputes by deadline with the days left,
    restrictions pending and in effect, overrides in force."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        q = review_queue(ledger)
    if as_json:
        print_json(queue_dict(q))
        return
    lines = [f"review queue as of {format_time(q.at)}", "open cases (by deadline):"]
    lines += [
        f"  {c.days_left:>4} days  {c.kind:<7} {c.id}  {c.subject}  {c.about}  "
        f"due {format_time(c.deadline)}" + ("  OVERDUE" if c.days_left < 0 else "")
        for c in q.cases
    ] or ["  none"]
    lines.append("restrictions pending and in effect:")
    lines += [
        f"  {r.state:<10} {r.subject}  {r.entitlement}  effective {format_time(r.effective_at)}"
        for r in q.restrictions
    ] or ["  none"]
    lines.append("overrides in force:")
    lines += ["  " + _override_line(o) for o in q.overrides] or ["  none"]
    out.print("\n".join(lines), markup=False)


@notices_app.command("outbox")
def notices_outbox(
    after: Annotated[int, typer.Option("--after", help="The last seq delivered.", min=0)] = 0,
    limit: Annotated[
        int, typer.Option("--limit", help="At most this many notices.", min=1, max=1000)
    ] = 100,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Print the notices after seq --after, in order, with the subject each is for."""
    with json_errors(as_json), open_ledger(settings_for(db)) as ledger:
        page = outbox(ledger, after=after, limit=limit)
    if as_json:
        print_json(
            {
                "notices": [
                    {
                        "seq": i.notice.seq,
                        "subject": str(i.subject),
                        "kind": i.notice.kind,
                        "entitlement": i.notice.entitlement,
                        "outcome": i.notice.outcome,
                        "decision_id": i.notice.decision_id,
                        "issued_at": format_time(i.notice.issued_at),
                        "dispute_by": None
                        if i.notice.dispute_by is None
                        else format_time(i.notice.dispute_by),
                        "body": i.notice.body,
                    }
                    for i in page.items
                ],
                "next_after": page.next_after,
                "more": page.more,
            }
        )
        return
    for i in page.items:
        out.print(
            f"{i.notice.seq}  {format_time(i.notice.issued_at)}  {i.subject}  {i.notice.kind}  "
            f"{i.notice.body.get('title', i.notice.entitlement)}",
            markup=False,
        )
    more = "; more follow" if page.more else ""
    err.print(f"next: --after {page.next_after}{more}", markup=False)


def register(app: typer.Typer, *, key_app: typer.Typer) -> None:
    """Add the due-process commands to the app, and ``key public`` to the ``key`` group."""
    app.add_typer(override_app, name="override")
    app.add_typer(review_app, name="review")
    app.add_typer(notices_app, name="notices")
    app.command("queue")(queue_command)
    app.add_typer(receipt_app, name="receipt")
    key_app.command("public")(key_public)
