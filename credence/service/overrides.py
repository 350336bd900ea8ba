"""Overrides: a person sets the outcome for one subject and one entitlement, for a time.

An operator (or a reviewer resolving a review) may set an override with a
written reason and an end date at most one year away. While it is in force
every decision on that entitlement for that subject takes its outcome and
names it (``Decision.override``, and the receipt); the moment it expires or is
ended, decisions are the engine's again. It is logged, and the subject is
given a notice and sees it among their overrides.

An override may grant or deny a benefit and lift a restriction; it never
imposes one, since a restriction takes effect only through the policy and its
notice period.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from credence.engine import Decision
from credence.engine.decisions import DENIED, GRANTED, NOT_RESTRICTED, entitlement
from credence.engine.reasons import Change, Reason
from credence.errors import OverrideConflict, OverrideInvalid, OverrideNotFound
from credence.ledger import SubjectRow
from credence.ledger.redress import OverrideRow
from credence.policy.model import EntitlementKind
from credence.service.ledger import Ledger
from credence.service.notices import give_notice
from credence.service.sessions import SubjectSession, check_session
from credence.service.subjects import identity, resolve
from credence.types import DAY_US, SubjectRef, format_time

MAX_OVERRIDE_DAYS = 365
MAX_REASON_CHARS = 2000
OUTCOMES: dict[EntitlementKind, tuple[str, ...]] = {
    EntitlementKind.BENEFIT: (GRANTED, DENIED),
    EntitlementKind.RESTRICTION: (NOT_RESTRICTED,),
}
OVERRIDE_REASON = "override"  # the reason code a decision set by an override carries


@dataclass(frozen=True, slots=True)
class Override:
    """An override as shown: whom it is for, what it sets, why, by whom, and until when."""

    id: str
    subject: SubjectRef
    entitlement: str
    outcome: str
    reason: str
    set_by: str
    set_at: int
    ends_at: int
    ended_at: int | None
    ended_by: str | None
    review_id: str | None
    state: str  # in_force | ended | expired | scheduled


def state_of(row: OverrideRow, at: int) -> str:
    """``in_force``, ``ended`` (early), ``expired`` (reached its end date), or ``scheduled``."""
    if row.in_force(at):
        return "in_force"
    if row.ended_at is not None and row.ended_at < row.ends_at and at >= row.ended_at:
        return "ended"
    return "expired" if at >= row.ends_at else "scheduled"


def _view(ledger: Ledger, row: OverrideRow, ref: SubjectRef | None = None) -> Override:
    if ref is None:
        stored = ledger.store.subject(row.subject_key)
        ref = identity(ledger, stored) if stored is not None else SubjectRef("-", "-")
    return Override(
        id=row.id,
        subject=ref,
        entitlement=row.entitlement,
        outcome=row.outcome,
        reason=row.reason,
        set_by=row.set_by,
        set_at=row.set_at,
        ends_at=row.ends_at,
        ended_at=row.ended_at,
        ended_by=row.ended_by,
        review_id=row.review_id,
        state=state_of(row, ledger.clock.now()),
    )


def check_override(
    ledger: Ledger, entitlement_id: str, *, outcome: str, reason: str, ends_at: int | None
) -> tuple[str, int]:
    """The override's reason (trimmed) and end time, once its fields are valid.

    Raises:
        EntitlementNotFound: for an entitlement the policy does not have.
        OverrideInvalid: for an outcome the entitlement cannot be overridden to, an empty
            or too long reason, or an end not in the next ``MAX_OVERRIDE_DAYS`` days.
    """
    now = ledger.clock.now()
    ent = entitlement(ledger.policy_at(now), entitlement_id)
    allowed = OUTCOMES[ent.kind]
    if outcome not in allowed:
        never = ", never imposed" if ent.kind is EntitlementKind.RESTRICTION else ""
        raise OverrideInvalid(
            f"a {ent.kind.value} can be overridden to {' or '.join(allowed)}{never}, "
            f"not {outcome!r}",
            suggestion="a restriction takes effect only through the policy and its notice period"
            if never
            else None,
        )
    text = reason.strip()
    if not text or len(text) > MAX_REASON_CHARS:
        raise OverrideInvalid(
            f"an override needs a written reason of 1 to {MAX_REASON_CHARS} characters",
            suggestion="say why the outcome is set by hand; the subject reads it",
        )
    latest = now + MAX_OVERRIDE_DAYS * DAY_US
    end = latest if ends_at is None else ends_at
    if not now < end <= latest:
        raise OverrideInvalid(
            f"an override must end after now and at most {MAX_OVERRIDE_DAYS} days from now "
            f"(by {format_time(latest)}), not at {format_time(end)}"
        )
    return text, end


def add_override(
    ledger: Ledger,
    row: SubjectRow,
    entitlement_id: str,
    *,
    outcome: str,
    reason: str,
    ends_at: int | None,
    by: str,
    review_id: str | None = None,
) -> Override:
    """Set an override for a stored subject, in the open unit of work, and give its notice.

    Raises:
        EntitlementNotFound, OverrideInvalid: as ``check_override``.
        OverrideConflict: when one is in force already for that subject and entitlement.
    """
    text, end = check_override(
        ledger, entitlement_id, outcome=outcome, reason=reason, ends_at=ends_at
    )
    now = ledger.clock.now()
    running = in_force(ledger, row.key, entitlement_id, at=now)
    if running is not None:
        raise OverrideConflict(
            f"override {running.id} is in force for this subject and {entitlement_id} until "
            f"{format_time(running.ends_at)}",
            suggestion=f"end it first (`credence override end {running.id}`)",
            details={"override_id": running.id},
        )
    stored = OverrideRow(
        id="ovr_" + secrets.token_hex(12),
        subject_key=row.key,
        entitlement=entitlement_id,
        outcome=outcome,
        reason=text,
        set_by=by,
        set_at=now,
        ends_at=end,
        review_id=review_id,
    )
    ledger.store.add_override(stored)
    give_notice(
        ledger,
        row.key,
        kind="override",
        entitlement=entitlement_id,
        outcome=outcome,
        body={
            "title": f"{entitlement_id} is set to {outcome} by a person until {format_time(end)}",
            "override_id": stored.id,
            "entitlement": entitlement_id,
            "outcome": outcome,
            "reason": text,
            "set_by": by,
            "ends_at": format_time(end),
            "review_id": review_id,
        },
    )
    return _view(ledger, stored, identity(ledger, row))


def set_override(
    ledger: Ledger,
    ref: SubjectRef,
    entitlement_id: str,
    *,
    outcome: str,
    reason: str,
    ends_at: int | None = None,
    by: str | None = None,
) -> Override:
    """Set an override as an operator (``by``, by default the operator the settings name).

    ``ends_at`` defaults to the longest allowed, one year from now.

    Raises:
        SubjectNotFound, IdentifierError, EntitlementNotFound, OverrideInvalid, OverrideConflict.
    """
    with ledger.unit_of_work():
        row = resolve(ledger, ref)
        return add_override(
            ledger,
            row,
            entitlement_id,
            outcome=outcome,
            reason=reason,
            ends_at=ends_at,
            by=by or ledger.settings.actor,
        )


def end_override(ledger: Ledger, override_id: str, *, by: str | None = None) -> Override:
    """End an override now, before its end date; decisions are the engine's again at once.

    Raises:
        OverrideNotFound: when there is no such override in force.
    """
    actor = by or ledger.settings.actor
    with ledger.unit_of_work():
        now = ledger.clock.now()
        found = ledger.store.override(override_id)
        if found is None or not found.in_force(now):
            raise OverrideNotFound(
                f"no override {override_id} in force",
                suggestion="`credence override list` shows those in force",
            )
        ledger.store.end_override(override_id, at=now, by=actor)
        give_notice(
            ledger,
            found.subject_key,
            kind="override",
            entitlement=found.entitlement,
            outcome=None,
            body={
                "title": f"the override of {found.entitlement} has ended",
                "override_id": found.id,
                "entitlement": found.entitlement,
                "ended_by": actor,
                "ended_at": format_time(now),
            },
        )
        return _view(ledger, replace(found, ended_at=now, ended_by=actor))


def overrides_in_force(ledger: Ledger) -> list[Override]:
    """Every override in force now, soonest to end first (the operator's view)."""
    with ledger.unit_of_work():
        return [_view(ledger, o) for o in ledger.store.overrides_in_force(ledger.clock.now())]


def subject_overrides(ledger: Ledger, ref: SubjectRef) -> list[Override]:
    """Every override of one subject, ended and expired ones included, oldest first."""
    with ledger.unit_of_work():
        row = resolve(ledger, ref)
        named = identity(ledger, row)
        return [_view(ledger, o, named) for o in ledger.store.overrides(row.key)]


def own_overrides(ledger: Ledger, session: SubjectSession) -> list[Override]:
    """Every override of the signed-in subject, oldest first.

    Raises:
        AuthenticationFailed: when the session has expired.
    """
    check_session(ledger, session)
    with ledger.unit_of_work():
        rows = ledger.store.overrides(session.subject_key)
        return [_view(ledger, o, session.subject) for o in rows]


def in_force(
    ledger: Ledger, subject_key: int, entitlement_id: str, *, at: int
) -> OverrideRow | None:
    """The override of this subject and entitlement in force at ``at``, if any (the latest)."""
    live = [
        o
        for o in ledger.store.overrides(subject_key)
        if o.entitlement == entitlement_id and o.in_force(at)
    ]
    return max(live, key=lambda o: o.set_at, default=None)


def apply_override(ledger: Ledger, subject_key: int, decision: Decision) -> Decision:
    """The decision with the outcome of the override in force at its as-of time, if any.

    The decision names the override, its reason code ``override`` carries the written
    reason, and what would change it is the override's end. A restriction lifted by
    an override owes no notice.
    """
    found = in_force(ledger, subject_key, decision.entitlement, at=decision.as_of)
    if found is None:
        return decision
    reason = Reason(OVERRIDE_REASON, f"Set by {found.set_by}: {found.reason}", 0.0, 0)
    ends = Change(
        "override",
        f"the override {found.id} ends on {format_time(found.ends_at)}; a review may end it sooner",
        None,
        at=found.ends_at,
    )
    same = found.outcome == decision.outcome
    return replace(
        decision,
        outcome=found.outcome,
        allowed=found.outcome in (GRANTED, NOT_RESTRICTED),
        reasons=(reason, *decision.reasons) if same else (reason,),
        changes=(ends,),
        notice=None if found.outcome == NOT_RESTRICTED else decision.notice,
        notice_needed=False if found.outcome == NOT_RESTRICTED else decision.notice_needed,
        override=found.id,
    )
