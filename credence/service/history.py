"""What a subject can see about itself: who read its data, and every decision made about it.

``log_access`` is how every use case writes the access log: party, action,
context and consent (DESIGN.md, "Parties, keys and consent"); ``log_decision``
keeps every decision made through the service. Both join the caller's unit of work.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from credence.engine import Decision
from credence.ledger import Access, DecisionRow
from credence.service.ledger import Ledger
from credence.service.sessions import SubjectSession, check_session


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    """A decision as the decision log keeps it."""

    id: str
    subject_key: int
    party: str
    entitlement: str
    outcome: str
    reasons: tuple[str, ...]
    as_of: int
    at: int
    receipt: bytes | None = None  # the signed receipt's JSON (credence.receipt)


def new_decision_id() -> str:
    """A fresh decision id."""
    return "dec_" + secrets.token_hex(12)


def log_access(
    ledger: Ledger,
    subject_key: int,
    *,
    party: str,
    action: str,
    context: str | None,
    consent_id: str | None,
    purpose: str | None = None,
) -> Access:
    """Write one read of a subject's data to its access log (in the open unit of work)."""
    access = Access(
        subject_key=subject_key,
        at=ledger.clock.now(),
        actor=party,
        action=action,
        purpose=purpose if purpose is not None else (context or action),
        context=context,
        consent_id=consent_id,
    )
    ledger.store.log_access(access)
    return access


def log_decision(
    ledger: Ledger,
    subject_key: int,
    decision: Decision,
    *,
    party: str,
    decision_id: str | None = None,
    receipt: bytes | None = None,
) -> str:
    """Keep a decision (and its signed receipt) in the subject's decision log; returns its id."""
    decision_id = decision_id or new_decision_id()
    ledger.store.add_decision(
        DecisionRow(
            id=decision_id,
            subject_key=subject_key,
            party=party,
            entitlement=decision.entitlement,
            outcome=decision.outcome,
            reasons=tuple(r.code for r in decision.reasons),
            as_of=decision.as_of,
            at=ledger.clock.now(),
            receipt=receipt,
        )
    )
    return decision_id


def list_accesses(ledger: Ledger, session: SubjectSession) -> list[Access]:
    """Every logged read of the signed-in subject's data, oldest first.

    Raises:
        AuthenticationFailed: when the session has expired.
    """
    check_session(ledger, session)
    with ledger.unit_of_work():
        return ledger.store.accesses(session.subject_key)


def list_decisions(ledger: Ledger, session: SubjectSession) -> list[LoggedDecision]:
    """Every decision made about the signed-in subject, and who asked, oldest first.

    Raises:
        AuthenticationFailed: when the session has expired.
    """
    check_session(ledger, session)
    with ledger.unit_of_work():
        rows = ledger.store.decisions(session.subject_key)
    return [
        LoggedDecision(
            r.id,
            r.subject_key,
            r.party,
            r.entitlement,
            r.outcome,
            r.reasons,
            r.as_of,
            r.at,
            r.receipt,
        )
        for r in rows
    ]
