"""Append-only ledger stores behind one interface (``credence.ledger.store.Store``)."""

from __future__ import annotations

from credence.ledger.store import (
    Access,
    AppendResult,
    NewRecord,
    NewSubject,
    Store,
    StoredCandidate,
    StoredPolicy,
    SubjectRow,
)

__all__ = [
    "Access",
    "AppendResult",
    "NewRecord",
    "NewSubject",
    "Store",
    "StoredCandidate",
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
