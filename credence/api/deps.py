"""What every route may ask for: the open ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from credence.service.ledger import Ledger


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(_ledger)]
