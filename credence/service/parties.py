"""Parties and their API keys: who may call Credence, and how each proves it.

Every caller is a party the operator registers: an ``operator``, a data
``provider`` (its name is the ``provider`` of the records it sends), a
``relying_party`` (it declares the contexts it decides in) or a ``reviewer``.
A party authenticates with an API key ``cred_<keyid>_<secret>``, shown once
when created and stored only as a hash (``credence.service.tokens``); a
revoked key fails at once. Each use case runs in one unit of work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from credence.errors import (
    ApiKeyNotFound,
    AuthenticationFailed,
    PartyExists,
    PartyInvalid,
    PartyNotFound,
    UsageError,
)
from credence.ledger import KeyRow, PartyRow
from credence.service import tokens
from credence.service.ledger import Ledger

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class PartyKind(StrEnum):
    """What a party is, and so what it may do."""

    OPERATOR = "operator"
    PROVIDER = "provider"
    RELYING_PARTY = "relying_party"
    REVIEWER = "reviewer"


@dataclass(frozen=True, slots=True)
class Party:
    """A registered caller."""

    name: str
    kind: PartyKind
    contexts: tuple[str, ...]
    created_at: int


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new API key: ``token`` is shown this once and never stored."""

    key_id: str
    party: str
    token: str
    created_at: int


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key as listed: never its secret."""

    key_id: str
    party: str
    created_at: int
    revoked_at: int | None


def _party(row: PartyRow) -> Party:
    return Party(row.name, PartyKind(row.kind), row.contexts, row.created_at)


def _info(row: KeyRow) -> KeyInfo:
    return KeyInfo(row.key_id, row.party, row.created_at, row.revoked_at)


def decision_contexts(ledger: Ledger) -> list[str]:
    """The contexts the active policy decides in (those of its entitlements), sorted."""
    return sorted({e.context for e in ledger.policy.policy.entitlements})


def _contexts(ledger: Ledger, kind: PartyKind, contexts: Sequence[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(c.strip() for c in contexts))
    if kind is not PartyKind.RELYING_PARTY:
        if wanted:
            raise PartyInvalid(
                f"only a relying party declares contexts, not {kind.value.replace('_', ' ')}",
                suggestion="leave out --context",
            )
        return ()
    known = decision_contexts(ledger)
    if not wanted:
        raise PartyInvalid(
            "a relying party must declare at least one context it decides in",
            suggestion=f"add --context, one of: {', '.join(known)}",
        )
    for context in wanted:
        if context not in known:
            raise PartyInvalid(
                f"the policy decides in no context {context!r}",
                suggestion=f"known contexts: {', '.join(known)}",
            )
    return wanted


def add_party(ledger: Ledger, name: str, *, kind: PartyKind, contexts: Sequence[str] = ()) -> Party:
    """Register a party.

    Raises:
        PartyInvalid: for a malformed name, or contexts that do not fit the kind
            (a relying party declares at least one the policy decides in; others none).
        PartyExists: when the name is taken.
    """
    if not _NAME.match(name):
        raise PartyInvalid(
            f"party name {name!r} is not allowed",
            suggestion="use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    kind = PartyKind(kind)
    with ledger.unit_of_work():
        row = PartyRow(name, kind.value, _contexts(ledger, kind, contexts), ledger.clock.now())
        if not ledger.store.add_party(row):
            raise PartyExists(
                f"a party named {name!r} is registered already",
                suggestion="choose another name, or see `credence party list`",
            )
    return _party(row)


def list_parties(ledger: Ledger) -> list[Party]:
    """Every registered party, by name."""
    with ledger.unit_of_work():
        return [_party(row) for row in ledger.store.parties()]


def get_party(ledger: Ledger, name: str) -> Party:
    """The party of that name.

    Raises:
        PartyNotFound: when none is registered.
    """
    with ledger.unit_of_work():
        row = ledger.store.party(name)
    if row is None:
        raise PartyNotFound(
            f"no party named {name!r}", suggestion="register it with `credence party add`"
        )
    return _party(row)


def create_key(ledger: Ledger, party_name: str) -> IssuedKey:
    """A new API key for a party; its token is in the result and nowhere else.

    Raises:
        PartyNotFound: when the party is not registered.
    """
    with ledger.unit_of_work():
        party = get_party(ledger, party_name)
        new = tokens.new_token(tokens.API_KEY)
        now = ledger.clock.now()
        ledger.store.add_key(KeyRow(new.token_id, party.name, new.secret_hash, now))
    return IssuedKey(new.token_id, party.name, new.token, now)


def list_keys(ledger: Ledger, *, party_name: str | None = None) -> list[KeyInfo]:
    """Every API key (of one party), oldest first, without secrets.

    Raises:
        PartyNotFound: when ``party_name`` is given and not registered.
    """
    with ledger.unit_of_work():
        if party_name is not None:
            get_party(ledger, party_name)
        return [_info(row) for row in ledger.store.keys(party_name)]


def _key(ledger: Ledger, key_id: str) -> KeyRow:
    row = ledger.store.key(key_id)
    if row is None:
        raise ApiKeyNotFound(f"no API key {key_id!r}", suggestion="see `credence key list`")
    return row


def revoke_key(ledger: Ledger, key_id: str) -> KeyInfo:
    """Revoke an API key: it fails from the next request on. Revoking again changes nothing.

    Raises:
        ApiKeyNotFound: when no key has that id.
    """
    with ledger.unit_of_work():
        _key(ledger, key_id)
        ledger.store.revoke_key(key_id, at=ledger.clock.now())
        return _info(_key(ledger, key_id))


def rotate_key(ledger: Ledger, key_id: str) -> IssuedKey:
    """A new key for the same party, and the old one revoked, together.

    Raises:
        ApiKeyNotFound: when no key has that id.
        UsageError: when that key is revoked already.
    """
    with ledger.unit_of_work():
        old = _key(ledger, key_id)
        if old.revoked_at is not None:
            raise UsageError(
                f"API key {key_id!r} is revoked already",
                suggestion=f"create a new one with `credence key create {old.party}`",
            )
        ledger.store.revoke_key(key_id, at=ledger.clock.now())
        return create_key(ledger, old.party)


def authenticate(ledger: Ledger, token: str) -> Party:
    """The party an API key belongs to.

    Raises:
        AuthenticationFailed: for a malformed, unknown or revoked key (one message for all).
    """
    parsed = tokens.parse(tokens.API_KEY, token)
    # Two reads, each current, and no unit of work: it would queue every request behind
    # the SQLite writer for a check that writes nothing. The key row alone decides
    # (a revocation is seen by the next request); a party is never removed.
    row = ledger.store.key(parsed[0]) if parsed is not None else None
    secret = parsed[1] if parsed is not None else None
    ok = tokens.matches(secret, row.secret_hash if row is not None else None)
    party = ledger.store.party(row.party) if ok and row is not None else None
    if row is None or not ok or row.revoked_at is not None or party is None:
        raise AuthenticationFailed(
            "the API key is not valid", suggestion="send a current key as a bearer token"
        )
    return _party(party)
