"""A SQL store's appends run in a worker process, beside the process that reads and checks.

Ingest is CPU-bound Python on both sides of the store call: reading and
checking rows on one, chaining and inserting them on the other. Threads
share one interpreter lock, so a big ingest hands the append to a child
process (``StoreWorker``) with its own connection to the same ledger, and
the two halves run on two cores. Batches travel over a pipe as plain
tuples (``encode_records``); the child answers each with its
``AppendResult`` or the error it raised, fields and all. Only appends go
there: the parent reads through its own connection, which sees a batch once
the child has committed it.

The child runs in its own session, so Ctrl-C at a terminal reaches only the
parent, which lets the batch in flight end (a batch is one transaction
either way) and then closes the pipe. The child dies with its parent: on
Linux the kernel sends it SIGTERM when the parent goes (``PR_SET_PDEATHSIG``;
the kernel ties this to the thread that started the worker, so a worker is
started and closed by one thread, as ingest does), which ends it even inside
a database call, and what it had not committed is rolled back. Everywhere,
before each batch and again just before each commit, it checks that its
parent is still the process that started it and still holds its end of the
pipe; if not, it rolls the batch back and exits. So no batch is committed
after the parent is gone, and none is lost: the parent only counts a batch
once the child has answered it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import queue
import select
import signal
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

from credence.errors import StoreError, StoreUnavailable
from credence.ledger import open_store
from credence.ledger.sql import SQLStore, encode_records
from credence.ledger.store import AppendResult, NewRecord, NewSubject

_OPEN, _APPEND, _CLOSE = "open", "append", "close"
_OK, _FAILED = "ok", "failed"
_EXIT_WAIT = 120.0  # seconds a closing child may take to end the batch in flight
_GONE_WAIT = 5.0  # seconds for a child whose pipe closed to finish exiting, to say how it ended
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Both sides must run the same code: where the child's own path lacks the directory
# the parent imported this package from, it goes first (never moved ahead of the
# standard library when it is site-packages, which is on the path already).
_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = """
import sys
if sys.argv[1] not in sys.path:
    sys.path.insert(0, sys.argv[1])
from credence.ledger.worker import serve
serve(int(sys.argv[2]), int(sys.argv[3]), parent=int(sys.argv[4]))
"""


class StoreWorker:
    """Appends to the SQL ledger at ``location``, carried out by a child process.

    ``submit`` queues a batch and returns at once; a sender thread encodes and
    sends it while the child is still writing the one before, and a receiver
    thread settles each batch's future as the child answers, in order. The
    child starts at once and opens the ledger while the caller gets its first
    batch ready; a failure to open it fails every batch. After a batch fails,
    the child writes none of those sent after it.

    Raises:
        StoreUnavailable: when the child process cannot be started.
    """

    def __init__(self, location: str, *, display: str) -> None:
        self._display = display
        if not sys.executable:
            raise StoreUnavailable(
                "cannot start a ledger worker process: this Python does not know its executable"
            )
        parent_read, child_write = os.pipe()
        child_read, parent_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _BOOT,
                    _ROOT,
                    str(child_read),
                    str(child_write),
                    str(os.getpid()),
                ],
                pass_fds=(child_read, child_write),
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except (OSError, ValueError) as e:  # ValueError: no pass_fds on this platform
            for fd in (parent_read, parent_write):
                os.close(fd)
            raise StoreUnavailable(f"cannot start a ledger worker process: {e}") from e
        finally:
            os.close(child_read)
            os.close(child_write)
        self._outbox = Connection(parent_write, readable=False)
        self._inbox = Connection(parent_read, writable=False)
        self._outgoing: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._awaiting: deque[Future[Any]] = deque()  # sent, in order, not yet answered
        self._lock = threading.Lock()  # over _awaiting and _gone_error
        self._gone_error: StoreError | None = None  # set once the child can answer no more
        opened: Future[Any] = Future()
        opened.set_running_or_notify_cancel()
        self._awaiting.append(opened)
        self._outbox.send((_OPEN, location))  # small: sits in the pipe until the child reads it
        self._closed = False
        # Daemon threads: a worker never closed does not keep the interpreter from exiting
        # (its child then finds the pipe closed, and exits too).
        self._sender = threading.Thread(
            target=self._send_all, name="credence-worker-send", daemon=True
        )
        self._receiver = threading.Thread(
            target=self._receive_all, name="credence-worker-receive", daemon=True
        )
        self._sender.start()
        self._receiver.start()

    def submit(
        self,
        subjects: Sequence[NewSubject],
        records: Sequence[NewRecord],
        *,
        ingested_at: int,
    ) -> Future[AppendResult]:
        """Queue ``Store.append`` of one batch; the future holds its result or its error.

        The error is whatever the store raised in the child (``ValueError``
        when a record names a subject that is neither stored nor new), or a
        ``StoreError`` when the child is gone.
        """
        if self._closed:
            raise StoreError(f"the ledger worker for {self._display} is closed")
        future: Future[AppendResult] = Future()
        self._outgoing.put(_Batch(future, subjects, records, ingested_at))
        return future

    def close(self) -> None:
        """Send what is queued, let the child write it, close its ledger, and end it."""
        if self._closed:
            return
        self._closed = True
        self._outgoing.put(None)
        self._sender.join()
        with contextlib.suppress(OSError):  # the child may be gone already
            self._outbox.send((_CLOSE,))
        self._outbox.close()
        try:
            self._process.wait(timeout=_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        finally:
            self._receiver.join()
            self._inbox.close()

    def __enter__(self) -> StoreWorker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _send_all(self) -> None:
        """The sender thread: encode each batch and write it to the child, in order."""
        dumps = ForkingPickler.dumps
        while (batch := self._outgoing.get()) is not None:
            if not batch.future.set_running_or_notify_cancel():
                continue
            try:
                plain = [
                    (s.lookup, s.kind, s.scheme, s.sealed_id, s.wrapped_key) for s in batch.subjects
                ]
                message = dumps((_APPEND, plain, encode_records(batch.records), batch.ingested_at))
            except Exception as e:  # a value that cannot be encoded: this batch fails alone
                batch.future.set_exception(e)
                continue
            with self._lock:
                if self._gone_error is not None:
                    batch.future.set_exception(self._gone_error)
                    continue
                self._awaiting.append(batch.future)
            with contextlib.suppress(OSError):  # the child is gone: the receiver says so
                self._outbox.send_bytes(message)

    def _receive_all(self) -> None:
        """The receiver thread: settle each sent batch's future as the child answers."""
        while True:
            try:
                status, value = self._inbox.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                future = self._awaiting.popleft()
            if status == _OK:
                future.set_result(value)
            else:
                future.set_exception(value)
        with self._lock:  # the child is gone: nothing sent or to be sent will be answered
            self._gone_error = self._gone()
            while self._awaiting:
                self._awaiting.popleft().set_exception(self._gone_error)

    def _gone(self) -> StoreError:
        # Its end of the pipe closes as it exits, a moment before the system says it has.
        try:
            code: int | None = self._process.wait(timeout=_GONE_WAIT)
        except subprocess.TimeoutExpired:
            code = None
        return StoreError(
            f"the ledger worker process for {self._display} stopped answering: "
            f"{_how_it_ended(self._process.pid, code)}",
            path=self._display,
            suggestion="batches appended before it stopped stay appended; ingest the same "
            "files again to add the rest (a resend changes nothing)",
        )


def _how_it_ended(pid: int, code: int | None) -> str:
    """What happened to a child process, from its exit status, in plain words."""
    if code is None:
        return f"it closed its pipe, but process {pid} was still running {_GONE_WAIT:g}s later"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        why = "; it was killed from outside (or the system ran out of memory)"
        return f"process {pid} was killed by signal {-code} ({name}){why if -code == 9 else ''}"
    return f"process {pid} exited with status {code}"


@dataclass(frozen=True, slots=True)
class _Batch:
    future: Future[AppendResult]
    subjects: Sequence[NewSubject]
    records: Sequence[NewRecord]
    ingested_at: int


class _ParentGone(BaseException):
    """The parent that started this worker is gone: stop, committing nothing more.

    A BaseException, so no ``except Exception`` on the way turns it into an answer.
    """


def _die_with_parent(parent: int) -> None:
    """Have the kernel end this process when its parent goes (Linux); elsewhere, a no-op."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl here: the checks in _Watch still hold
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # ends the process, even inside a C call
    if os.getppid() != parent:  # the parent went before the signal was set up
        os._exit(0)


class _Watch:
    """Whether the parent that started this worker is still there, checked without blocking:
    it is still this process's parent, and still holds the reading end of the answer pipe."""

    def __init__(self, parent: int | None, answers: int) -> None:
        self._parent = parent
        self._poll = select.poll()
        self._poll.register(answers, select.POLLOUT)

    def parent_alive(self) -> bool:
        if self._parent is not None and os.getppid() != self._parent:
            return False
        return not any(ev & (select.POLLERR | select.POLLHUP) for _, ev in self._poll.poll(0))

    def before_commit(self) -> None:
        """The store's commit guard: what this raises rolls the batch back."""
        if not self.parent_alive():
            raise _ParentGone


def serve(read_fd: int, write_fd: int, *, parent: int | None = None) -> None:
    """The child's loop: open the ledger, append each batch, answer, until told to stop.

    ``parent`` is the pid of the process that started it: once that is gone,
    the batch in hand is rolled back and the loop ends.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    if parent is not None:
        _die_with_parent(parent)
    watch = _Watch(parent, write_fd)
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    store: SQLStore | None = None
    broken: Exception | None = None  # once set, every later batch is answered with it
    try:
        while True:
            try:
                message = inbox.recv()
            except EOFError:
                return  # the parent is gone
            if message[0] == _CLOSE or not watch.parent_alive():
                return  # batches still in the pipe were never acknowledged: drop them
            if broken is not None:
                outbox.send((_FAILED, broken))
                continue
            try:
                if message[0] == _OPEN:
                    store = _open(message[1])
                    store.commit_guard = watch.before_commit
                    outbox.send((_OK, None))
                    continue
                assert store is not None
                _, plain, records, ingested_at = message
                subjects = [NewSubject(*fields) for fields in plain]
                result = store.append_encoded(subjects, records, ingested_at=ingested_at)
                outbox.send((_OK, result))
            except Exception as e:  # every failure goes back to the parent, which raises it
                failure = _portable(e)
                outbox.send((_FAILED, failure))
                broken = failure if message[0] == _OPEN else _not_written(failure)
    except _ParentGone:
        return  # the batch was rolled back before its commit
    except OSError:
        return  # the pipe to the parent broke: the parent is gone
    finally:
        if store is not None:
            store.close()


def _not_written(cause: Exception) -> StoreError:
    return StoreError(
        f"not written: an earlier batch failed ({cause})",
        suggestion="batches before the failed one stay appended; ingest the same files "
        "again once it is fixed (a resend changes nothing)",
    )


def _open(location: str) -> SQLStore:
    store = open_store(location)
    if not isinstance(store, SQLStore):
        store.close()
        raise StoreError(f"a ledger worker needs a SQL ledger, not {location}")
    return store


def _portable(error: Exception) -> Exception:
    """``error`` as it can cross the pipe, noting the traceback it had in the child."""
    where = "".join(traceback.format_exception(error)).rstrip()
    try:
        pickle.loads(pickle.dumps(error))
        portable = error
    except Exception:
        portable = StoreError(f"the ledger worker failed: {type(error).__name__}: {error}")
    portable.add_note(f"raised in the ledger worker process:\n{where}")
    return portable
