"""Due process over HTTP: the receipt key (open to anyone)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from credence.api.deps import LedgerDep
from credence.service.receipts import ledger_public_key

router = APIRouter(tags=["due process"])


class PublicKeyOut(BaseModel):
    """The ledger's Ed25519 public key: it checks decision receipts and checkpoints offline."""

    key_id: str
    public_key_pem: str


@router.get("/receipts/public-key", response_model=PublicKeyOut, summary="The receipt key")
def get_public_key(ledger: LedgerDep) -> PublicKeyOut:
    """The public key that checks every receipt this ledger signs; open to anyone (it is public)."""
    key = ledger_public_key(ledger)
    return PublicKeyOut(key_id=key.key_id, public_key_pem=key.pem)
