"""Append-only ledger stores behind one interface (``credence.ledger.store.Store``)."""

from __future__ import annotations

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
    "NewRecord",
    "NewSubject",
    "Store",
    "StoredPolicy",
    "SubjectRow",
    "open_store",
]


def open_store(url: str, *, read_only: bool = False) -> Store:
    """The store for a ledger address: ``memory:``, ``postgresql://…``, or a SQLite file path.

    ``read_only`` opens a SQLite file without ever writing to it or beside it, so a
    copy in a read-only directory can be verified; a PostgreSQL ledger is read
    under the role's own permissions either way.

    Raises:
        StoreUnavailable: when the ledger cannot be opened.
    """
    if url == "memory:":
        from credence.ledger.memory import MemoryStore

        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from credence.ledger.postgres import PostgresStore

        return PostgresStore(url)
    from credence.ledger.sqlite import ReadOnlySQLiteStore, SQLiteStore

    return ReadOnlySQLiteStore(url) if read_only else SQLiteStore(url)
