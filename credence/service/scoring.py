"""Use cases that read scores: score, explain and decide, for one subject or all.

Every read of one subject's data is written to that subject's access log;
a decision on a restriction issues the notice due process requires.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from credence.engine import Decision, Explanation, Outcome, decide, explain, score
from credence.engine.decisions import entitlement
from credence.errors import SubjectNotFound
from credence.ingest.identifiers import normalise
from credence.ledger import Access, SubjectRow
from credence.service.ledger import Ledger, identifier_of
from credence.types import Notice, SubjectRef


@dataclass(frozen=True, slots=True)
class SubjectScore:
    """A subject as the outside world names it, with its outcome."""

    ref: SubjectRef
    kind: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class SubjectReport:
    """What ``explain`` shows: the explanation, notices given, and who looked."""

    ref: SubjectRef
    kind: str
    explanation: Explanation
    notices: tuple[Notice, ...]
    accesses: tuple[Access, ...]


def resolve(ledger: Ledger, ref: SubjectRef) -> SubjectRow:
    """The stored subject an identifier names.

    Raises:
        IdentifierError: when the identifier is invalid for its scheme.
        SubjectNotFound: when no record about the subject has been ingested.
    """
    identifier = normalise(ref.scheme, ref.id)
    lookup = ledger.keys.lookup(ref.scheme, identifier)
    row = ledger.store.find_subjects([lookup]).get(lookup)
    if row is None:
        raise SubjectNotFound(
            f"no subject {ref.scheme}:{identifier} in the ledger",
            suggestion="subjects exist from their first ingested record",
        )
    return row


def identity(ledger: Ledger, row: SubjectRow) -> SubjectRef:
    """The plaintext identifier of a stored subject (``[erased]`` once shredded)."""
    return SubjectRef(row.scheme, identifier_of(ledger.keys, row))


def _log(ledger: Ledger, row: SubjectRow, action: str, purpose: str) -> None:
    ledger.store.log_access(
        Access(
            subject_key=row.key,
            at=ledger.clock.now(),
            actor=ledger.settings.actor,
            action=action,
            purpose=purpose,
        )
    )


def _read(
    ledger: Ledger, ref: SubjectRef, as_of: int | None, *, action: str, purpose: str
) -> tuple[SubjectRow, Outcome]:
    """Find a subject, score it as of a time (default now), and log the access."""
    row = resolve(ledger, ref)
    when = ledger.clock.now() if as_of is None else as_of
    records = ledger.store.records(row.key)
    outcome = score(ledger.policy, records, as_of=when, subject_kind=row.kind)
    _log(ledger, row, action, purpose)
    return row, outcome


def score_subject(
    ledger: Ledger, ref: SubjectRef, *, as_of: int | None = None, purpose: str = "score lookup"
) -> SubjectScore:
    """One subject's score as of a time (default now); the read is logged."""
    with ledger.unit_of_work():
        row, outcome = _read(ledger, ref, as_of, action="score", purpose=purpose)
    return SubjectScore(identity(ledger, row), row.kind, outcome)


def score_all(ledger: Ledger, *, as_of: int | None = None) -> Iterator[SubjectScore]:
    """Every subject's score as of a time, streamed in ledger order.

    Subjects left with no record (every one purged, or the subject erased) are
    not listed, exactly as in batch rescoring.
    """
    when = ledger.clock.now() if as_of is None else as_of
    policy = ledger.policy
    for row, records in ledger.store.subjects_with_records():
        if not records or row.sealed_id is None:
            continue
        outcome = score(policy, records, as_of=when, subject_kind=row.kind)
        yield SubjectScore(identity(ledger, row), row.kind, outcome)


def explain_subject(
    ledger: Ledger, ref: SubjectRef, *, as_of: int | None = None, purpose: str = "explanation"
) -> SubjectReport:
    """A subject's full account: score, factors, what would change it, notices, accesses."""
    with ledger.unit_of_work():
        row, outcome = _read(ledger, ref, as_of, action="explain", purpose=purpose)
        notices = tuple(ledger.store.notices(row.key))
        accesses = tuple(ledger.store.accesses(row.key))
    return SubjectReport(
        ref=identity(ledger, row),
        kind=row.kind,
        explanation=explain(ledger.policy, outcome),
        notices=notices,
        accesses=accesses,
    )


def decide_subject(
    ledger: Ledger,
    ref: SubjectRef,
    entitlement_id: str,
    *,
    as_of: int | None = None,
    purpose: str | None = None,
) -> Decision:
    """Decide one entitlement for one subject; the read is logged.

    Deciding now (no ``as_of``) a restriction whose condition holds issues
    the notice the subject is owed, if none is running; its notice period
    starts then. Decisions as of another time only read.

    Raises:
        SubjectNotFound, EntitlementNotFound, IdentifierError.
    """
    ent = entitlement(ledger.policy, entitlement_id)  # an unknown one fails before any read
    with ledger.unit_of_work():
        row, outcome = _read(
            ledger, ref, as_of, action=f"decide {entitlement_id}", purpose=purpose or ent.context
        )
        notices = ledger.store.notices(row.key)
        decision = decide(ledger.policy, outcome, entitlement_id, notices=notices)
        if decision.notice_needed and decision.notice is not None and as_of is None:
            ledger.store.add_notice(row.key, decision.notice)
            decision = replace(decision, notice_issued=True)
    return decision
