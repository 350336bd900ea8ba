"""The server ledger: PostgreSQL through psycopg 3, bulk appends by binary COPY.

An append first locks the one row of ``chain_head``, so appends are
serialised and the hash chain has one order; every Credence writer takes it
before it reads a key. It then finds the batch's subjects with one query,
COPYs the new ones under keys drawn from their sequence, probes a sample of
the batch's record keys and, when none is stored, COPYs the records straight
into ``records`` (chained in Python as they stream) inside a savepoint, so
the unique key finds any stored one; otherwise, or when it does, it looks
every key up with one query and COPYs only the new records. Idempotency is
the unique key in the database: a row that a writer skipping the lock slips
in is refused, and the batch is retried. See docs/postgres.md.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from credence.errors import CredenceError, StoreConflict, StoreError, StoreUnavailable
from credence.ledger import schema as t
from credence.ledger.chain import Head, chain_rows, read_head
from credence.ledger.sql import (
    EncodedRecord,
    Key,
    RecordRow,
    chunks,
    classify,
    drop_unused_subjects,
    record_rows,
)
from credence.ledger.sql_redress import SQLRedressStore
from credence.ledger.store import AppendResult, NewSubject, SubjectRow

_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_RETRIES = 3
_KEY_PAIR = struct.Struct(">iq")  # as packed by _STORED_SUBJECTS
_HASH_PAIR = struct.Struct(">i32s")  # as packed by _STORED_RECORDS: content hashes are sha256
_SAMPLE = 16  # keys probed before guessing that a batch holds only new records
_RECORD_KEY = "uq_records_provider_provider_event_id"
_SLICE = 1_000  # records chained per step of the COPY
_MIGRATION_LOCK = 0x63726564  # "cred": one advisory lock so two `credence init` runs queue up

_LOCK_HEAD = "SELECT seq, chain_hash, records FROM chain_head WHERE id = 1 FOR UPDATE"
_UPDATE_HEAD = (
    "UPDATE chain_head SET seq = %s, chain_hash = %s, records = records + %s WHERE id = 1"
)
_INSERT_PROVIDERS = (
    "INSERT INTO providers (id, first_seen_at) SELECT p, %s FROM unnest(%s::text[]) AS p "
    "ORDER BY p ON CONFLICT DO NOTHING"
)
# Both look-ups probe the unique index once per key, whatever the statistics say: the
# LIMIT keeps the planner from turning them into a hash join that reads the whole table
# for every batch. Each answers with one bytea of packed (1-based position, value) pairs
# for the keys found, which Python unpacks in C instead of building a row per key.
_STORED_SUBJECTS = (
    "SELECT string_agg(int4send(k.i::int4) || int8send(s.subject_key), ''::bytea) "
    "FROM unnest(%b::bytea[]) WITH ORDINALITY AS k(lookup, i) CROSS JOIN LATERAL "
    "(SELECT subject_key FROM subjects WHERE lookup = k.lookup LIMIT 1) AS s"
)
_STORED_RECORDS = (
    "SELECT string_agg(int4send(k.i::int4) || r.content_hash, ''::bytea) "
    "FROM unnest(%b::text[], %b::text[]) WITH ORDINALITY AS k(p, e, i) CROSS JOIN LATERAL "
    "(SELECT content_hash FROM records WHERE provider = k.p AND provider_event_id = k.e "
    "LIMIT 1) AS r"
)
_FIND_SUBJECTS = (
    "SELECT s.* FROM unnest(%b::bytea[]) AS k(lookup) CROSS JOIN LATERAL "
    "(SELECT subject_key, lookup, kind, scheme, sealed_id, wrapped_key, created_at "
    "FROM subjects WHERE lookup = k.lookup LIMIT 1) AS s"
)
# Keys for new subjects, from the column's own sequence (BIGSERIAL) in one round trip.
_RESERVE_KEYS = "SELECT nextval('subjects_subject_key_seq') FROM generate_series(1, %s)"
_COPY_SUBJECTS = (
    "COPY subjects (subject_key, lookup, kind, scheme, sealed_id, wrapped_key, created_at) "
    "FROM STDIN (FORMAT BINARY)"
)
_COPY_RECORDS = (
    "COPY records (seq, subject_key, provider, provider_event_id, type, occurred_at, "
    "attributes, evidence, retracts, content_hash, chain_hash, ingested_at) "
    "FROM STDIN (FORMAT BINARY)"
)
# Binary COPY skips text escaping of bytea; each column's type must then be named.
_SUBJECT_TYPES = ["int8", "bytea", "text", "text", "bytea", "bytea", "int8"]
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
    "int8",
]

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


# A login the server refused: the URL or server configuration is wrong, retrying cannot help.
_REFUSED_LOGIN = (
    "authentication failed",
    "no pg_hba.conf entry",
    "role ",  # 'role "x" does not exist', 'role "x" is not permitted to log in'
    "password authentication",
    "peer authentication",
    "no password supplied",
)


_PING_AFTER_IDLE = 1.0  # seconds in the pool after which a connection is checked before use


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use when it sat idle, not at every checkout.

    ``pool_pre_ping`` costs a round trip per checkout, one in every four of a
    key check's. A connection back in the pool within the last second was
    working then; one idle longer may have been closed by a server restart or
    an idle timeout, and is pinged, and replaced if the ping fails.
    """

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info["returned"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get("returned")
        if returned is not None and time.monotonic() - returned < _PING_AFTER_IDLE:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except psycopg.Error as e:
            raise DisconnectionError(str(e)) from e
        if not alive:
            raise DisconnectionError("the pooled PostgreSQL connection is gone")


class PostgresStore(SQLRedressStore):
    """A ledger in a PostgreSQL database (``postgresql://user@host:port/db``).

    Raises:
        StoreUnavailable: when the URL is not a PostgreSQL URL, or the server
            cannot be reached, refuses the login, or has no such database.
    """

    _MARK = "%s"
    in_process = False

    def __init__(
        self, url: str, *, pool_size: int = 16, max_overflow: int = 24, connect_timeout: int = 10
    ) -> None:
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
            # Kept open for the HTTP service's threads (40 by default): a connection made
            # past the pool is closed again on return, and reconnecting every request cost
            # more than the request (bench/results/api-2026-12-02.md).
            pool_size=pool_size,
            max_overflow=max_overflow,
            connect_args={"connect_timeout": connect_timeout},
        )
        _ping_when_idle(engine)

        display = parsed.set(drivername="postgresql").render_as_string(hide_password=True)
        super().__init__(engine, display=display, location=url)
        # One statement needs no transaction around it: in autocommit it is one round
        # trip, not three (BEGIN, the query, and the ROLLBACK of the connection's return).
        self._statement_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        try:
            with self._read() as conn:
                conn.execute(text("SELECT 1"))
        except BaseException:
            engine.dispose()
            raise

    @contextmanager
    def _begin_write(self) -> Iterator[Connection]:
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
            try:
                self._before_commit()
            except BaseException:
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

    def append_encoded(
        self,
        subjects: Sequence[NewSubject],
        records: Sequence[EncodedRecord],
        *,
        ingested_at: int,
    ) -> AppendResult:
        """Create missing subjects and append encoded records, in one transaction.

        A transaction the server aborts as a deadlock or serialisation failure
        is retried, since it left nothing behind.

        Raises:
            ValueError: when a record names a subject that is neither stored nor new.
            StoreConflict: when it still conflicts after retries.
        """
        if self._joined() is not None:  # an aborted unit of work cannot be retried here
            return super().append_encoded(subjects, records, ingested_at=ingested_at)
        for attempt in range(_RETRIES):
            try:
                return super().append_encoded(subjects, records, ingested_at=ingested_at)
            except StoreConflict:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def find_subjects(self, lookups: Collection[bytes]) -> dict[bytes, SubjectRow]:
        """The stored subjects among these lookup hashes, in one query of index probes."""
        wanted = list(dict.fromkeys(lookups))
        if not wanted:
            return {}
        with self._read() as conn:
            raw: Any = conn.connection.driver_connection
            with raw.cursor(binary=True) as cursor:
                cursor.execute(_FIND_SUBJECTS, (wanted,))
                found = [SubjectRow(*row) for row in cursor.fetchall()]
        return {subject.lookup: subject for subject in found}

    def _append(
        self,
        conn: Connection,
        subjects: Sequence[NewSubject],
        records: Sequence[EncodedRecord],
        ingested_at: int,
    ) -> AppendResult:
        raw: Any = conn.connection.driver_connection
        with raw.cursor(binary=True) as cursor:
            # Taken first, so appenders queue here: what they read next cannot change under them.
            cursor.execute(_LOCK_HEAD)
            head = read_head(cursor.fetchone())
            if head is None:
                raise self._not_initialised("has no chain head (run the 0002 migration)")
            providers = sorted({record[1] for record in records})
            if providers:
                cursor.execute(_INSERT_PROVIDERS, (ingested_at, providers))

            def resolve(lookups: list[bytes]) -> Mapping[bytes, int]:
                return self._subject_keys(cursor, subjects, lookups, ingested_at)

            if not records:
                resolve([])
                return AppendResult()
            rows, firsts = record_rows(records, resolve)
            keys = list(firsts)
            sample = _sample(keys)
            stored = self._stored(cursor, sample)
            tip = None
            if not stored and len(sample) < len(keys):
                # Most batches are new records: let the unique key, which the COPY checks
                # anyway, find the stored ones rather than probing it once more per key.
                tip = self._copy_if_all_new(cursor, rows, head=head, ingested_at=ingested_at)
            if tip is None:
                if len(sample) < len(keys):
                    stored = self._stored(cursor, keys)
                if stored:
                    rows = [row for row in rows if (row[1], row[2]) not in stored]
                if rows:
                    tip = self._copy_records(cursor, rows, head=head, ingested_at=ingested_at)
            if tip is not None:
                cursor.execute(_UPDATE_HEAD, (head.seq + len(rows), tip, len(rows)))
            result = classify(records, firsts, stored)
            drop_unused_subjects(cursor, "%s", subjects, records, result, ingested_at)
            return result

    def _copy_if_all_new(
        self, cursor: Any, rows: Sequence[RecordRow], *, head: Head, ingested_at: int
    ) -> bytes | None:
        """COPY ``rows`` on the guess that none is stored; None, having written nothing,
        when the unique key says one is.

        A wrong guess costs the rows sent before the stored one (dead tuples for VACUUM);
        the probe of a sample of keys before it catches whole resends.
        """
        cursor.execute("SAVEPOINT credence_append")
        try:
            tip = self._copy_records(cursor, rows, head=head, ingested_at=ingested_at)
        except psycopg.errors.UniqueViolation as e:
            if e.diag.constraint_name != _RECORD_KEY:
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT credence_append")
            return None
        cursor.execute("RELEASE SAVEPOINT credence_append")
        return tip

    def _copy_records(
        self, cursor: Any, rows: Sequence[RecordRow], *, head: Head, ingested_at: int
    ) -> bytes:
        """COPY ``rows`` into ``records``, chained after ``head``; returns the new tip.

        Straight into the table: the unique key still refuses a row another writer
        stored meanwhile, which can only be one that skipped the chain-head lock. The
        chain is computed a slice at a time inside the COPY, so the server inserts one
        slice while the next is hashed.
        """
        tip, seq = head.chain_hash, head.seq + 1
        with cursor.copy(_COPY_RECORDS) as copy:
            copy.set_types(_RECORD_TYPES)
            write = copy.write_row
            for chunk in chunks(rows, _SLICE):
                chained, tip = chain_rows(chunk, prev=tip, first_seq=seq, ingested_at=ingested_at)
                seq += len(chained)
                for row in chained:
                    write((*row, ingested_at))
        return tip

    def _subject_keys(
        self,
        cursor: Any,
        subjects: Sequence[NewSubject],
        lookups: list[bytes],
        created_at: int,
    ) -> dict[bytes, int]:
        """Keys of ``lookups`` and of ``subjects``, creating the subjects not yet stored."""
        wanted = list(dict.fromkeys([*lookups, *(s.lookup for s in subjects)]))
        if not wanted:
            return {}
        cursor.execute(_STORED_SUBJECTS, (wanted,))
        (packed,) = cursor.fetchone()
        keys = {wanted[i - 1]: key for i, key in _KEY_PAIR.iter_unpack(packed or b"")}
        new: dict[bytes, NewSubject] = {}
        for s in subjects:
            if s.lookup not in keys:
                new.setdefault(s.lookup, s)
        if new:
            keys.update(self._create_subjects(cursor, list(new.values()), created_at=created_at))
        return keys

    def _create_subjects(
        self, cursor: Any, new: Sequence[NewSubject], *, created_at: int
    ) -> dict[bytes, int]:
        """COPY subjects not stored yet, under keys drawn from the column's sequence.

        The unique lookup refuses one another writer stored meanwhile, which can only
        be one that skipped the chain-head lock.
        """
        cursor.execute(_RESERVE_KEYS, (len(new),))
        reserved = [key for (key,) in cursor.fetchall()]
        with cursor.copy(_COPY_SUBJECTS) as copy:
            copy.set_types(_SUBJECT_TYPES)
            for key, s in zip(reserved, new, strict=True):
                copy.write_row(
                    (key, s.lookup, s.kind, s.scheme, s.sealed_id, s.wrapped_key, created_at)
                )
        return {s.lookup: key for key, s in zip(reserved, new, strict=True)}

    def _stored(self, cursor: Any, keys: list[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
        """The content hash already stored for each of these record keys that is stored."""
        cursor.execute(_STORED_RECORDS, ([p for p, _ in keys], [e for _, e in keys]))
        (packed,) = cursor.fetchone()
        return {keys[i - 1]: digest for i, digest in _HASH_PAIR.iter_unpack(packed or b"")}

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
        connecting = _is_operational(orig)
        if state in ("28P01", "28000") or (
            connecting and any(marker in lowered for marker in _REFUSED_LOGIN)
        ):
            return StoreUnavailable(
                f"PostgreSQL at {where} refused the login of user {self._user}: {detail}",
                suggestion="check the user and password in the URL (or PGPASSWORD / ~/.pgpass)",
            )
        if state == "3D000" or ("database" in lowered and "does not exist" in lowered):
            return StoreUnavailable(
                f'the database "{self._database}" does not exist on PostgreSQL at {where}',
                suggestion=f"create it (e.g. `createdb {self._database}`), then run "
                f"`credence init --db {self._display} --policy FILE`",
            )
        if state == "42P01" or state == "3F000":
            return self._not_initialised("has no Credence schema")
        if state == "23505":
            return StoreConflict(
                f"PostgreSQL at {where} refused a row another writer stored at the same "
                f"time: {detail}",
                suggestion="retry; the aborted write left nothing behind",
            )
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
        if connecting and "ssl" in lowered:
            return StoreUnavailable(
                f"cannot connect to PostgreSQL at {where} with these SSL settings: {detail}",
                suggestion="check sslmode in the URL (disable, allow, prefer, require, "
                "verify-ca or verify-full) against the server's SSL setup",
            )
        if "invalid connection option" in lowered or "invalid dsn" in lowered:
            return StoreUnavailable(
                f"the ledger address for PostgreSQL at {where} is not valid: {detail}",
                suggestion="write it as postgresql://user:password@host:5432/database"
                "[?sslmode=...]",
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


def _sample(keys: list[Key]) -> list[Key]:
    """All of ``keys`` if there are few, else ``_SAMPLE`` of them spread evenly, ends included."""
    if len(keys) <= _SAMPLE:
        return keys
    last = len(keys) - 1
    return [keys[i * last // (_SAMPLE - 1)] for i in range(_SAMPLE)]


def _is_operational(error: BaseException | None) -> bool:
    return isinstance(error, psycopg.OperationalError)
