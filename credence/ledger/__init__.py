"""Append-only ledger stores behind one interface (``credence.ledger.store.Store``)."""

from __future__ import annotations

from credence.ledger.accounts import (
    ConsentRow,
    DecisionRow,
    KeyRow,
    PartyRow,
    SessionRow,
    SignInRow,
)
from credence.ledger.store import (
    Access,
    AppendResult,
    NewRecord,
    NewSubject,
    Store,
    StoredPolicy,
    SubjectRow,
)

__all__ = [
    "Access",
    "AppendResult",
    "ConsentRow",
    "DecisionRow",
    "KeyRow",
    "NewRecord",
    "NewSubject",
    "PartyRow",
    "SessionRow",
    "SignInRow",
    "Store",
    "StoredPolicy",
    "SubjectRow",
    "open_store",
]


def open_store(url: str) -> Store:
    """The store for a ledger address: ``memory:``, ``postgresql://…``, or a SQLite file path.

    Raises:
        StoreUnavailable: when the ledger cannot be opened.
    """
    if url == "memory:":
        from credence.ledger.memory import MemoryStore

        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from credence.ledger.postgres import PostgresStore

        return PostgresStore(url)
    from credence.ledger.sqlite import SQLiteStore

    return SQLiteStore(url)
