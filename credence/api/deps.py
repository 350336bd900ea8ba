"""What every route may ask for: the open ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from credence.errors import RequestInvalid
from credence.service.ledger import Ledger


async def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(_ledger)]


async def refuse_nul(request: Request) -> None:
    """Refuse NUL in the path or query: no name or identifier has one, and PostgreSQL cannot store it.

    Raises:
        RequestInvalid: when there is one.
    """
    if "\x00" in request.scope["path"] or b"%00" in request.scope["query_string"].lower():
        raise RequestInvalid("the path and query may not contain NUL (U+0000)")
