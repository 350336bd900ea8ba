"""What the operator console shows: the ledger at a glance, restrictions, the policy's audit.

Aggregates (``overview``) name no subject and are not logged. Listing
restrictions names subjects, so each subject listed gets an entry in its
access log (the console read it, for restriction oversight), in the same
unit of work as the read. Every function takes the calling party and asks
``credence.service.access.authorize`` first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from credence.engine import Reason, decide, score
from credence.policy.audit import AuditRow, audit
from credence.policy.load import SourceMap
from credence.policy.model import EntitlementKind, Tier
from credence.service.access import Caller, authorize
from credence.service.history import log_access
from credence.service.ledger import Ledger
from credence.service.register import tier_distribution
from credence.service.status import PolicyReport, policy_report
from credence.service.subjects import identity
from credence.types import DAY_US, SubjectRef

RECENT_DAYS = 30
IN_EFFECT, PENDING, DUE = "in effect", "pending", "due"  # a restriction's state


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
    state: str  # in effect | pending | due
    score: int
    notice_issued_at: int | None
    effective_at: int | None  # when it takes (or took) effect
    ends_at: int | None
    reasons: tuple[Reason, ...]
    legal_basis: str | None


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
        for row, records in ledger.store.subjects_with_records():
            for r in records:
                if first <= r.occurred_at < today + DAY_US:
                    per_day[r.occurred_at // DAY_US * DAY_US] += 1
            if not records or row.sealed_id is None:
                continue
            outcome = score(policy, records, as_of=now, subject_kind=row.kind)
            notices = ledger.store.notices(row.key)
            for ent_id in policy.entitlements:
                d = decide(policy, outcome, ent_id, notices=notices)
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
    for row, records in ledger.store.subjects_with_records():
        if not records or row.sealed_id is None:
            continue
        outcome = score(policy, records, as_of=now, subject_kind=row.kind)
        notices = ledger.store.notices(row.key)
        cases = []
        for ent_id in ids:
            d = decide(policy, outcome, ent_id, notices=notices)
            if d.outcome not in ("restricted", "pending"):
                continue
            issued = None if d.notice_needed else d.notice
            state = IN_EFFECT if d.outcome == "restricted" else PENDING if issued else DUE
            cases.append(
                RestrictionCase(
                    subject=identity(ledger, row),
                    entitlement=ent_id,
                    context=d.context,
                    state=state,
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
    order = {IN_EFFECT: 0, PENDING: 1, DUE: 2}
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
