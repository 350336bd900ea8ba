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
from credence.ledger.disputes import DisputeNote, DisputeRow
from credence.ledger.store import (
    Access,
    AppendResult,
    LedgerEvent,
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
    "ConsentRow",
    "DecisionRow",
    "DisputeNote",
    "DisputeRow",
    "KeyRow",
    "LedgerEvent",
    "NewRecord",
    "NewSubject",
    "PartyRow",
    "SessionRow",
    "SignInRow",
    "Store",
    "StoredCandidate",
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
        MissingExtra: for a PostgreSQL address without the ``postgres`` extra installed.
    """
    if url == "memory:":
        from credence.ledger.memory import MemoryStore

        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        try:
            from credence.ledger.postgres import PostgresStore
        except ImportError as e:
            if (e.name or "").startswith("credence"):
                raise
            from credence.extras import missing

            raise missing("postgres", e, needed_for="a PostgreSQL ledger") from e

        return PostgresStore(url)
    from credence.ledger.sqlite import ReadOnlySQLiteStore, SQLiteStore

    return ReadOnlySQLiteStore(url) if read_only else SQLiteStore(url)
