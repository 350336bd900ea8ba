"""``credence party``, ``credence key`` and ``credence subject``: who may call, with which key.

The CLI adds them with ``parties.register(app)``. Each command parses, calls
one use case in ``credence.service.parties`` or ``credence.service.sessions``
and prints; a token is printed once, on stdout alone, and never again.
"""

from __future__ import annotations

import re
from typing import Annotated

import typer

from credence.cli.common import DbOption, err, out, settings_for, subject_ref
from credence.errors import UsageError
from credence.service import parties, party_sessions, sessions
from credence.service.ledger import open_ledger
from credence.types import MICROS, format_time

party_app = typer.Typer(
    help="Register and list parties (operators, providers, relying parties, reviewers).",
    no_args_is_help=True,
)
key_app = typer.Typer(
    help="Create, list, rotate and revoke the API keys of parties; export the ledger's "
    "public signing key.",
    no_args_is_help=True,
)
subject_app = typer.Typer(
    help="Operator actions for subjects: issue sign-in tokens.", no_args_is_help=True
)

_KINDS = {
    "operator": parties.PartyKind.OPERATOR,
    "provider": parties.PartyKind.PROVIDER,
    "relying-party": parties.PartyKind.RELYING_PARTY,
    "relying_party": parties.PartyKind.RELYING_PARTY,
    "reviewer": parties.PartyKind.REVIEWER,
}
_TTL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_kind(text: str) -> parties.PartyKind:
    """``--kind`` as a party kind.

    Raises:
        UsageError: for an unknown kind.
    """
    kind = _KINDS.get(text.strip().lower())
    if kind is None:
        raise UsageError(
            f"--kind must be operator, provider, relying-party or reviewer, not {text!r}"
        )
    return kind


def parse_ttl(text: str) -> int:
    """``--ttl`` such as ``15m``, ``1h``, ``90s`` as microseconds.

    Raises:
        UsageError: when it is not a number and a unit s, m, h or d.
    """
    match = _TTL.match(text)
    if match is None:
        raise UsageError(f"--ttl: {text!r} is not a duration", suggestion="e.g. 15m, 1h or 90s")
    return int(match.group(1)) * _UNITS[match.group(2)] * MICROS


def _kind_name(kind: parties.PartyKind) -> str:
    return kind.value.replace("_", "-")


@party_app.command("add")
def party_add(
    name: Annotated[
        str,
        typer.Argument(
            help="The party's unique name; a provider's is the provider of its records."
        ),
    ],
    kind: Annotated[
        str, typer.Option("--kind", help="operator, provider, relying-party or reviewer.")
    ],
    context: Annotated[
        list[str] | None,
        typer.Option(
            "--context",
            help="A context a relying party decides in (repeat for more).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Register a party. A relying party declares at least one --context of the policy."""
    with open_ledger(settings_for(db)) as ledger:
        party = parties.add_party(ledger, name, kind=parse_kind(kind), contexts=context or ())
    contexts = f" in {', '.join(party.contexts)}" if party.contexts else ""
    out.print(f"party {party.name}: {_kind_name(party.kind)}{contexts}", markup=False)


@party_app.command("list")
def party_list(db: DbOption = None) -> None:
    """List every registered party: name, kind, contexts, when registered."""
    with open_ledger(settings_for(db)) as ledger:
        found = parties.list_parties(ledger)
    for party in found:
        contexts = ",".join(party.contexts) or "-"
        out.print(
            f"{party.name}\t{_kind_name(party.kind)}\t{contexts}\t{format_time(party.created_at)}",
            markup=False,
        )
    if not found:
        err.print("no parties yet: add one with `credence party add NAME --kind KIND`")


@key_app.command("create")
def key_create(
    party: Annotated[str, typer.Argument(help="The party the key is for.")],
    db: DbOption = None,
) -> None:
    """Create an API key for PARTY and print its token, this once: it is stored only as a hash."""
    with open_ledger(settings_for(db)) as ledger:
        issued = parties.create_key(ledger, party)
    out.print(issued.token, markup=False)
    err.print(
        f"key {issued.key_id} for {issued.party}: the token above is shown once; keep it secret"
    )


@key_app.command("list")
def key_list(
    party: Annotated[
        str | None, typer.Option("--party", help="Only this party's keys.", show_default=False)
    ] = None,
    db: DbOption = None,
) -> None:
    """List API keys (never their tokens): id, party, created, revoked."""
    with open_ledger(settings_for(db)) as ledger:
        found = parties.list_keys(ledger, party_name=party)
    for key in found:
        revoked = format_time(key.revoked_at) if key.revoked_at is not None else "active"
        out.print(
            f"{key.key_id}\t{key.party}\t{format_time(key.created_at)}\t{revoked}", markup=False
        )


@key_app.command("revoke")
def key_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id, as `credence key list` shows it.")],
    db: DbOption = None,
) -> None:
    """Revoke an API key: it fails from the next request on."""
    with open_ledger(settings_for(db)) as ledger:
        key = parties.revoke_key(ledger, key_id)
    assert key.revoked_at is not None
    out.print(
        f"key {key.key_id} of {key.party} revoked at {format_time(key.revoked_at)}", markup=False
    )


@key_app.command("rotate")
def key_rotate(
    key_id: Annotated[str, typer.Argument(help="The key id to replace.")],
    db: DbOption = None,
) -> None:
    """Replace an API key: print a new token for the same party (once) and revoke the old key."""
    with open_ledger(settings_for(db)) as ledger:
        issued = parties.rotate_key(ledger, key_id)
    out.print(issued.token, markup=False)
    err.print(
        f"key {issued.key_id} for {issued.party} replaces {key_id}, now revoked; "
        "the token above is shown once"
    )


@subject_app.command("sign-in-token")
def subject_sign_in_token(
    subject: Annotated[str, typer.Argument(help="The subject as scheme:id, identity verified.")],
    ttl: Annotated[
        str, typer.Option("--ttl", help="How long it is valid: e.g. 15m, 1h (at most 1d).")
    ] = "15m",
    db: DbOption = None,
) -> None:
    """Issue a single-use sign-in token for SUBJECT, whose identity you have verified."""
    with open_ledger(settings_for(db)) as ledger:
        issued = sessions.issue_sign_in_token(ledger, subject_ref(subject), ttl_us=parse_ttl(ttl))
    out.print(issued.token, markup=False)
    err.print(
        f"sign-in token for {issued.subject}, single use, valid until "
        f"{format_time(issued.expires_at)}"
    )


@party_app.command("sign-in")
def party_sign_in(
    name: Annotated[str, typer.Argument(help="The party whose person signs in to the console.")],
    ttl: Annotated[
        str, typer.Option("--ttl", help="How long it is valid: e.g. 15m, 1h (at most 1d).")
    ] = "15m",
    db: DbOption = None,
) -> None:
    """Issue a console sign-in token for a party, bound to its newest active API key."""
    with open_ledger(settings_for(db)) as ledger:
        issued = party_sessions.issue_party_sign_in_token(ledger, name, ttl_us=parse_ttl(ttl))
    out.print(issued.token, markup=False)
    err.print(
        f"console sign-in token for {issued.party.name}, valid until "
        f"{format_time(issued.expires_at)}: open /console/sign-in?token=<token>"
    )


def register(app: typer.Typer) -> None:
    """Add ``party``, ``key`` and ``subject`` to the CLI."""
    app.add_typer(party_app, name="party")
    app.add_typer(key_app, name="key")
    app.add_typer(subject_app, name="subject")
