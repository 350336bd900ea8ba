"""What the operator console shows: the ledger at a glance, restrictions, the policy's audit.

Aggregates (``overview``) name no subject and are not logged. Listing
restrictions names subjects, so each subject listed gets an entry in its
access log (the console read it, for restriction oversight), in the same
unit of work as the read. Every function takes the calling party and asks
``credence.service.access.authorize`` first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from credence.engine import CompiledPolicy, Decision, Outcome, Reason, decide, score
from credence.ledger import DisputeRow, SubjectRow
from credence.policy.audit import AuditRow, audit
from credence.policy.load import SourceMap
from credence.policy.model import EntitlementKind, Tier
from credence.service import disputes
from credence.service.access import Caller, authorize
from credence.service.history import log_access
from credence.service.ledger import Ledger
from credence.service.register import tier_distribution
from credence.service.status import PolicyReport, policy_report
from credence.service.subjects import identity
from credence.types import DAY_US, Notice, Record, SubjectRef

RECENT_DAYS = 30
IN_EFFECT, PENDING, DUE, HELD = "in effect", "pending", "due", "held"  # a restriction's state


@dataclass(frozen=True, slots=True)
class DayCount:
    """Records that occurred on one UTC day."""

    day: int  # midnight UTC, microseconds
    records: int


@dataclass(frozen=True, slots=True)
class AdverseCount:
    """How many subjects one entitlement goes against now."""

    entitlement: str
    kind: str  # benefit (denied) | restriction
    in_effect: int  # benefits denied, or restrictions in effect
    pending: int  # restrictions in their notice period, or due a notice not yet given


@dataclass(frozen=True, slots=True)
class Overview:
    """The ledger at a glance: subjects, records per day, tiers, adverse outcomes in force."""

    as_of: int
    subjects: int
    records: int
    per_day: tuple[DayCount, ...]  # the last RECENT_DAYS days, oldest first
    tiers: tuple[tuple[Tier, int], ...]  # exact counts, highest tier first
    adverse: tuple[AdverseCount, ...]


@dataclass(frozen=True, slots=True)
class RestrictionCase:
    """One restriction that holds for one subject now, and where it stands."""

    subject: SubjectRef
    entitlement: str
    context: str
    state: str  # in effect | pending | due | held (an open dispute holds it)
    held_until: int | None  # while held: the latest deadline of the disputes it rests on
    score: int
    notice_issued_at: int | None
    effective_at: int | None  # when it takes (or took) effect
    ends_at: int | None
    reasons: tuple[Reason, ...]
    legal_basis: str | None


def _decision(
    ledger: Ledger,
    policy: CompiledPolicy,
    row: SubjectRow,
    records: Sequence[Record],
    outcome: Outcome,
    entitlement_id: str,
    notices: Sequence[Notice],
    disputed: Sequence[DisputeRow],
) -> Decision:
    """A decision now as the subject would get it, held while an open dispute decides it."""
    d = decide(policy, outcome, entitlement_id, notices=notices)
    return disputes.apply(
        ledger, policy, row, records, outcome, d, notices=notices, disputes=disputed
    )


def overview(ledger: Ledger, caller: Caller) -> Overview:
    """Counts for the console's first page; nothing about any one subject.

    Raises:
        Forbidden: for a party that may not see the console.
    """
    authorize(caller, "console.overview")
    now = ledger.clock.now()
    today = now // DAY_US * DAY_US
    first = today - (RECENT_DAYS - 1) * DAY_US
    per_day: Counter[int] = Counter()
    adverse = {e: [0, 0] for e in ledger.policy.entitlements}
    with ledger.unit_of_work():
        counts = ledger.store.counts()
        policy = ledger.policy_at(now)
        struck = disputes.ledger_struck_keys(ledger)
        for row, stored in ledger.store.subjects_with_records():
            for r in stored:
                if first <= r.occurred_at < today + DAY_US:
                    per_day[r.occurred_at // DAY_US * DAY_US] += 1
            if not stored or row.sealed_id is None:
                continue
            records = disputes.without_struck(stored, struck)
            outcome = score(policy, records, as_of=now, subject_kind=row.kind)
            notices = ledger.store.notices(row.key)
            disputed = ledger.store.disputes(row.key)
            for ent_id in policy.entitlements:
                d = _decision(ledger, policy, row, records, outcome, ent_id, notices, disputed)
                if d.outcome in ("denied", "restricted"):
                    adverse[ent_id][0] += 1
                elif d.outcome == "pending":
                    adverse[ent_id][1] += 1
        total, tiers = tier_distribution(ledger)
    days = tuple(
        DayCount(first + i * DAY_US, per_day[first + i * DAY_US]) for i in range(RECENT_DAYS)
    )
    return Overview(
        as_of=now,
        subjects=total,
        records=counts["records"],
        per_day=days,
        tiers=tuple(tiers),
        adverse=tuple(
            AdverseCount(e, policy.entitlements[e].kind.value, n[0], n[1])
            for e, n in adverse.items()
        ),
    )


def restrictions(ledger: Ledger, caller: Caller) -> list[RestrictionCase]:
    """Every restriction whose condition holds now, per subject: in effect, pending or due.

    Each subject listed has this read written to its access log.

    Raises:
        Forbidden: for a party other than the operator.
    """
    authorize(caller, "restrictions.read")
    now = ledger.clock.now()
    found: list[RestrictionCase] = []
    listed: list[int] = []
    # Read first, then log in one unit of work: on PostgreSQL the streamed read leaves the
    # transaction's connection streaming, and an insert on it would fail.
    policy = ledger.policy_at(now)
    ids = [e.id for e in policy.entitlements.values() if e.kind is EntitlementKind.RESTRICTION]
    struck = disputes.ledger_struck_keys(ledger)
    for row, stored in ledger.store.subjects_with_records():
        if not stored or row.sealed_id is None:
            continue
        records = disputes.without_struck(stored, struck)
        outcome = score(policy, records, as_of=now, subject_kind=row.kind)
        notices = ledger.store.notices(row.key)
        disputed = ledger.store.disputes(row.key)
        cases = []
        for ent_id in ids:
            d = _decision(ledger, policy, row, records, outcome, ent_id, notices, disputed)
            if d.outcome not in ("restricted", "pending", HELD):
                continue
            issued = None if d.notice_needed else d.notice
            if d.outcome == HELD:
                state = HELD
            elif d.outcome == "restricted":
                state = IN_EFFECT
            else:
                state = PENDING if issued else DUE
            cases.append(
                RestrictionCase(
                    subject=identity(ledger, row),
                    entitlement=ent_id,
                    context=d.context,
                    state=state,
                    held_until=d.hold.until if d.hold is not None else None,
                    score=d.score,
                    notice_issued_at=issued.issued_at if issued else None,
                    effective_at=issued.effective_at if issued else None,
                    ends_at=issued.ends_at if issued else None,
                    reasons=d.reasons[:3],
                    legal_basis=d.legal_basis,
                )
            )
        if cases:
            listed.append(row.key)
            found += cases
    with ledger.unit_of_work():
        for key in listed:
            log_access(
                ledger,
                key,
                party=caller.name,
                action="console restrictions",
                context=None,
                consent_id=None,
                purpose="restriction oversight",
            )
    order = {IN_EFFECT: 0, PENDING: 1, HELD: 2, DUE: 3}
    found.sort(key=lambda c: (order[c.state], c.effective_at or 0, c.entitlement, c.subject.id))
    return found


@dataclass(frozen=True, slots=True)
class PolicyAudit:
    """The active policy, what the linter says about it, and its audit table."""

    report: PolicyReport
    rows: tuple[AuditRow, ...]
    source: str


def policy_audit(ledger: Ledger, caller: Caller) -> PolicyAudit:
    """The policy in effect with its lint report and element-by-element audit.

    Raises:
        Forbidden: for a party that may not read the policy's report.
    """
    report = policy_report(ledger, caller)
    loaded = ledger.loaded_policy
    rows = audit(loaded.policy, source_map=SourceMap(loaded.source))
    return PolicyAudit(report, tuple(rows), loaded.source)
