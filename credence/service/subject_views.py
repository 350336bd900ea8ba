"""What a signed-in subject sees about themselves: score, why, records, notices, who looked.

A subject reading their own data is not an access by someone else, so these
reads are not written to the access log. Each function takes the subject's
session, never an identifier: a subject can only ever see their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from credence.engine import Explanation, Outcome, explain, score
from credence.engine.reasons import weighted
from credence.errors import SubjectNotFound, UsageError
from credence.ledger import SubjectRow
from credence.service.disputes import scoring_records
from credence.service.ledger import Ledger
from credence.types import MICROS, Notice, SubjectRef


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


@dataclass(frozen=True, slots=True)
class RecordView:
    """One of the subject's records: what it says, the rule it met, what it counts, until when."""

    provider: str
    provider_event_id: str
    type: str
    occurred_at: int
    attributes: dict[str, Any]
    evidence: str | None
    rule: str
    reason: str
    points: float  # in score units (the dimension's weight applied), now
    expires_at: int | None  # when it stops counting; None: it never expires
    counting: bool  # whether it moves the score now


def own_records(ledger: Ledger, session: SignedIn) -> list[RecordView]:
    """Every record that met a rule, newest first: its contribution now and when it stops counting."""
    own = own_score(ledger, session)
    policy = ledger.policy
    views = [
        RecordView(
            provider=c.record.provider,
            provider_event_id=c.record.provider_event_id,
            type=c.record.type,
            occurred_at=c.record.occurred_at,
            attributes=dict(c.record.attributes),
            evidence=c.record.evidence,
            rule=c.rule.id,
            reason=c.rule.reason,
            points=weighted(policy, c),
            expires_at=c.expires_at,
            counting=not c.expired and weighted(policy, c) != 0.0,
        )
        for c in own.outcome.contributions
    ]
    return sorted(
        views, key=lambda v: (v.occurred_at, v.provider, v.provider_event_id), reverse=True
    )


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """The score as of one moment (a month's end, or now for the month under way)."""

    at: int
    score: int
    tier: str | None


@dataclass(frozen=True, slots=True)
class ScoreHistory:
    """The score at each month end, and what to draw it against: the scale and the tiers."""

    points: tuple[HistoryPoint, ...]  # oldest first; the last one is now
    scale: tuple[float, float]  # (min, max)
    tiers: tuple[tuple[str, float], ...]  # (id, min), highest first, of the policy now


def month_ends(now: int, *, months: int) -> list[int]:
    """The last microsecond of each of the ``months - 1`` months before now's, then ``now``."""
    moment = datetime.fromtimestamp(now / MICROS, tz=UTC)
    year, month = moment.year, moment.month
    ends: list[int] = []
    for _ in range(months - 1):
        first = datetime(year, month, 1, tzinfo=UTC)  # the month after the one that ends
        ends.append(int(first.timestamp()) * MICROS - 1)
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return sorted(ends) + [now]


def score_history(ledger: Ledger, session: SignedIn, *, months: int = 24) -> ScoreHistory:
    """The signed-in subject's score as of each month end over ``months`` months, and now.

    Each point is the engine's score as of that moment under the policy version
    in effect then, counting what is known now (a record retracted since counts at no time).

    Raises:
        UsageError: for fewer than 2 or more than 120 months.
    """
    if not 2 <= months <= 120:
        raise UsageError("a score history covers 2 to 120 months")
    with ledger.unit_of_work():
        row = _row(ledger, session)
        records = scoring_records(ledger, row.key)  # a record a dispute dropped counts at no time
        now = ledger.clock.now()
        points = []
        for at in month_ends(now, months=months):
            outcome = score(ledger.policy_at(at), records, as_of=at, subject_kind=row.kind)
            points.append(HistoryPoint(at, outcome.score, outcome.tier))
        policy = ledger.policy
    return ScoreHistory(
        tuple(points),
        (policy.min, policy.max),
        tuple(zip(policy.tier_ids, policy.tier_mins, strict=True)),
    )
