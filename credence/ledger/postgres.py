"""The server ledger: PostgreSQL through psycopg 3, bulk appends by COPY.

An append first locks the one row of ``chain_head``, so appends are
serialised and the hash chain has one order. It then COPYs the batch's keys
into a session temp table to find the ones already stored, chains the new
records in Python (seq and chain hash), COPYs them and inserts them with
``INSERT … SELECT``. Idempotency is still the unique key in the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from credence.errors import CredenceError, StoreConflict, StoreError, StoreUnavailable
from credence.ledger import schema as t
from credence.ledger.chain import chain_rows, read_head
from credence.ledger.sql import (
    SQLStore,
    classify,
    record_rows,
)
from credence.ledger.store import AppendResult, NewRecord, NewSubject

_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_RETRIES = 3
_MIGRATION_LOCK = 0x63726564  # "cred": one advisory lock so two `credence init` runs queue up

# Session-scoped staging tables, created once per connection; emptied at every commit.
_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS credence_new_subjects (
    lookup bytea, kind text, scheme text, sealed_id bytea, wrapped_key bytea
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS credence_lookups (lookup bytea) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS credence_chained (
    seq bigint, subject_key bigint, provider text, provider_event_id text, type text,
    occurred_at bigint, attributes text, evidence text, retracts text, content_hash bytea,
    chain_hash bytea
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS credence_keys (
    provider text, provider_event_id text
) ON COMMIT DELETE ROWS;
"""
_LOCK_HEAD = "SELECT seq, chain_hash, records FROM chain_head WHERE id = 1 FOR UPDATE"
_UPDATE_HEAD = (
    "UPDATE chain_head SET seq = %s, chain_hash = %s, records = records + %s WHERE id = 1"
)
_COPY_KEYS = "COPY credence_keys (provider, provider_event_id) FROM STDIN (FORMAT BINARY)"
_STORED = (
    "SELECT k.provider, k.provider_event_id, r.content_hash FROM credence_keys k "
    "JOIN records r ON r.provider = k.provider AND r.provider_event_id = k.provider_event_id"
)
_INSERT_PROVIDERS = (
    "INSERT INTO providers (id, first_seen_at) SELECT p, %s FROM unnest(%s::text[]) AS p "
    "ORDER BY p ON CONFLICT DO NOTHING"
)
_COPY_SUBJECTS = (
    "COPY credence_new_subjects (lookup, kind, scheme, sealed_id, wrapped_key) "
    "FROM STDIN (FORMAT BINARY)"
)
_INSERT_SUBJECTS = (
    "INSERT INTO subjects (lookup, kind, scheme, sealed_id, wrapped_key, created_at) "
    "SELECT lookup, kind, scheme, sealed_id, wrapped_key, %s FROM credence_new_subjects "
    "ORDER BY lookup ON CONFLICT (lookup) DO NOTHING"
)
_COPY_RECORDS = (
    "COPY credence_chained (seq, subject_key, provider, provider_event_id, type, occurred_at, "
    "attributes, evidence, retracts, content_hash, chain_hash) FROM STDIN (FORMAT BINARY)"
)
_COPY_LOOKUPS = "COPY credence_lookups (lookup) FROM STDIN (FORMAT BINARY)"
_SUBJECT_KEYS = (
    "SELECT s.lookup, s.subject_key FROM credence_lookups l JOIN subjects s USING (lookup)"
)
# Binary COPY skips text escaping of bytea; each column's type must then be named.
_SUBJECT_TYPES = ["bytea", "text", "text", "bytea", "bytea"]
_RECORD_TYPES = [
    "int8",
    "int8",
    "text",
    "text",
    "text",
    "int8",
    "text",
    "text",
    "text",
    "bytea",
    "bytea",
]
# Every appender holds the chain-head lock, so no other writer can insert these keys meanwhile.
_INSERT_RECORDS = """
INSERT INTO records (seq, subject_key, provider, provider_event_id, type, occurred_at,
                     attributes, evidence, retracts, content_hash, chain_hash, ingested_at)
SELECT seq, subject_key, provider, provider_event_id, type, occurred_at,
       attributes, evidence, retracts, content_hash, chain_hash, %s
FROM credence_chained
"""

_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "could not translate host name",
    "timeout expired",
    "no route to host",
    "network is unreachable",
    "name or service not known",
    "no such file or directory",
)


class PostgresStore(SQLStore):
    """A ledger in a PostgreSQL database (``postgresql://user@host:port/db``).

    Raises:
        StoreUnavailable: when the URL is not a PostgreSQL URL, or the server
            cannot be reached, refuses the login, or has no such database.
    """

    def __init__(self, url: str, *, pool_size: int = 5, connect_timeout: int = 10) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            # The message would repeat the URL, password and all.
            raise StoreUnavailable(
                "the ledger address is not a valid URL",
                suggestion="write it as postgresql://user:password@host:5432/database",
            ) from None
        if parsed.drivername not in _SCHEMES:
            raise StoreUnavailable(
                f"the ledger address uses {parsed.drivername}://, not postgresql://",
                suggestion="write it as postgresql://user:password@host:5432/database",
            )
        parsed = parsed.set(drivername="postgresql+psycopg")
        host = parsed.host or str(parsed.query.get("host") or "localhost")
        self._where = f"{host}:{parsed.port or 5432}"
        self._database = parsed.database or parsed.username or "postgres"
        self._user = parsed.username or "(default user)"
        self._password = parsed.password
        engine = create_engine(
            parsed,
            pool_size=pool_size,
            pool_pre_ping=True,
            connect_args={"connect_timeout": connect_timeout},
        )

        @event.listens_for(engine, "connect")
        def _staging(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute(_STAGING)
            dbapi_connection.commit()

        display = parsed.set(drivername="postgresql").render_as_string(hide_password=True)
        super().__init__(engine, display=display)
        try:
            with self._read() as conn:
                conn.execute(text("SELECT 1"))
        except BaseException:
            engine.dispose()
            raise

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            transaction = conn.begin()
            try:
                yield conn
            except BaseException:
                # A connection lost inside raw COPY work is unknown to SQLAlchemy: drop it
                # from the pool here rather than rolling back on a dead socket.
                raw = None if conn.invalidated else conn.connection.driver_connection
                if raw is not None and (raw.broken or raw.closed):
                    conn.invalidate()
                elif transaction.is_active:
                    transaction.rollback()
                raise
            transaction.commit()

    def _snapshot(self, conn: Connection) -> Connection:
        return conn.execution_options(isolation_level="REPEATABLE READ")

    def _cursor(self, raw: Any) -> Any:
        cursor = raw.cursor(name="credence_verify")
        cursor.itersize = 5_000
        return cursor

    def backup(self, out: Path) -> None:
        raise StoreError(
            f"credence backup is not supported for PostgreSQL ({self._display})",
            code="backup.unsupported",
            suggestion=f"use pg_dump --format=custom --file={out} on the database",
        )

    def _lock_for_migration(self, conn: Connection) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})

    def _upsert_meta(self, conn: Connection, key: str, value: str) -> None:
        statement = pg_insert(t.meta).values(key=key, value=value)
        conn.execute(
            statement.on_conflict_do_update(index_elements=[t.meta.c.key], set_={"value": value})
        )

    def append(
        self,
        subjects: Sequence[NewSubject],
        records: Sequence[NewRecord],
        *,
        ingested_at: int,
    ) -> AppendResult:
        """Create missing subjects and append records, in one transaction.

        A transaction the server aborts as a deadlock or serialisation failure
        is retried, since it left nothing behind.

        Raises:
            ValueError: when a record names a subject that is neither stored nor new.
            StoreConflict: when it still conflicts after retries.
        """
        for attempt in range(_RETRIES):
            try:
                return super().append(subjects, records, ingested_at=ingested_at)
            except StoreConflict:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _append(
        self,
        conn: Connection,
        subjects: Sequence[NewSubject],
        records: Sequence[NewRecord],
        ingested_at: int,
    ) -> AppendResult:
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cursor:
            # Taken first, so appenders queue here and never deadlock on subjects or keys.
            cursor.execute(_LOCK_HEAD)
            head = read_head(cursor.fetchone())
            if head is None:
                raise self._not_initialised("has no chain head (run the 0002 migration)")
            providers = sorted({new.record.provider for new in records})
            if providers:
                cursor.execute(_INSERT_PROVIDERS, (ingested_at, providers))
            if subjects:
                with cursor.copy(_COPY_SUBJECTS) as copy:
                    copy.set_types(_SUBJECT_TYPES)
                    for s in subjects:
                        copy.write_row((s.lookup, s.kind, s.scheme, s.sealed_id, s.wrapped_key))
                cursor.execute(_INSERT_SUBJECTS, (ingested_at,))

            def resolve(lookups: list[bytes]) -> Mapping[bytes, int]:
                with cursor.copy(_COPY_LOOKUPS) as copy:
                    copy.set_types(["bytea"])
                    for lookup in lookups:
                        copy.write_row((lookup,))
                cursor.execute(_SUBJECT_KEYS)
                return {bytes(lookup): key for lookup, key in cursor.fetchall()}

            if not records:
                return AppendResult()
            rows, firsts = record_rows(records, resolve)
            with cursor.copy(_COPY_KEYS) as copy:
                copy.set_types(["text", "text"])
                for key in firsts:
                    copy.write_row(key)
            cursor.execute(_STORED)
            stored: dict[tuple[str, str], bytes] = {
                (provider, event_id): bytes(digest)
                for provider, event_id, digest in cursor.fetchall()
            }
            if stored:
                rows = [row for row in rows if (row[1], row[2]) not in stored]
            if rows:
                chained, tip = chain_rows(
                    rows, prev=head.chain_hash, first_seq=head.seq + 1, ingested_at=ingested_at
                )
                with cursor.copy(_COPY_RECORDS) as copy:
                    copy.set_types(_RECORD_TYPES)
                    for row in chained:
                        copy.write_row(row)
                cursor.execute(_INSERT_RECORDS, (ingested_at,))
                cursor.execute(_UPDATE_HEAD, (head.seq + len(chained), tip, len(chained)))
            return classify(records, firsts, stored)

    # --- errors --------------------------------------------------------------
    def _scrub(self, message: str) -> str:
        if self._password:
            message = message.replace(self._password, "***")
        return message.strip().splitlines()[0] if message.strip() else message

    def _translate(self, error: BaseException) -> CredenceError:
        orig = error.orig if isinstance(error, DBAPIError) else error
        state = getattr(orig, "sqlstate", None) or ""
        detail = self._scrub(str(orig))
        lowered = str(orig).lower()
        where = self._where
        if state in ("28P01", "28000") or "authentication failed" in lowered:
            return StoreUnavailable(
                f"PostgreSQL at {where} refused the login of user {self._user}: {detail}",
                suggestion="check the user and password in the URL (or PGPASSWORD / ~/.pgpass)",
            )
        if state == "3D000" or ("database" in lowered and "does not exist" in lowered):
            return StoreUnavailable(
                f'the database "{self._database}" does not exist on PostgreSQL at {where}',
                suggestion=f"create it (e.g. `createdb {self._database}`), then run "
                f"`credence init --db {self._display}`",
            )
        if state == "42P01" or state == "3F000":
            return self._not_initialised("has no Credence schema")
        if state in ("40P01", "40001", "55P03"):
            return StoreConflict(
                f"PostgreSQL at {where} aborted the write because another writer "
                f"conflicted with it: {detail}",
                suggestion="retry; the aborted write left nothing behind",
            )
        if isinstance(orig, PoolTimeout):
            return StoreUnavailable(
                f"every connection to PostgreSQL at {where} is busy",
                suggestion="retry, or raise the pool size",
            )
        if _is_operational(orig):
            if any(marker in lowered for marker in _UNREACHABLE):
                return StoreUnavailable(
                    f"cannot reach PostgreSQL at {where}: {detail}",
                    suggestion="check that the server is running and the host and port are right",
                )
            return StoreUnavailable(
                f"lost the connection to PostgreSQL at {where}: {detail}",
                suggestion="retry; an interrupted write leaves nothing behind",
            )
        return StoreError(f"PostgreSQL at {where} failed: {detail}")


def _is_operational(error: BaseException | None) -> bool:
    import psycopg

    return isinstance(error, psycopg.OperationalError)
