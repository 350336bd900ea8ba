"""The embedded ledger: one SQLite file in WAL mode, one writer connection, many readers."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, RootTransaction
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from credence.errors import (
    CredenceError,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    UsageError,
)
from credence.ledger import schema as t
from credence.ledger.chain import HEAD_QUERY, chain_rows, read_head
from credence.ledger.commits import Later, TurnTaken, on_this_loop, settle
from credence.ledger.sql import (
    EncodedRecord,
    chunks,
    classify,
    drop_unused_subjects,
    record_rows,
)
from credence.ledger.sql_redress import SQLRedressStore
from credence.ledger.store import AppendResult, NewSubject, ShredResidue
from credence.ledger.writer_lock import WriterLock, naps

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
_LIVE_RECORD = (
    "SELECT seq, subject_key FROM records "
    "WHERE provider = ? AND provider_event_id = ? AND purged_at IS NULL"
)
_SHRED_PENDING = "shred_pending"  # meta key: a purge or erasure whose WAL is not truncated yet
_UPDATE_HEAD = "UPDATE chain_head SET seq = ?, chain_hash = ?, records = records + ? WHERE id = 1"


# Group commit (SQLiteStore._begin_write): at most this many units of work share a commit,
# and a group open this long commits when its current unit of work ends, so that a
# steady stream of requests cannot keep the first ones waiting.
_GROUP_MAX = 64
_GROUP_SECONDS = 0.010


class _Group:
    """Units of work that share one write transaction and are committed together."""

    __slots__ = ("done", "error", "members", "most", "transaction", "translate", "until", "waiter_")

    def __init__(
        self,
        transaction: RootTransaction,
        most: int,
        seconds: float,
        translate: Callable[[BaseException], CredenceError],
    ) -> None:
        self.transaction = transaction
        self.most = most
        self.until = time.monotonic() + seconds
        self.members = 0  # units of work that ended cleanly inside it
        self.done = threading.Event()  # set once it is committed (or failed to be)
        self.error: BaseException | None = None
        self.translate = translate
        # What units of work that ended on an event loop (``commit_later``) await.
        self.waiter_: asyncio.Future[None] | None = None

    def full(self) -> bool:
        """Whether it should commit now rather than wait for the next unit of work."""
        return self.members >= self.most or time.monotonic() >= self.until

    # --- commits.Pending ---
    def finished(self) -> bool:
        return self.done.is_set()

    def waiter(self) -> asyncio.Future[None] | None:
        return None if self.done.is_set() else self.waiter_

    def failure(self) -> BaseException | None:
        return None if self.error is None else self.translate(self.error)

    def finish(self) -> None:
        """Wake every member: those blocked in a thread and those awaiting on a loop."""
        self.done.set()
        if self.waiter_ is not None:
            settle(self.waiter_)


def foreign_tables(path: Path) -> list[str]:
    """The tables of an existing SQLite file that is not a Credence ledger; [] for a ledger,
    a missing or empty file, or a database without tables.

    Read through a read-only connection, so asking changes nothing on disk.

    Raises:
        StoreUnavailable: when the file is not a SQLite database at all.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return []
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise StoreUnavailable(
            f"not a Credence ledger: {e}",
            path=str(path),
            suggestion="pass the path of a ledger created by `credence init`, or a new path",
        ) from e
    tables = sorted(name for (name,) in rows)
    if not tables or {"alembic_version", "meta"}.issubset(tables):
        return []
    return tables


class SQLiteStore(SQLRedressStore):
    """A ledger in one SQLite file: WAL, ``synchronous=FULL``, writes in ``BEGIN IMMEDIATE``.

    Writes go through a single connection guarded by a lock; reads use a small
    pool of their own connections, which WAL lets run beside the writer.
    Another process writing the same file waits up to ``busy_timeout`` seconds.

    Raises:
        StoreUnavailable: when the file cannot be opened or is not a SQLite database.
    """

    in_process = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 30.0,
        group_max: int = _GROUP_MAX,
        group_wait: float | None = None,
    ) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        # group_wait: how long a group stays open at most (None: _GROUP_SECONDS; tests
        # give a long one to decide themselves who waits).
        self._group_limits = (group_max, group_wait)
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
        self._lock = threading.Lock()  # held by the unit of work running on the writer
        self._waiting_lock = threading.Lock()
        self._waiting = 0  # threads waiting for the writer: an open group waits for them
        self._group: _Group | None = None
        self.commits = 0  # write transactions committed: units of work / commits is the grouping
        self._turn_idle = False  # the writer's turn is held for a call about to run again
        self._turn_waiter: asyncio.Future[bool] | None = None  # see _await_turn
        self._kept: list[Any] = []  # readers event loops keep (_fetch), closed with the store
        try:
            with self._errors():
                self._writer: Connection = self._writer_engine.connect()
                # Held by this process from a group's BEGIN to its commit: other processes
                # wait for it in the kernel, not in SQLite's sleeping busy handler.
                self._turn = WriterLock(self.path, timeout=busy_timeout)
        except BaseException:
            if getattr(self, "_writer", None) is not None:
                self._writer.close()
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
            # Enough readers for the HTTP service's threads: a connection past the pool is
            # closed on return, and opening one (its pragmas) costs more than a lookup.
            "sqlite+pysqlite://",
            creator=connect,
            poolclass=QueuePool,
            pool_size=16,
            max_overflow=32,
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
        """A unit of work on the writer, committed in a group with its concurrent peers.

        Group commit: a commit in ``synchronous=FULL`` waits for an fsync, which costs
        more than a whole decision's reads and writes. Units of work still run one at
        a time on the one writer connection, each inside a savepoint of a shared write
        transaction; when one ends and another thread is already waiting for the
        writer, the transaction is left open for it, and it is committed once nobody
        is waiting, ``_GROUP_MAX`` units of work have joined it, or it has been open
        for ``_GROUP_SECONDS``. Every unit of work returns only after the commit that
        holds it is durable, and raises if that commit fails, so each caller sees
        exactly what it would see from a commit of its own. A unit of work that
        raises rolls back to its savepoint: its own writes go, its peers' stay.

        Inside ``commit_later()`` (a server's event loop) a unit of work that ends
        cleanly leaves the group open and returns at once; the group commits when
        the loop has run the requests ready now, and the caller awaits that commit
        through its ``Later`` before it answers.
        """
        later: Later | None = getattr(self._local, "later", None)
        with self._waiting_lock:
            self._waiting += 1
        self._lock.acquire()
        try:
            with self._waiting_lock:
                self._waiting -= 1
            group = self._group
            if group is None:
                most, wait = self._group_limits
                if wait is None:
                    # Long enough for the units of work queued now to join; short
                    # enough that a steady stream does not hold the first ones back.
                    wait = _GROUP_SECONDS
                group = self._group = _Group(self._begin_group(later), most, wait, self._translate)
            # The savepoint is written straight to the driver: through SQLAlchemy's
            # begin_nested() it cost a tenth of a decision.
            raw: Any = self._writer.connection.driver_connection
            raw.execute("SAVEPOINT credence_unit")
            joined = False
            try:
                yield self._writer
                self._before_commit()
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK TO credence_unit")
                    raw.execute("RELEASE credence_unit")
                raise
            else:
                raw.execute("RELEASE credence_unit")
                group.members += 1
                joined = True
            finally:
                if group.full() or (later is None and not self._waiting):
                    self._close_group()
                elif later is not None and group.waiter_ is None:
                    group.waiter_ = on_this_loop(lambda: self._flush(group))
        finally:
            self._lock.release()
        if not joined:
            return
        if later is not None:
            later.joined(group)
            return
        group.done.wait()
        failure = group.failure()
        if failure is not None:  # each member raises its own error, same cause
            raise failure from group.error

    @contextmanager
    def commit_later(self) -> Iterator[Later]:
        """This thread's units of work inside the block leave their commit for later.

        Only on a running event loop: the commit runs on it (``credence.ledger.commits``).
        """
        later = Later()
        outer = getattr(self._local, "later", None)
        self._local.later = later
        try:
            yield later
        finally:
            self._local.later = outer
            if self._turn_idle:  # taken for this call (_await_turn), which did not write
                self._release_idle_turn()

    def _flush(self, group: _Group) -> None:
        """Commit ``group`` if it is still open (a thread or a full group may have done it)."""
        with self._lock:
            if self._group is group:
                self._close_group()

    def _fetch(self, statement: str, params: Sequence[Any]) -> list[Any]:
        """As the base; and a single read on the event loop's thread (``commit_later``)
        runs on a connection that thread keeps, not one checked out of the pool and back
        for each statement (three times the statement's own cost for a key lookup)."""
        later: Later | None = getattr(self._local, "later", None)
        if later is None or self._joined() is not None or later.open_writes():
            return super()._fetch(statement, params)
        reader = getattr(self._local, "reader", None)
        if reader is None:
            with self._errors():
                reader = self._local.reader = self._engine.raw_connection()
            with self._waiting_lock:
                self._kept.append(reader)
        driver: Any = reader.driver_connection
        try:
            return list(driver.execute(statement, params).fetchall())
        except sqlite3.Error as e:
            raise self._translate(e) from e

    @contextmanager
    def _read(self, engine: Engine | None = None) -> Iterator[Connection]:
        """As the base, and: a read after this thread's own writes that are not committed
        yet (``commit_later``) runs on the writer, where it sees them."""
        later: Later | None = getattr(self._local, "later", None)
        if later is not None and self._joined() is None and later.open_writes():
            with self._errors(), self._begin_write() as conn:
                yield conn
            return
        with super()._read(engine) as conn:
            yield conn

    def _begin_group(self, later: Later | None) -> RootTransaction:
        """The write transaction of a new group, once this process has the writer's turn.

        On an event loop (``later``), a call that has written nothing yet does not wait
        for another process's turn here, which would stop the loop: it is sent back to
        wait for it with ``TurnTaken``. One that has written goes on waiting here, as a
        thread does: its writes cannot be run again.

        Raises:
            TurnTaken: as above.
            StoreConflict: when another process held the turn for ``busy_timeout``.
        """
        if self._turn_idle:  # taken by _await_turn for the call now running
            self._turn_idle = False
        elif later is not None and not later.wrote():
            if not self._turn.try_acquire():
                raise TurnTaken(self._await_turn)
        elif not self._turn.acquire():
            raise self._busy()
        try:
            return self._writer.begin()
        except BaseException:
            self._turn.release()
            raise

    async def _await_turn(self) -> None:
        """Wait, letting the loop run, until this process has the writer's turn.

        One thread waits for it on behalf of every request on this loop (polling
        tasks would wake the loop hundreds of times a millisecond between them). The
        turn is then held for the calls about to run again; ``commit_later`` gives it
        back if the call it ran opened no group after all.

        Raises:
            StoreConflict: when another process held it for ``busy_timeout``.
        """
        waiter = self._turn_waiter
        if waiter is None:
            waiter = asyncio.get_running_loop().run_in_executor(None, self._take_turn)
            self._turn_waiter = waiter
            waiter.add_done_callback(self._turn_waited)
        if not await asyncio.shield(waiter):
            raise self._busy()

    def _take_turn(self) -> bool:
        """On a helper thread: poll for the turn; False after ``busy_timeout``."""
        deadline = time.monotonic() + self._busy_timeout
        for nap in naps():
            with self._lock:
                if self._group is not None or self._turn_idle:
                    return True  # this process has it already: the calls join
                if self._turn.try_acquire():
                    self._turn_idle = True
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(nap)
        raise AssertionError("unreachable")  # pragma: no cover

    def _turn_waited(self, _waiter: asyncio.Future[bool]) -> None:
        self._turn_waiter = None

    def _release_idle_turn(self) -> None:
        with self._lock:
            if self._turn_idle and self._group is None:
                self._turn_idle = False
                self._turn.release()

    def _busy(self) -> StoreConflict:
        return StoreConflict(
            f"the ledger {self._display} is busy: another process held its write lock too long",
            path=self._display,
            suggestion="retry; if it persists, look for a stuck credence process",
        )

    def _close_group(self) -> None:
        """Commit the open group (with the writer lock held) and wake its members."""
        group, self._group = self._group, None
        if group is None:
            return
        raw: Any = self._writer.connection.driver_connection
        try:
            if group.members:
                if not raw.in_transaction:  # SQLite rolled it all back after an error
                    raise StoreError(
                        f"the ledger {self._display} lost a write transaction before its commit",
                        path=self._display,
                        suggestion="retry",
                    )
                group.transaction.commit()
                self.commits += 1
            else:
                group.transaction.rollback()
        except BaseException as e:
            group.error = e
            group.transaction.rollback()
            if raw.in_transaction:  # a failed COMMIT leaves SQLite's transaction open
                raw.execute("ROLLBACK")
        finally:
            self._turn.release()
            group.finish()

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

    def _live_records(
        self, conn: Connection, keys: Sequence[tuple[str, str]]
    ) -> Iterator[tuple[int, int]]:
        """One probe of the unique key each: SQLite scans the table for a row-value IN list."""
        cursor: sqlite3.Cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for key in keys:
            yield from cursor.execute(_LIVE_RECORD, key)

    def _mark_shred(self, conn: Connection, at: int) -> None:
        """Committed with the tombstones, so a later run knows the WAL may still hold old pages."""
        self._upsert_meta(conn, _SHRED_PENDING, str(at))

    def shred_pending(self) -> bool:
        return self.get_meta(_SHRED_PENDING) is not None

    def finish_shred(self, *, wait: float) -> ShredResidue | None:
        """Fold the WAL into the database file and truncate it, so no old page survives there.

        A connection inside a read transaction begun before the purge or erasure
        keeps the old pages in use; this waits at most ``wait`` seconds for it.
        """
        since = self.get_meta(_SHRED_PENDING)
        if since is None:
            return None
        if not self._truncate_wal(wait):
            return ShredResidue(
                where=f"the ledger's files {self._display} and {self._display}-wal",
                since=int(since),
                until="that reader's transaction ends (at the latest when the last "
                "connection to the ledger closes)",
            )
        with self._errors(), self._write() as conn:
            conn.execute(t.meta.delete().where(t.meta.c.key == _SHRED_PENDING))
        # Only the flag's own page is in the WAL now; truncate it too if nobody is reading.
        self._truncate_wal(min(wait, 1.0))
        return None

    def _truncate_wal(self, wait: float) -> bool:
        """``PRAGMA wal_checkpoint(TRUNCATE)``, waiting at most ``wait`` seconds for readers."""
        with self._errors(), self._lock:
            self._close_group()
            raw: Any = self._writer.connection.driver_connection
            raw.execute(f"PRAGMA busy_timeout={max(0, int(wait * 1000))}")
            try:
                busy, _log, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                raw.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        return not busy

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
                return self._busy()
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
            self._close_group()
            self._writer.close()
            self._turn.close()
        with self._waiting_lock:
            kept, self._kept = self._kept, []
        for reader in kept:
            reader.close()
        self._writer_engine.dispose()
        super().close()


class ReadOnlySQLiteStore(SQLiteStore):
    """A SQLite ledger opened only to read, as an outside auditor holds a copy of it.

    The file may be mode 0444 in a read-only directory: it is opened with
    ``mode=ro`` and nothing is ever written (no WAL switch, no write lock). A
    WAL ledger needs its ``-shm`` file to be read; when that cannot be created
    beside it, the file is opened ``immutable=1``, reading the main file alone,
    which is only the whole ledger when no ``-wal`` file holds frames. Every
    write raises ``StoreUnavailable``.

    Raises:
        StoreUnavailable: when the file is missing, not a database, or has a WAL it cannot read.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        display = str(self.path)
        if not self.path.is_file():
            raise StoreUnavailable(f"no ledger file at {display}", path=display)
        uri = self._uri(display)
        timeout_ms = int(busy_timeout * 1000)

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(
                uri, uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA query_only=ON")
            conn.execute(f"PRAGMA busy_timeout={timeout_ms}")
            conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            return conn

        engine = create_engine(
            "sqlite+pysqlite://", creator=connect, poolclass=QueuePool, pool_size=4
        )

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

        SQLRedressStore.__init__(self, engine, display=display, location=display)

    def _uri(self, display: str) -> str:
        base = self.path.resolve().as_uri() + "?mode=ro"
        try:
            probe = sqlite3.connect(base, uri=True)
            try:
                probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return base
            finally:
                probe.close()
        except sqlite3.Error as e:
            # A WAL file needs its -shm: SQLite cannot create it in a read-only directory
            # (SQLITE_READONLY_DIRECTORY, _CANTINIT) or cannot open it (SQLITE_CANTOPEN).
            name = getattr(e, "sqlite_errorname", "")
            if not name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
                return base  # the first read reports it, translated
        # A WAL ledger whose -shm cannot be created here: read the main file alone, which is
        # the whole ledger only when no log beside it holds unfolded changes.
        for suffix in ("-wal", "-journal"):
            log = Path(f"{self.path}{suffix}")
            if log.exists() and log.stat().st_size > 0:
                raise StoreUnavailable(
                    f"cannot read the ledger {display} read-only: {log.name} beside it holds "
                    "changes SQLite cannot fold in without writing",
                    path=display,
                    suggestion="copy the ledger with `credence backup`, or into a writable directory",
                )
        return base + "&immutable=1"

    @contextmanager
    def _begin_write(self) -> Iterator[Connection]:
        raise StoreUnavailable(
            f"the ledger {self._display} is open read-only",
            path=self._display,
            suggestion="open a writable ledger to change it",
        )
        yield  # pragma: no cover  # makes this a generator

    def close(self) -> None:
        """Close every reader connection."""
        SQLRedressStore.close(self)
