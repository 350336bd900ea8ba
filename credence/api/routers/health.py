"""Liveness and readiness, open to anyone: they say nothing about any subject."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from credence.api.deps import LedgerDep, LedgerRoute
from credence.service.status import readiness

router = APIRouter(tags=["operator"], route_class=LedgerRoute)


class Health(BaseModel):
    """The process answers."""

    status: str


class Ready(BaseModel):
    """The ledger is reachable, its schema current, and a policy active."""

    status: str
    policy_name: str
    policy_version: str
    records: int


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness: the server answers (it does not touch the ledger)."""
    return Health(status="ok")


@router.get("/ready", response_model=Ready)
def ready(ledger: LedgerDep) -> Ready:
    """Readiness: the ledger answers, its schema is current and it has an active policy (503 or 409 if not)."""
    r = readiness(ledger)
    return Ready(
        status="ready",
        policy_name=r.policy_name,
        policy_version=r.policy_version,
        records=r.records,
    )
