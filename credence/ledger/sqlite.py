"""The embedded ledger: one SQLite file in WAL mode, one writer connection, many readers."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from credence.errors import (
    CredenceError,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    UsageError,
)
from credence.ledger.chain import HEAD_QUERY, chain_rows, read_head
from credence.ledger.sql import (
    EncodedRecord,
    chunks,
    classify,
    drop_unused_subjects,
    record_rows,
)
from credence.ledger.sql_logs import SQLLogStore
from credence.ledger.store import AppendResult, NewSubject

_CACHE_KIB = 64 * 1024
_LOOKUP_CHUNK = 5_000  # lookups per IN (...): one query per batch, under SQLite's variable limit
_STORED_HASH = "SELECT content_hash FROM records WHERE provider = ? AND provider_event_id = ?"
_INSERT_PROVIDER = "INSERT INTO providers (id, first_seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
_INSERT_SUBJECT = (
    "INSERT INTO subjects (lookup, kind, scheme, sealed_id, wrapped_key, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (lookup) DO NOTHING"
)
# seq is given: the chain hash covers it, so it is fixed before the row is written.
_INSERT_RECORD = (
    "INSERT INTO records (seq, subject_key, provider, provider_event_id, type, occurred_at, "
    "attributes, evidence, retracts, content_hash, chain_hash, ingested_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {ingested_at}) "
    "ON CONFLICT (provider, provider_event_id) DO NOTHING"
)
_UPDATE_HEAD = "UPDATE chain_head SET seq = ?, chain_hash = ?, records = records + ? WHERE id = 1"


class SQLiteStore(SQLLogStore):
    """A ledger in one SQLite file: WAL, ``synchronous=FULL``, writes in ``BEGIN IMMEDIATE``.

    Writes go through a single connection guarded by a lock; reads use a small
    pool of their own connections, which WAL lets run beside the writer.
    Another process writing the same file waits up to ``busy_timeout`` seconds.

    Raises:
        StoreUnavailable: when the file cannot be opened or is not a SQLite database.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        display = str(self.path)
        if not self.path.parent.is_dir():
            raise StoreUnavailable(
                f"cannot open the ledger {display}: the directory {self.path.parent} does not exist",
                path=display,
                suggestion="create the directory first, or pass another --db path",
            )
        if self.path.is_dir():
            raise StoreUnavailable(
                f"cannot open the ledger {display}: it is a directory",
                path=display,
                suggestion="pass the path of a database file, e.g. credence.db",
            )
        super().__init__(
            self._engine_for(begin="BEGIN", busy_timeout=busy_timeout),
            display=display,
            location=str(self.path),
        )
        self._writer_engine = self._engine_for(begin="BEGIN IMMEDIATE", busy_timeout=busy_timeout)
        self._lock = threading.Lock()
        try:
            with self._errors():
                self._writer: Connection = self._writer_engine.connect()
        except BaseException:
            self._writer_engine.dispose()
            self._engine.dispose()
            raise

    def _engine_for(self, *, begin: str, busy_timeout: float) -> Engine:
        path = str(self.path)

        def connect() -> sqlite3.Connection:
            # isolation_level=None: the driver never begins on its own; the begin hook does.
            return sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )

        engine = create_engine(
            "sqlite+pysqlite://", creator=connect, poolclass=QueuePool, pool_size=4
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            mode = dbapi_connection.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StoreUnavailable(
                    f"cannot put the ledger {path} in WAL mode (got {mode and mode[0]})",
                    path=path,
                    suggestion="put the ledger on a local file system",
                )
            dbapi_connection.execute("PRAGMA synchronous=FULL")
            dbapi_connection.execute("PRAGMA foreign_keys=ON")
            # Freed space is zeroed, so a purged or erased value leaves no copy in the file.
            dbapi_connection.execute("PRAGMA secure_delete=ON")
            dbapi_connection.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            # Bulk appends touch three B-trees of records at random places; keep them cached.
            dbapi_connection.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)

        return engine

    @contextmanager
    def _begin_write(self) -> Iterator[Connection]:
        with self._lock, self._writer.begin():
            yield self._writer

    def _append(
        self,
        conn: Connection,
        subjects: Sequence[NewSubject],
        records: Sequence[EncodedRecord],
        ingested_at: int,
    ) -> AppendResult:
        cursor: sqlite3.Cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        providers = sorted({record[1] for record in records})
        cursor.executemany(_INSERT_PROVIDER, [(p, ingested_at) for p in providers])
        cursor.executemany(
            _INSERT_SUBJECT,
            [
                (s.lookup, s.kind, s.scheme, s.sealed_id, s.wrapped_key, ingested_at)
                for s in subjects
            ],
        )

        def resolve(lookups: list[bytes]) -> Mapping[bytes, int]:
            found: dict[bytes, int] = {}
            for chunk in chunks(lookups, _LOOKUP_CHUNK):
                marks = ",".join("?" * len(chunk))
                query = f"SELECT lookup, subject_key FROM subjects WHERE lookup IN ({marks})"
                found.update(cursor.execute(query, chunk).fetchall())
            return found

        rows, firsts = record_rows(records, resolve)
        if not rows:
            return classify(records, firsts, {})
        # We hold the write lock, so the head cannot move until we commit.
        head = read_head(cursor.execute(HEAD_QUERY).fetchone())
        if head is None:
            raise self._not_initialised("has no chain head (run the 0002 migration)")
        insert = _INSERT_RECORD.format(ingested_at=int(ingested_at))
        chained, tip = chain_rows(
            rows, prev=head.chain_hash, first_seq=head.seq + 1, ingested_at=ingested_at
        )
        cursor.execute("SAVEPOINT credence_append")
        cursor.executemany(insert, chained)
        stored: dict[tuple[str, str], bytes] = {}
        if cursor.rowcount != len(chained):
            # Rare path (a resend): some keys are stored, so the seqs and hashes given are
            # wrong. Undo, find the stored keys (one indexed probe each), chain the rest.
            cursor.execute("ROLLBACK TO credence_append")
            for key in firsts:
                found = cursor.execute(_STORED_HASH, key).fetchone()
                if found is not None:
                    stored[key] = bytes(found[0])
            fresh = [row for row in rows if (row[1], row[2]) not in stored]
            chained, tip = chain_rows(
                fresh, prev=head.chain_hash, first_seq=head.seq + 1, ingested_at=ingested_at
            )
            cursor.executemany(insert, chained)
        cursor.execute("RELEASE credence_append")
        if chained:
            cursor.execute(_UPDATE_HEAD, (head.seq + len(chained), tip, len(chained)))
        result = classify(records, firsts, stored)
        drop_unused_subjects(cursor, "?", subjects, records, result, ingested_at)
        return result

    def _after_shred(self) -> None:
        """Fold the WAL into the database file and truncate it, so no old page survives there.

        Inside a unit of work this waits for the commit (``_committed``): the
        writer holds the lock until then, and the shredded pages are not yet written.
        """
        if self._joined() is not None:
            self._local.shred = True
            return
        with self._lock:
            raw: Any = self._writer.connection.driver_connection
            for _ in range(50):
                busy, _log, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    return
                time.sleep(0.1)
        raise StoreConflict(
            f"the ledger {self._display} is busy: its WAL could not be truncated after erasing",
            path=self._display,
            suggestion="stop other readers and run the command again",
        )

    def _committed(self) -> None:
        if getattr(self._local, "shred", False):
            self._local.shred = False
            self._after_shred()

    def backup(self, out: Path) -> None:
        """A consistent, compacted copy by ``VACUUM INTO`` (no free pages, no WAL)."""
        if out.exists():
            raise UsageError(f"{out} exists already", suggestion="choose a new file for the backup")
        with self._read() as conn:
            raw: Any = conn.connection.driver_connection
            raw.execute("VACUUM INTO ?", (str(out),))

    def _translate(self, error: BaseException) -> CredenceError:
        orig = error.orig if isinstance(error, DBAPIError) else error
        where = self._display
        text = str(orig)
        if isinstance(orig, sqlite3.OperationalError):
            if "no such table" in text:
                return self._not_initialised("has no Credence schema")
            if "locked" in text or "busy" in text:
                return StoreConflict(
                    f"the ledger {where} is busy: another process held its write lock too long",
                    path=where,
                    suggestion="retry; if it persists, look for a stuck credence process",
                )
            if "unable to open" in text:
                return StoreUnavailable(
                    f"cannot open the ledger {where}: {text}",
                    path=where,
                    suggestion="check that the file and its directory are writable",
                )
        if isinstance(orig, sqlite3.DatabaseError) and (
            "not a database" in text or "malformed" in text or "encrypted" in text
        ):
            return StoreUnavailable(
                f"{where} is not a Credence ledger: {text}",
                path=where,
                suggestion="pass the path of a ledger created by `credence init`",
            )
        if isinstance(orig, OSError):
            return StoreUnavailable(f"cannot open the ledger {where}: {orig}", path=where)
        return StoreError(f"the ledger {where} failed: {text}", path=where)

    def close(self) -> None:
        """Close the writer and every reader; WAL is checkpointed as the last one closes."""
        with self._lock:
            self._writer.close()
        self._writer_engine.dispose()
        super().close()
