"""Consent: a subject lets one relying party decide about it in one context, until a date.

A subject grants, lists and revokes its consents through its own session, and
gets a receipt for each; nothing here lets a party create one. A relying party
gets nothing about a subject without a valid consent covering the request —
not even whether the subject exists: ``require_consent`` raises the same
``ConsentMissing`` for an unknown subject, a malformed identifier, and a
missing, expired, revoked or too narrow consent. Revocation takes effect on
the next request.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from credence.errors import (
    ConsentInvalid,
    ConsentMissing,
    ConsentNotFound,
    CredenceError,
    Forbidden,
)
from credence.ledger import ConsentRow, SubjectRow
from credence.service.ledger import Ledger
from credence.service.parties import Party, PartyKind, get_party
from credence.service.sessions import SubjectSession, check_session
from credence.service.subjects import resolve
from credence.types import DAY_US, SubjectRef, format_time

DEFAULT_DAYS = 90
MAX_DAYS = 365


class Scope(StrEnum):
    """What a consent lets the relying party receive."""

    DECISION = "decision"
    DECISION_AND_SCORE = "decision+score"

    def covers(self, wanted: Scope) -> bool:
        """Whether a consent of this scope allows a request for ``wanted``."""
        return self is Scope.DECISION_AND_SCORE or wanted is Scope.DECISION


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent as the subject sees it."""

    id: str
    subject_key: int
    party: str
    context: str
    entitlements: tuple[str, ...]  # empty: every entitlement of the context
    scope: Scope
    granted_at: int
    expires_at: int
    revoked_at: int | None

    def valid_at(self, at: int) -> bool:
        """Not revoked, and not expired at ``at``."""
        return self.revoked_at is None and at < self.expires_at


@dataclass(frozen=True, slots=True)
class ConsentReceipt:
    """What the subject keeps: the consent and a plain statement of it."""

    consent: Consent
    text: str


def _consent(row: ConsentRow) -> Consent:
    return Consent(
        row.id,
        row.subject_key,
        row.party,
        row.context,
        row.entitlements,
        Scope(row.scope),
        row.granted_at,
        row.expires_at,
        row.revoked_at,
    )


def receipt_text(consent: Consent) -> str:
    """Who may see what, in which context, until when."""
    what = "decisions" if consent.scope is Scope.DECISION else "decisions and your score"
    on = (
        "on " + ", ".join(consent.entitlements)
        if consent.entitlements
        else "on every entitlement of that context"
    )
    return (
        f"Consent {consent.id}: {consent.party} may receive {what} about you in the "
        f"context {consent.context!r} ({on}), from {format_time(consent.granted_at)} until "
        f"{format_time(consent.expires_at)}. It never receives your records. You can revoke "
        "this consent at any time; it ends with the next request."
    )


def _entitlements(ledger: Ledger, context: str, wanted: Sequence[str]) -> tuple[str, ...]:
    known = {e.id: e.context for e in ledger.policy.policy.entitlements}
    chosen = tuple(dict.fromkeys(wanted))
    for entitlement in chosen:
        if known.get(entitlement) != context:
            in_context = sorted(e for e, c in known.items() if c == context)
            raise ConsentInvalid(
                f"{entitlement!r} is not an entitlement of the context {context!r}",
                suggestion=f"entitlements of {context!r}: {', '.join(in_context) or 'none'}",
            )
    return chosen


def grant_consent(
    ledger: Ledger,
    session: SubjectSession,
    *,
    party_name: str,
    context: str,
    entitlements: Sequence[str] = (),
    scope: Scope = Scope.DECISION,
    expires_at: int | None = None,
) -> ConsentReceipt:
    """The signed-in subject consents to a relying party deciding in one context.

    Default expiry 90 days, at most one year from now.

    Raises:
        AuthenticationFailed: when the session has expired.
        PartyNotFound: when the party is not registered.
        ConsentInvalid: when the party is not a relying party, does not declare the
            context, an entitlement is outside it, or the expiry is past or too far.
    """
    check_session(ledger, session)
    scope = Scope(scope)
    with ledger.unit_of_work():
        party = get_party(ledger, party_name)
        if party.kind is not PartyKind.RELYING_PARTY:
            raise ConsentInvalid(
                f"{party.name} is not a relying party: consents are given only to those"
            )
        if context not in party.contexts:
            raise ConsentInvalid(
                f"{party.name} does not decide in the context {context!r}",
                suggestion=f"its contexts: {', '.join(party.contexts)}",
            )
        chosen = _entitlements(ledger, context, entitlements)
        now = ledger.clock.now()
        until = now + DEFAULT_DAYS * DAY_US if expires_at is None else expires_at
        if not now < until <= now + MAX_DAYS * DAY_US:
            raise ConsentInvalid(
                "a consent must end after now and at most one year from now",
                suggestion=f"leave out the expiry for {DEFAULT_DAYS} days",
            )
        row = ConsentRow(
            id="cns_" + secrets.token_hex(12),
            subject_key=session.subject_key,
            party=party.name,
            context=context,
            entitlements=chosen,
            scope=scope.value,
            granted_at=now,
            expires_at=until,
        )
        ledger.store.add_consent(row)
    consent = _consent(row)
    return ConsentReceipt(consent, receipt_text(consent))


def list_consents(ledger: Ledger, session: SubjectSession) -> list[Consent]:
    """Every consent the signed-in subject gave, oldest first (revoked and expired too).

    Raises:
        AuthenticationFailed: when the session has expired.
    """
    check_session(ledger, session)
    with ledger.unit_of_work():
        return [_consent(row) for row in ledger.store.consents(session.subject_key)]


def revoke_consent(ledger: Ledger, session: SubjectSession, consent_id: str) -> Consent:
    """Revoke one of the signed-in subject's consents; again changes nothing.

    Raises:
        AuthenticationFailed: when the session has expired.
        ConsentNotFound: when the subject gave no consent with that id.
    """
    check_session(ledger, session)
    with ledger.unit_of_work():
        row = ledger.store.consent(consent_id)
        if row is None or row.subject_key != session.subject_key:
            raise ConsentNotFound(
                f"you gave no consent {consent_id!r}", suggestion="list your consents"
            )
        ledger.store.revoke_consent(consent_id, at=ledger.clock.now())
        revoked = ledger.store.consent(consent_id)
    assert revoked is not None
    return _consent(revoked)


def _missing(party: Party, context: str) -> ConsentMissing:
    # One message for every case: it must not tell a known subject from an unknown one.
    return ConsentMissing(
        f"no valid consent of this subject lets {party.name} decide in {context!r}",
        suggestion="the subject can grant one",
    )


def require_consent(
    ledger: Ledger,
    party: Party,
    ref: SubjectRef,
    *,
    context: str,
    entitlement: str | None,
    scope: Scope,
) -> tuple[SubjectRow, Consent]:
    """The subject and the valid consent that lets this relying party make this request.

    Call it inside the unit of work that reads and logs, so a consent revoked
    meanwhile is seen. Of several valid consents, the latest granted is used.

    Raises:
        Forbidden: when the party is not a relying party.
        ConsentMissing: for an unknown subject, an invalid identifier, or no valid
            consent for this party, context, entitlement and scope — all alike.
    """
    if party.kind is not PartyKind.RELYING_PARTY:
        raise Forbidden(f"{party.name} is not a relying party: consent-gated reads are theirs")
    scope = Scope(scope)
    with ledger.unit_of_work():
        try:
            row = resolve(ledger, ref)
        except CredenceError:
            raise _missing(party, context) from None
        now = ledger.clock.now()
        valid = [
            consent
            for consent in map(_consent, ledger.store.consents(row.key))
            if consent.party == party.name
            and consent.context == context
            and context in party.contexts
            and consent.valid_at(now)
            and consent.scope.covers(scope)
            and (
                entitlement is None
                or not consent.entitlements
                or entitlement in consent.entitlements
            )
        ]
    if not valid:
        raise _missing(party, context)
    return row, max(valid, key=lambda c: (c.granted_at, c.id))
