"""Notices given to subjects, and the outbox an operator's messaging system reads them from.

Every adverse outcome decided at the present time — a benefit denied, a
restriction pending or in effect — gives the subject a notice: the reasons,
what would change it, how to dispute or ask for review, and the deadline to
dispute. An override set or ended, and the result of a human review, give one
too. Notices are kept per subject and shown to them, and every notice joins
one sequence (``seq``) that ``outbox`` reads after a cursor: a consumer that
stores the last seq it delivered and asks again from there gets every notice
at least once, in order.

No second notice is given for the same subject, entitlement and outcome while
one is current: until its dispute deadline passes. A decision with the same
outcome for other reasons gives a new notice, since the subject is owed them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from credence.engine import Decision
from credence.engine.decisions import DENIED, PENDING, RESTRICTED
from credence.ledger import SubjectRow
from credence.ledger.redress import NoticeRow
from credence.service.history import log_access
from credence.service.ledger import Ledger
from credence.service.sessions import SubjectSession, check_session
from credence.service.subjects import identity
from credence.types import DAY_US, SubjectRef, format_time

ADVERSE = frozenset({DENIED, PENDING, RESTRICTED})
DISPUTE_WINDOW_DAYS = 30  # how long a subject has to dispute a record behind an adverse outcome
OUTBOX_PAGE = 100
MAX_OUTBOX_PAGE = 1000

HOW_TO_DISPUTE = (
    "If a record behind this outcome is wrong, dispute it by {deadline}: POST /v1/me/disputes "
    "with the record (provider:event_id, as GET /v1/me/records names it), a statement and any "
    "evidence. You may also ask for a person to review this decision ({decision}) with "
    "POST /v1/me/reviews; a reviewer answers within 30 days."
)


@dataclass(frozen=True, slots=True)
class SubjectNotice:
    """A notice as given: its seq, kind, entitlement, outcome, decision, times and contents."""

    seq: int
    kind: str  # adverse | override | review
    entitlement: str
    outcome: str | None
    decision_id: str | None
    issued_at: int
    dispute_by: int | None
    body: dict[str, Any]


def _view(row: NoticeRow) -> SubjectNotice:
    return SubjectNotice(
        seq=row.seq,
        kind=row.kind,
        entitlement=row.entitlement,
        outcome=row.outcome,
        decision_id=row.decision_id,
        issued_at=row.issued_at,
        dispute_by=row.dispute_by,
        body=orjson.loads(row.body),
    )


def give_notice(
    ledger: Ledger,
    subject_key: int,
    *,
    kind: str,
    entitlement: str,
    outcome: str | None,
    body: dict[str, Any],
    decision_id: str | None = None,
    dispute_by: int | None = None,
) -> SubjectNotice:
    """Keep a notice for a subject and put it in the outbox (in the open unit of work)."""
    row = NoticeRow(
        seq=0,
        subject_key=subject_key,
        kind=kind,
        entitlement=entitlement,
        outcome=outcome,
        decision_id=decision_id,
        issued_at=ledger.clock.now(),
        dispute_by=dispute_by,
        body=orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode(),
    )
    seq = ledger.store.add_subject_notice(row)
    return _view(NoticeRow(seq, *_fields(row)))


def _fields(row: NoticeRow) -> tuple[Any, ...]:
    return (
        row.subject_key,
        row.kind,
        row.entitlement,
        row.outcome,
        row.decision_id,
        row.issued_at,
        row.dispute_by,
        row.body,
    )


def current_adverse(
    latest: SubjectNotice | None, *, outcome: str, reason_codes: list[str], now: int
) -> bool:
    """Whether the subject's latest adverse notice on an entitlement says the same now.

    It does while its dispute deadline has not passed and it gave this outcome
    for these reason codes; other reasons owe the subject a new notice.
    """
    if latest is None or latest.outcome != outcome:
        return False
    if latest.dispute_by is not None and now >= latest.dispute_by:
        return False
    return [r["code"] for r in latest.body.get("reasons", [])] == reason_codes


def adverse_notice(
    ledger: Ledger, row: SubjectRow, decision: Decision, *, decision_id: str
) -> SubjectNotice | None:
    """The notice an adverse outcome decided now owes the subject, given now; None when the
    outcome is not adverse or a notice saying the same is still current."""
    if decision.outcome not in ADVERSE:
        return None
    now = ledger.clock.now()
    found = ledger.store.latest_subject_notice(
        row.key, kind="adverse", entitlement=decision.entitlement
    )
    codes = [r.code for r in decision.reasons]
    latest = None if found is None else _view(found)
    if current_adverse(latest, outcome=decision.outcome, reason_codes=codes, now=now):
        return None
    dispute_by = now + DISPUTE_WINDOW_DAYS * DAY_US
    return give_notice(
        ledger,
        row.key,
        kind="adverse",
        entitlement=decision.entitlement,
        outcome=decision.outcome,
        decision_id=decision_id,
        dispute_by=dispute_by,
        body=adverse_body(decision, decision_id=decision_id, dispute_by=dispute_by),
    )


def adverse_body(decision: Decision, *, decision_id: str, dispute_by: int) -> dict[str, Any]:
    """What an adverse notice says: outcome, reasons, what would change it, how to dispute."""
    d = decision
    title = {
        DENIED: f"{d.entitlement} was denied",
        PENDING: f"{d.entitlement} will apply to you from the end of its notice period",
        RESTRICTED: f"{d.entitlement} applies to you",
    }[d.outcome]
    body: dict[str, Any] = {
        "title": title,
        "entitlement": d.entitlement,
        "kind": d.kind,
        "context": d.context,
        "outcome": d.outcome,
        "decision_id": decision_id,
        "as_of": format_time(d.as_of),
        "reasons": [
            {"code": r.code, "text": r.text, "points": round(r.points, 6)} for r in d.reasons
        ],
        "what_would_change_it": [c.text for c in d.changes],
        "how_to_dispute": HOW_TO_DISPUTE.format(
            deadline=format_time(dispute_by), decision=decision_id
        ),
        "dispute_by": format_time(dispute_by),
        "override": d.override,
    }
    if d.kind == "restriction":
        body["legal_basis"] = d.legal_basis
        body["reason"] = d.reason
        if d.notice is not None:
            body["effective_at"] = format_time(d.notice.effective_at)
            body["ends_at"] = None if d.notice.ends_at is None else format_time(d.notice.ends_at)
    return body


def own_notices(ledger: Ledger, session: SubjectSession) -> list[SubjectNotice]:
    """Every notice given to the signed-in subject, oldest first.

    Raises:
        AuthenticationFailed: when the session has expired.
    """
    check_session(ledger, session)
    with ledger.unit_of_work():
        return [_view(n) for n in ledger.store.subject_notices(session.subject_key)]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A notice to deliver, with the subject it is for."""

    subject: SubjectRef
    notice: SubjectNotice


@dataclass(frozen=True, slots=True)
class OutboxPage:
    """Notices after a cursor, in seq order; ask again with ``after=next_after``."""

    items: tuple[OutboxItem, ...]
    next_after: int
    more: bool


def outbox(
    ledger: Ledger, *, after: int = 0, limit: int = OUTBOX_PAGE, party: str | None = None
) -> OutboxPage:
    """The next notices to deliver after seq ``after``, in order, for the operator's messaging.

    Naming the subject of each notice is a read of its data: it is written to the
    subject's access log (as ``party``, by default the operator the settings name).
    """
    limit = max(1, min(limit, MAX_OUTBOX_PAGE))
    with ledger.unit_of_work():
        rows = ledger.store.outbox(after=max(after, 0), limit=limit + 1)
        page, more = rows[:limit], len(rows) > limit
        items = []
        subjects: dict[int, SubjectRef] = {}
        for notice in page:
            ref = subjects.get(notice.subject_key)
            if ref is None:
                stored = ledger.store.subject(notice.subject_key)
                if stored is None:
                    continue  # pragma: no cover - subjects are never deleted, only erased
                ref = subjects[notice.subject_key] = identity(ledger, stored)
                log_access(
                    ledger,
                    notice.subject_key,
                    party=party or ledger.settings.actor,
                    action="notices outbox",
                    context=None,
                    consent_id=None,
                    purpose="notice delivery",
                )
            items.append(OutboxItem(ref, _view(notice)))
    return OutboxPage(tuple(items), page[-1].seq if page else max(after, 0), more)


ERASED = "[erased]"
ERASED_BODY = {"title": ERASED, "erased": True}


def forget_texts(ledger: Ledger, subject_key: int) -> None:
    """Blank what an erased subject's notices, reviews and overrides say in words, in the
    open unit of work; their ids, times, outcomes and states stay (and the outbox order)."""
    ledger.store.forget_notice_bodies(
        subject_key, body=orjson.dumps(ERASED_BODY, option=orjson.OPT_SORT_KEYS).decode()
    )
    ledger.store.forget_review_texts(subject_key, text=ERASED)
    ledger.store.forget_override_reasons(subject_key, text=ERASED)
