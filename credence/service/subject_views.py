"""What a signed-in subject sees about themselves: score, why, records, notices, who looked.

A subject reading their own data is not an access by someone else, so these
reads are not written to the access log. Each function takes the subject's
session, never an identifier: a subject can only ever see their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from credence.engine import Explanation, Outcome, explain, score
from credence.errors import SubjectNotFound
from credence.ledger import SubjectRow
from credence.service.disputes import scoring_records
from credence.service.ledger import Ledger
from credence.types import Notice, SubjectRef


class SignedIn(Protocol):
    """A subject's session, as far as these views need it."""

    @property
    def subject_key(self) -> int: ...

    @property
    def subject(self) -> SubjectRef: ...


@dataclass(frozen=True, slots=True)
class OwnScore:
    """The subject as named, its kind, and its outcome now."""

    ref: SubjectRef
    kind: str
    outcome: Outcome


def _row(ledger: Ledger, session: SignedIn) -> SubjectRow:
    row = ledger.store.subject(session.subject_key)
    if row is None:
        raise SubjectNotFound("your record is no longer in the ledger")
    return row


def own_score(ledger: Ledger, session: SignedIn) -> OwnScore:
    """The signed-in subject's score now, with every contribution behind it."""
    row = _row(ledger, session)
    records = scoring_records(ledger, row.key)
    outcome = score(ledger.policy, records, as_of=ledger.clock.now(), subject_kind=row.kind)
    return OwnScore(session.subject, row.kind, outcome)


def own_explanation(ledger: Ledger, session: SignedIn) -> Explanation:
    """Why the signed-in subject's score is what it is, and what would change it."""
    return explain(ledger.policy, own_score(ledger, session).outcome)


def own_notices(ledger: Ledger, session: SignedIn) -> list[Notice]:
    """Every notice given to the signed-in subject, oldest first."""
    return ledger.store.notices(session.subject_key)
