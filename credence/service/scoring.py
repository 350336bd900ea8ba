"""Use cases that read scores: score, explain and decide, for one subject or all.

Every read of one subject's data is written to that subject's access log;
a decision on a restriction issues the notice due process requires. The
subject may see that log (``access_log``) and every record withdrawn by a
retraction, beside the retraction (``SubjectReport.withdrawn``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from credence.engine import Decision, Explanation, Outcome, decide, explain, score
from credence.engine.decisions import entitlement
from credence.errors import Forbidden
from credence.ledger import Access, DisputeRow, SubjectRow
from credence.receipt import Receipt
from credence.service import disputes
from credence.service.consents import Scope, require_consent
from credence.service.history import log_access, log_decision, new_decision_id
from credence.service.ledger import Ledger
from credence.service.notices import adverse_notice
from credence.service.overrides import apply_override
from credence.service.parties import Party, PartyKind
from credence.service.receipts import issue_receipt
from credence.service.subjects import identity, resolve
from credence.types import Notice, Record, SubjectRef


@dataclass(frozen=True, slots=True)
class SubjectScore:
    """A subject as the outside world names it, with its outcome."""

    ref: SubjectRef
    kind: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A record its provider withdrew, with the retraction(s) that did it.

    The record counts at no time, yet both stay in the ledger and are shown.
    ``record`` is None once the withdrawn record itself has been purged.
    """

    provider: str
    provider_event_id: str
    record: Record | None
    retractions: tuple[Record, ...]


@dataclass(frozen=True, slots=True)
class SubjectReport:
    """What ``explain`` shows: the explanation, withdrawn records, notices, and who looked."""

    ref: SubjectRef
    kind: str
    explanation: Explanation
    notices: tuple[Notice, ...]
    accesses: tuple[Access, ...]
    withdrawn: tuple[Withdrawal, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessLog:
    """Every logged access to one subject's data, oldest first (this read included)."""

    ref: SubjectRef
    kind: str
    accesses: tuple[Access, ...]


def withdrawals(records: Sequence[Record]) -> tuple[Withdrawal, ...]:
    """The records withdrawn by retractions among ``records``, in the order they occurred."""
    by_target: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        if record.retracts is not None:
            by_target.setdefault((record.provider, record.retracts), []).append(record)
    if not by_target:
        return ()
    held = {r.key: r for r in records if r.key in by_target}
    found = [
        Withdrawal(
            provider=provider,
            provider_event_id=event_id,
            record=held.get((provider, event_id)),
            retractions=tuple(sorted(retractions, key=lambda r: r.order)),
        )
        for (provider, event_id), retractions in by_target.items()
    ]
    return tuple(sorted(found, key=_withdrawal_order))


def _withdrawal_order(w: Withdrawal) -> tuple[int, str, str]:
    first = w.record if w.record is not None else w.retractions[0]
    return (first.occurred_at, w.provider, w.provider_event_id)


def _read(
    ledger: Ledger,
    ref: SubjectRef,
    as_of: int | None,
    *,
    action: str,
    purpose: str,
    party: str | None = None,
    context: str | None = None,
    consent_id: str | None = None,
    row: SubjectRow | None = None,
) -> tuple[SubjectRow, Outcome, list[Record], list[DisputeRow]]:
    """Find a subject, score it as of a time (default now), and log the access.

    The access is logged as ``party``, by default the operator the settings name.
    Returns the subject, its outcome, the records scored and its disputes.
    """
    row = row or resolve(ledger, ref)
    when = ledger.clock.now() if as_of is None else as_of
    records, disputed = disputes.scoring_input(ledger, row.key)  # less what they dropped
    # Scores as of a time use the policy version in effect at that time.
    outcome = score(ledger.policy_at(when), records, as_of=when, subject_kind=row.kind)
    log_access(
        ledger,
        row.key,
        party=party or ledger.settings.actor,
        action=action,
        context=context,
        consent_id=consent_id,
        purpose=purpose,
    )
    return row, outcome, records, disputed


def score_subject(
    ledger: Ledger, ref: SubjectRef, *, as_of: int | None = None, purpose: str = "score lookup"
) -> SubjectScore:
    """One subject's score as of a time (default now), read by the operator; the read is logged."""
    with ledger.unit_of_work():
        row, outcome, _records, _disputed = _read(
            ledger, ref, as_of, action="score", purpose=purpose
        )
    return SubjectScore(identity(ledger, row), row.kind, outcome)


def score_for_party(
    ledger: Ledger, party: Party, ref: SubjectRef, *, context: str, as_of: int | None = None
) -> SubjectScore:
    """A subject's score for a relying party whose consent in ``context`` covers scores.

    Consent check, read and access log are one unit of work.

    Raises:
        Forbidden: when the party is not a relying party.
        ConsentMissing: without a valid ``decision+score`` consent (the same for an
            unknown subject).
    """
    with ledger.unit_of_work():
        row, consent = require_consent(
            ledger, party, ref, context=context, entitlement=None, scope=Scope.DECISION_AND_SCORE
        )
        row, outcome, _records, _disputed = _read(
            ledger,
            ref,
            as_of,
            action="score",
            purpose=context,
            party=party.name,
            context=context,
            consent_id=consent.id,
            row=row,
        )
    return SubjectScore(identity(ledger, row), row.kind, outcome)


def score_all(ledger: Ledger, *, as_of: int | None = None) -> Iterator[SubjectScore]:
    """Every subject's score as of a time, streamed in ledger order.

    Subjects left with no record (every one purged, or the subject erased) are
    not listed, exactly as in batch rescoring.
    """
    when = ledger.clock.now() if as_of is None else as_of
    policy = ledger.policy_at(when)
    struck = disputes.ledger_struck_keys(ledger)
    for row, stored in ledger.store.subjects_with_records():
        if not stored or row.sealed_id is None:
            continue
        records = disputes.without_struck(stored, struck)
        outcome = score(policy, records, as_of=when, subject_kind=row.kind)
        yield SubjectScore(identity(ledger, row), row.kind, outcome)


def explain_subject(
    ledger: Ledger, ref: SubjectRef, *, as_of: int | None = None, purpose: str = "explanation"
) -> SubjectReport:
    """A subject's full account: score, factors, what would change it, notices, accesses."""
    with ledger.unit_of_work():
        row, outcome, records, _disputed = _read(
            ledger, ref, as_of, action="explain", purpose=purpose
        )
        notices = tuple(ledger.store.notices(row.key))
        accesses = tuple(ledger.store.accesses(row.key))
    return SubjectReport(
        ref=identity(ledger, row),
        kind=row.kind,
        explanation=explain(ledger.policy_at(outcome.as_of), outcome),
        notices=notices,
        accesses=accesses,
        withdrawn=withdrawals(records),
    )


def access_log(ledger: Ledger, ref: SubjectRef, *, purpose: str = "access log review") -> AccessLog:
    """Who has read a subject's data, when, how and why; this read is logged too.

    Raises:
        SubjectNotFound, IdentifierError.
    """
    with ledger.unit_of_work():
        row = resolve(ledger, ref)
        log_access(
            ledger,
            row.key,
            party=ledger.settings.actor,
            action="access-log",
            context=None,
            consent_id=None,
            purpose=purpose,
        )
        accesses = tuple(ledger.store.accesses(row.key))
    return AccessLog(identity(ledger, row), row.kind, accesses)


@dataclass(frozen=True, slots=True)
class DecisionMade:
    """A decision, its id in the decision log, and the consent it was made under (if any)."""

    decision: Decision
    decision_id: str
    party: str
    consent_id: str | None
    receipt: Receipt


def decide_subject(
    ledger: Ledger,
    ref: SubjectRef,
    entitlement_id: str,
    *,
    as_of: int | None = None,
    purpose: str | None = None,
    party: Party | None = None,
) -> Decision:
    """Decide one entitlement for one subject; the read and the decision are logged.

    Without ``party`` the operator the settings name decides (the command line).
    Deciding now (no ``as_of``) a restriction whose condition holds issues
    the notice the subject is owed, if none is running; its notice period
    starts then. Decisions as of another time only read.

    Raises:
        SubjectNotFound, EntitlementNotFound, IdentifierError; for a party, as
        ``decide_for_party``.
    """
    return _decide(ledger, ref, entitlement_id, as_of=as_of, purpose=purpose, party=party).decision


def decide_with_receipt(
    ledger: Ledger,
    ref: SubjectRef,
    entitlement_id: str,
    *,
    as_of: int | None = None,
    purpose: str | None = None,
) -> DecisionMade:
    """As ``decide_subject`` (the operator the settings name decides), with the decision's
    id and signed receipt."""
    return _decide(ledger, ref, entitlement_id, as_of=as_of, purpose=purpose, party=None)


def decide_for_party(
    ledger: Ledger,
    party: Party,
    ref: SubjectRef,
    entitlement_id: str,
    *,
    as_of: int | None = None,
) -> DecisionMade:
    """A party's decision request: consent check (for a relying party), read, access log,
    notice and decision log, in one unit of work.

    Operators and reviewers need no consent; a provider may not ask.

    Raises:
        EntitlementNotFound: for an unknown entitlement (before anything is read).
        Forbidden: when the party is a provider.
        ConsentMissing: for a relying party without a valid consent covering the
            entitlement — the same for an unknown subject or identifier.
        SubjectNotFound, IdentifierError: for an operator or reviewer.
    """
    return _decide(ledger, ref, entitlement_id, as_of=as_of, purpose=None, party=party)


def _decide(
    ledger: Ledger,
    ref: SubjectRef,
    entitlement_id: str,
    *,
    as_of: int | None,
    purpose: str | None,
    party: Party | None,
) -> DecisionMade:
    policy = ledger.policy_at(ledger.clock.now() if as_of is None else as_of)
    ent = entitlement(policy, entitlement_id)  # an unknown one fails before any read
    if party is not None and party.kind is PartyKind.PROVIDER:
        raise Forbidden(f"{party.name} is a data provider: it may send records, not ask decisions")
    name = party.name if party is not None else ledger.settings.actor
    with ledger.unit_of_work():
        row: SubjectRow | None = None
        consent_id: str | None = None
        if party is not None and party.kind is PartyKind.RELYING_PARTY:
            row, consent = require_consent(
                ledger,
                party,
                ref,
                context=ent.context,
                entitlement=entitlement_id,
                scope=Scope.DECISION,
            )
            consent_id = consent.id
        row, outcome, records, disputed = _read(
            ledger,
            ref,
            as_of,
            action=f"decide {entitlement_id}",
            purpose=purpose or ent.context,
            party=name,
            context=ent.context,
            consent_id=consent_id,
            row=row,
        )
        notices = ledger.store.notices(row.key)
        decision = decide(policy, outcome, entitlement_id, notices=notices)
        # disputes: held while an open one is what makes it adverse; statements attached
        decision = disputes.apply(
            ledger, policy, row, records, outcome, decision, notices=notices, disputes=disputed
        )
        # --- override: a person's outcome, in force at the as-of time, wins over the engine's ---
        decision = apply_override(ledger, row.key, decision)
        if decision.notice_needed and decision.notice is not None and as_of is None:
            ledger.store.add_notice(row.key, decision.notice)
            decision = replace(decision, notice_issued=True)
        # --- receipt: signed once, after the outcome is final, kept with the logged decision ---
        decision_id = new_decision_id()
        receipt = issue_receipt(ledger, row, decision, decision_id=decision_id)
        log_decision(
            ledger,
            row.key,
            decision,
            party=name,
            decision_id=decision_id,
            receipt=receipt.to_bytes(),
        )
        # --- notice: an adverse outcome decided now gives the subject a notice (once) ---
        if as_of is None:
            adverse_notice(ledger, row, decision, decision_id=decision_id)
    return DecisionMade(decision, decision_id, name, consent_id, receipt)
