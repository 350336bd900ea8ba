"""Data providers: ``POST /v1/records``, the only thing a provider key can do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from credence.api.auth import PartyDep
from credence.api.deps import LedgerDep, LedgerRoute
from credence.service.submissions import submit_records

router = APIRouter(tags=["providers"], route_class=LedgerRoute)

NDJSON = "application/x-ndjson"


class RecordIn(BaseModel):
    """One behaviour record in the interchange format (docs/records.md)."""

    provider: str = Field(examples=["bank-a"])
    provider_event_id: str = Field(examples=["evt-1001"])
    subject_scheme: str = Field(examples=["custom"])
    subject_id: str = Field(examples=["alice"])
    subject_kind: str = Field(examples=["person"])
    type: str = Field(examples=["bill.paid"])
    occurred_at: str = Field(examples=["2026-11-01T09:30:00Z"])
    attributes: dict[str, Any] = Field(
        default_factory=dict, examples=[{"days_late": 0, "amount": 80.0}]
    )
    evidence: str | None = None
    retracts: str | None = None


class RejectOut(BaseModel):
    """A refused row: its index in the body, a stable code, the field at fault, why."""

    index: int
    code: str
    field: str | None
    message: str


class SubmissionOut(BaseModel):
    """What the body did. ``rows == inserted + unchanged + len(rejects)``."""

    rows: int
    inserted: int
    unchanged: int
    rejected: int
    rejects: list[RejectOut]


_BODY = {
    "requestBody": {
        "required": True,
        "description": "A JSON array of records, or NDJSON (one record a line) with "
        f"content-type {NDJSON}; at most CREDENCE_MAX_BODY_BYTES (413 over it).",
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": RecordIn.model_json_schema()}
            },
            NDJSON: {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/records",
    response_model=SubmissionOut,
    openapi_extra=_BODY,
    summary="Send behaviour records (providers)",
)
async def post_records(request: Request, ledger: LedgerDep, party: PartyDep) -> SubmissionOut:
    """Check and append records as the calling provider; refused rows are listed by index.

    Sending a record again changes nothing (idempotent on provider and
    provider_event_id); a row naming another provider is refused.
    """
    ndjson = request.headers.get("content-type", "").split(";")[0].strip() == NDJSON
    body = await request.body()
    done = await run_in_threadpool(submit_records, ledger, party, body, ndjson=ndjson)
    return SubmissionOut(
        rows=done.rows,
        inserted=done.inserted,
        unchanged=done.unchanged,
        rejected=len(done.rejects),
        rejects=[
            RejectOut(index=r.index, code=r.code, field=r.field, message=r.message)
            for r in done.rejects
        ],
    )
