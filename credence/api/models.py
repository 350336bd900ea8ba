"""The shapes the HTTP API answers in, and how service values become them.

Times are RFC 3339 strings in UTC; points are rounded to six places. These
models are the OpenAPI schemas: a response that does not fit one is a defect.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from credence.service.results import (
    Access,
    Change,
    CompiledPolicy,
    Decision,
    Explanation,
    Hold,
    Outcome,
    Reason,
    Statement,
    weighted,
)
from credence.types import Notice, SubjectRef, format_time

SUBJECT_PATTERN = r"^[^:\s]+:\S.*$"  # scheme:id


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text may not contain NUL (U+0000)")
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


class Model(BaseModel):
    """Every request model refuses fields it does not know, and NUL in any text.

    No identifier, name or context contains NUL, and PostgreSQL cannot store it.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text_without_nul(cls, value: Any) -> Any:
        return _no_nul(value)


def _t(micros: int | None) -> str | None:
    return None if micros is None else format_time(micros)


def _p(points: float) -> float:
    return round(points, 6)


class ReasonOut(BaseModel):
    """A reason code: the rule, the policy's plain-language text, and its summed points."""

    code: str
    text: str
    points: float


class ChangeOut(BaseModel):
    """Something that would change the outcome: a record expiring, or a points gap.

    An expiry names the record and the score just before and at ``at``; a gap
    gives the least whole ``points`` to add to ``dimension`` (negative: to take
    away) for the ``measure`` (score, tier or dimension) to reach ``level``;
    ``points`` is null when no number of points would do.
    """

    kind: str
    text: str
    points: float | None
    at: str | None = None
    measure: str | None = None
    target: str | None = None
    level: float | None = None
    dimension: str | None = None
    score_before: int | None = None
    score_after: int | None = None


def reason_out(r: Reason) -> ReasonOut:
    return ReasonOut(code=r.code, text=r.text, points=_p(r.points))


def change_out(c: Change) -> ChangeOut:
    return ChangeOut(
        kind=c.kind,
        text=c.text,
        points=None if c.points is None else _p(c.points),
        at=_t(c.at),
        measure=c.measure,
        target=c.target,
        level=c.level,
        dimension=c.dimension,
        score_before=c.before,
        score_after=c.after,
    )


class NoticeOut(BaseModel):
    """A notice given to the subject that a restriction will take effect."""

    entitlement: str
    issued_at: str
    effective_at: str
    ends_at: str | None


def notice_out(n: Notice) -> NoticeOut:
    return NoticeOut(
        entitlement=n.entitlement,
        issued_at=format_time(n.issued_at),
        effective_at=format_time(n.effective_at),
        ends_at=_t(n.ends_at),
    )


class HoldOut(BaseModel):
    """An adverse outcome not applied while the disputes it rests on are open."""

    outcome: str
    disputes: list[str]
    until: str


def hold_out(h: Hold) -> HoldOut:
    return HoldOut(outcome=h.outcome, disputes=list(h.disputes), until=format_time(h.until))


class StatementOut(BaseModel):
    """The subject's statement on a disputed record the decision counts."""

    dispute: str
    record: str
    text: str


def statement_out(s: Statement) -> StatementOut:
    return StatementOut(
        dispute=s.dispute, record=f"{s.provider}:{s.provider_event_id}", text=s.text
    )


class DecisionRequest(Model):
    """May this subject have this entitlement? Asked by a relying party with consent."""

    subject: str = Field(
        min_length=3,
        max_length=512,
        pattern=SUBJECT_PATTERN,
        examples=["custom:alice"],
        description="scheme:id",
    )
    entitlement: str = Field(min_length=1, max_length=200, examples=["deposit_free_rental"])


class DecisionOut(BaseModel):
    """The answer, its reason codes with texts, and what would change it."""

    decision_id: str | None = None
    entitlement: str
    kind: Literal["benefit", "restriction"]
    context: str
    as_of: str
    outcome: Literal["granted", "denied", "restricted", "pending", "not_restricted", "held"]
    allowed: bool
    reason_codes: list[str]
    reasons: list[ReasonOut]
    what_would_change_it: list[ChangeOut]
    legal_basis: str | None = None
    reason: str | None = None
    notice: NoticeOut | None = None
    consent_id: str | None = None
    # disputes
    hold: HoldOut | None = None
    statements: list[StatementOut] = []
    override: str | None = Field(
        default=None, description="The override that set this outcome (GET /v1/me/overrides)."
    )
    receipt: dict[str, Any] | None = Field(
        default=None,
        description="The decision's signed receipt (credence-receipt/1); check it with "
        "`credence receipt verify` and GET /v1/receipts/public-key.",
    )


def decision_out(
    d: Decision,
    *,
    decision_id: str | None = None,
    consent_id: str | None = None,
    receipt: dict[str, Any] | None = None,
) -> DecisionOut:
    return DecisionOut(
        decision_id=decision_id,
        entitlement=d.entitlement,
        kind=d.kind,
        context=d.context,
        as_of=format_time(d.as_of),
        outcome=d.outcome,
        allowed=d.allowed,
        reason_codes=[r.code for r in d.reasons],
        reasons=[reason_out(r) for r in d.reasons],
        what_would_change_it=[change_out(c) for c in d.changes],
        legal_basis=d.legal_basis if d.kind == "restriction" else None,
        reason=d.reason if d.kind == "restriction" else None,
        notice=notice_out(d.notice) if d.notice is not None else None,
        consent_id=consent_id,
        hold=hold_out(d.hold) if d.hold is not None else None,
        statements=[statement_out(s) for s in d.statements],
        override=d.override,
        receipt=receipt,
    )


def ready(model: BaseModel) -> Response:
    """``model`` as the JSON response, serialised once.

    FastAPI validates a returned model against the route's ``response_model`` again
    before it serialises it; for a model this module just built from the engine's
    result that is work without a question, and on the decision path it cost 3% of
    the request. The route keeps ``response_model`` for the OpenAPI document, and the
    schema tests check the answers against it.
    """
    return Response(model.__pydantic_serializer__.to_json(model), media_type="application/json")


class ScoreOut(BaseModel):
    """A score as of a time: the number, the tier, and each dimension's value."""

    as_of: str
    score: int
    tier: str | None
    dimensions: dict[str, float]


def score_out(o: Outcome) -> ScoreOut:
    return ScoreOut(
        as_of=format_time(o.as_of),
        score=o.score,
        tier=o.tier,
        dimensions={k: _p(v) for k, v in o.dimensions.items()},
    )


class ExplanationOut(BaseModel):
    """Why the score is what it is: the factors both ways and what would change it."""

    score: ScoreOut
    lowering: list[ReasonOut]
    raising: list[ReasonOut]
    what_would_change_it: list[ChangeOut]
    lists: list[str]


def explanation_out(e: Explanation) -> ExplanationOut:
    return ExplanationOut(
        score=score_out(e.outcome),
        lowering=[reason_out(r) for r in e.lowering],
        raising=[reason_out(r) for r in e.raising],
        what_would_change_it=[change_out(c) for c in e.changes],
        lists=sorted(e.outcome.lists),
    )


class RecordOut(BaseModel):
    """One of the subject's records: what it says, what it counts now, and when it expires.

    ``id`` (``provider:provider_event_id``) names it in a dispute."""

    id: str
    provider: str
    provider_event_id: str
    type: str
    occurred_at: str
    attributes: dict[str, Any]
    evidence: str | None
    rule: str | None
    points: float
    expires_at: str | None
    expired: bool


def records_out(policy: CompiledPolicy, outcome: Outcome) -> list[RecordOut]:
    return [
        RecordOut(
            id=f"{c.record.provider}:{c.record.provider_event_id}",
            provider=c.record.provider,
            provider_event_id=c.record.provider_event_id,
            type=c.record.type,
            occurred_at=format_time(c.record.occurred_at),
            attributes=dict(c.record.attributes),
            evidence=c.record.evidence,
            rule=c.rule.id,
            points=_p(weighted(policy, c)),
            expires_at=_t(c.expires_at),
            expired=c.expired,
        )
        for c in outcome.contributions
    ]


class AccessOut(BaseModel):
    """One read of the subject's data by someone else."""

    at: str
    party: str
    action: str
    context: str
    consent_id: str | None = None


def access_out(a: Access) -> AccessOut:
    return AccessOut(
        at=format_time(a.at),
        party=a.party,
        action=a.action,
        context=a.context or a.purpose,
        consent_id=a.consent_id,
    )


class SubjectOut(BaseModel):
    """A subject as named by its identifier."""

    scheme: str
    id: str
    kind: str


def subject_out(ref: SubjectRef, kind: str) -> SubjectOut:
    return SubjectOut(scheme=ref.scheme, id=ref.id, kind=kind)
