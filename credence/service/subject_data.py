"""Everything Credence holds about the signed-in subject, as one JSON document (GDPR Art. 15 and 20).

The export is what a subject downloads from their page: who they are as
stored, every record kept about them (retractions and records that no longer
count included), what each counts now and until when, the score and its
reasons, notices, consents, the access log, every decision made about
them with its signed receipt, the notices given, disputes, reviews and
overrides. It is read in one unit of work, so its parts agree, and it is the
subject reading their own data: nothing is written to the access log.
"""

from __future__ import annotations

from typing import Any

import orjson

from credence.service.consents import list_consents
from credence.service.disputes import own_disputes
from credence.service.history import list_accesses, list_decisions
from credence.service.ledger import Ledger
from credence.service.notices import own_notices as own_subject_notices
from credence.service.overrides import own_overrides
from credence.service.reviews import own_reviews
from credence.service.sessions import SubjectSession, check_session
from credence.service.subject_views import (
    RecordView,
    own_explanation,
    own_notices,
    own_records,
    own_score,
)
from credence.types import Record, format_time

FORMAT = "credence-subject-export/1"


def _t(micros: int | None) -> str | None:
    return None if micros is None else format_time(micros)


def _points(value: float) -> float:
    return round(value, 6)


def export_subject_data(ledger: Ledger, session: SubjectSession) -> dict[str, Any]:
    """The signed-in subject's data, as plain JSON values.

    Raises:
        AuthenticationFailed: when the session has expired.
    """
    check_session(ledger, session)
    with ledger.unit_of_work():
        row = ledger.store.subject(session.subject_key)
        stored = ledger.store.records(session.subject_key)
        own = own_score(ledger, session)
        explanation = own_explanation(ledger, session)
        records = {(r.provider, r.provider_event_id): r for r in own_records(ledger, session)}
        notices = own_notices(ledger, session)
        consents = list_consents(ledger, session)
        accesses = list_accesses(ledger, session)
        decisions = list_decisions(ledger, session)
        disputes = own_disputes(ledger, session)
        reviews = own_reviews(ledger, session)
        overrides = own_overrides(ledger, session)
        given = own_subject_notices(ledger, session)
        policy = ledger.stored_policy_at(ledger.clock.now())
        now = ledger.clock.now()
    outcome = own.outcome
    return {
        "format": FORMAT,
        "exported_at": format_time(now),
        "subject": {
            "scheme": session.subject.scheme,
            "id": session.subject.id,
            "kind": own.kind,
            "first_seen": _t(row.created_at) if row is not None else None,
        },
        "policy": {"name": policy.name, "version": policy.version, "digest": policy.digest},
        "score": {
            "as_of": format_time(outcome.as_of),
            "score": outcome.score,
            "tier": outcome.tier,
            "dimensions": {k: _points(v) for k, v in outcome.dimensions.items()},
            "lists": sorted(outcome.lists),
        },
        "explanation": {
            "lowering": [
                {"code": r.code, "text": r.text, "points": _points(r.points), "records": r.records}
                for r in explanation.lowering
            ],
            "raising": [
                {"code": r.code, "text": r.text, "points": _points(r.points), "records": r.records}
                for r in explanation.raising
            ],
            "what_would_change_it": [
                {"kind": c.kind, "text": c.text, "points": c.points, "at": _t(c.at)}
                for c in explanation.changes
            ],
        },
        "records": [_record(r, records.get(r.key)) for r in stored],
        "notices": [
            {
                "entitlement": n.entitlement,
                "issued_at": format_time(n.issued_at),
                "effective_at": format_time(n.effective_at),
                "ends_at": _t(n.ends_at),
            }
            for n in notices
        ],
        "consents": [
            {
                "id": c.id,
                "party": c.party,
                "context": c.context,
                "entitlements": list(c.entitlements),
                "scope": str(c.scope),
                "granted_at": format_time(c.granted_at),
                "expires_at": format_time(c.expires_at),
                "revoked_at": _t(c.revoked_at),
            }
            for c in consents
        ],
        "accesses": [
            {
                "at": format_time(a.at),
                "party": a.actor,
                "action": a.action,
                "purpose": a.purpose,
                "context": a.context,
                "consent_id": a.consent_id,
            }
            for a in accesses
        ],
        "decisions": [
            {
                "id": d.id,
                "party": d.party,
                "entitlement": d.entitlement,
                "outcome": d.outcome,
                "reason_codes": list(d.reasons),
                "as_of": format_time(d.as_of),
                "at": format_time(d.at),
                "receipt": orjson.loads(d.receipt) if d.receipt is not None else None,
            }
            for d in decisions
        ],
        "notices_given": [
            {
                "seq": n.seq,
                "kind": n.kind,
                "entitlement": n.entitlement,
                "outcome": n.outcome,
                "decision_id": n.decision_id,
                "issued_at": format_time(n.issued_at),
                "dispute_by": _t(n.dispute_by),
                "body": n.body,
            }
            for n in given
        ],
        "reviews": [
            {
                "id": r.id,
                "decision_id": r.decision_id,
                "entitlement": r.entitlement,
                "statement": r.statement,
                "requested_at": format_time(r.requested_at),
                "deadline": format_time(r.deadline),
                "state": r.state,
                "resolved_at": _t(r.resolved_at),
                "reviewer": r.reviewer,
                "resolution": r.resolution,
                "override_id": r.override_id,
            }
            for r in reviews
        ],
        "overrides": [
            {
                "id": o.id,
                "entitlement": o.entitlement,
                "outcome": o.outcome,
                "reason": o.reason,
                "set_by": o.set_by,
                "set_at": format_time(o.set_at),
                "ends_at": format_time(o.ends_at),
                "ended_at": _t(o.ended_at),
                "state": o.state,
            }
            for o in overrides
        ],
        "disputes": [
            {
                "id": d.id,
                "record": d.record,
                "statement": d.statement,
                "evidence": d.evidence,
                "information": [
                    {"at": format_time(n.at), "text": n.text, "evidence": n.evidence}
                    for n in d.notes
                ],
                "state": d.state,
                "filed_at": format_time(d.filed_at),
                "deadline": format_time(d.deadline),
                "extended": d.extended,
                "answer": d.answer,
                "answered_at": _t(d.answered_at),
                "resolved_at": _t(d.resolved_at),
                "reason": d.reason,
            }
            for d in disputes
        ],
    }


def _record(record: Record, view: RecordView | None) -> dict[str, Any]:
    return {
        "provider": record.provider,
        "provider_event_id": record.provider_event_id,
        "type": record.type,
        "occurred_at": format_time(record.occurred_at),
        "attributes": dict(record.attributes),
        "evidence": record.evidence,
        "retracts": record.retracts,
        "rule": view.rule if view is not None else None,
        "points_now": _points(view.points) if view is not None else 0.0,
        "counts_until": _t(view.expires_at) if view is not None else None,
        "counting": bool(view is not None and view.counting),
    }
