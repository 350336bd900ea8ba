"""Ingesting behaviour record files into the ledger: every row checked, nothing lost.

Rows are read in a stream, checked against the active policy, and appended
in batches of ``settings.batch_size``; each batch is one atomic
``store.append``. A bad row never blocks the good ones beside it: it goes,
with its line and a code, to ``<input>.rejects.jsonl``. Sending the same file
again changes nothing, since ``(provider, provider_event_id)`` is the
idempotency key and the content hash tells a resend from a conflict.

Checking runs here while earlier batches are written; past the first rows of
a run, a SQLite or PostgreSQL ledger is written by a worker process, so the
two halves run on two cores (``_Appender``, docs/records.md).
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from operator import attrgetter
from pathlib import Path

from credence.errors import RecordError, StoreUnavailable
from credence.ingest import rejects as codes
from credence.ingest.formats import Source, open_source
from credence.ingest.rejects import Reject, RejectsFile
from credence.ingest.validate import Checked, Validator, frozen_constructor
from credence.ledger.sql import SQLStore
from credence.ledger.store import AppendResult, NewRecord, NewSubject, unused_subjects
from credence.ledger.worker import StoreWorker
from credence.service.ledger import Ledger

ProgressCallback = Callable[[Path, int, int], None]
"""Called as ``on_progress(path, bytes_done, bytes_total)`` after each batch of a file."""

_CACHE_LIMIT = 1_000_000
# Batches waiting to be written: enough to cover a worker process starting, and no more
# rows than that in memory when batches are large (then one batch waits at a time).
_IN_FLIGHT = 3
_IN_FLIGHT_ROWS = 30_000
WORKER_AFTER_ROWS = 20_000  # auto: a run that writes more starts the worker process
_SWEEP_ROWS = 500_000
_new_record = frozen_constructor(NewRecord)
_lookup_of = attrgetter("lookup")
_retracts_of = attrgetter("record.retracts")


@dataclass(frozen=True, slots=True)
class FileReport:
    """What ingesting one file did. ``rows == inserted + unchanged + rejected``."""

    path: Path
    rows: int
    inserted: int
    unchanged: int
    rejected: int
    rejects_path: Path | None


def raise_if_rejected(reports: Sequence[FileReport]) -> None:
    """Raise the run's one error when any row was rejected, naming where the rejects are.

    Raises:
        RecordError: code ``record.rejected``.
    """
    with_rejects = [r for r in reports if r.rejected]
    if not with_rejects:
        return
    total = sum(r.rejected for r in with_rejects)
    files = [str(r.rejects_path) for r in with_rejects]
    raise RecordError(
        f"{total} row(s) rejected" + ("" if len(files) == 1 else f" ({', '.join(files)})"),
        path=files[0] if len(files) == 1 else None,
        code="record.rejected",
        suggestion="each is in its .rejects.jsonl with its line, code and reason; the other "
        "rows were stored",
        details={"rejected": total, "rejects_files": files},
    )


def ingest_files(
    ledger: Ledger,
    paths: Sequence[Path],
    *,
    on_progress: ProgressCallback | None = None,
) -> list[FileReport]:
    """Ingest record files (JSON Lines, CSV, Parquet) in order; one report per file.

    Every file is opened before any is ingested, so a mistyped path fails the
    run before it writes anything.

    Raises:
        InputFileError: when a file is missing, unreadable, or of an unknown format.
        PolicyNotFound: when the ledger has no active policy.
        StoreError: when the ledger fails; batches already appended stay appended.
    """
    sources = [open_source(Path(p)) for p in paths]
    skew = ledger.settings.max_future_skew // timedelta(microseconds=1)
    validator = Validator(
        ledger.loaded_policy.policy, lookup=ledger.keys.lookup, latest=ledger.clock.now() + skew
    )
    run = _Run(ledger)
    with _collector_paused(), _Appender(ledger) as appender:
        return [_ingest_file(run, appender, validator, source, on_progress) for source in sources]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the automatic cyclic garbage collector for a bulk load; collect at the end.

    Every row allocates a few container objects that live until their batch is
    written; the collector rescanned them over and over and cost a third of
    ingest time in bench/ingest.py. Reference counting still frees everything
    ingest makes. So that even a reference cycle made along the way (an
    exception kept with its traceback) cannot pile up over a long run,
    ``_Sweeper`` collects the young generations every ``_SWEEP_ROWS`` rows.
    The collector is back on however the run ends.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(1)


class _Sweeper:
    """Collects what the rows since the last sweep left, every so many rows, while paused.

    A sweep scans what is young (the batches in flight, about ten objects a
    row), not the whole heap; every batch, it cost over a microsecond a row.
    """

    def __init__(self) -> None:
        self.due = _SWEEP_ROWS

    def __call__(self, rows: int) -> None:
        if rows >= self.due:
            self.due = rows + _SWEEP_ROWS
            if not gc.isenabled():
                gc.collect(1)


@dataclass
class _Counts:
    rows: int = 0
    inserted: int = 0
    unchanged: int = 0
    rejected: int = 0


@dataclass
class _InFlight:
    """A batch handed to the appender: its append, and what to report when it is done."""

    appended: Future[AppendResult]
    prepared: _Prepared
    earlier: list[Reject]  # rows of the input before this batch's end that failed their checks
    bytes_done: int


def _ingest_file(
    run: _Run,
    appender: _Appender,
    validator: Validator,
    source: Source,
    on_progress: ProgressCallback | None,
) -> FileReport:
    """Read, check and prepare batches here while earlier ones are appended, in order.

    A few batches may wait for the appender (``_IN_FLIGHT``, fewer when they
    are large), so reading goes on while a worker process starts or a batch
    commits. Each batch is reported as soon as it is done, and a failed one
    ends the run before another is prepared. A batch that retracts waits for
    every batch before it, since what it retracts may be there.
    """
    batch_size = run.ledger.settings.batch_size
    in_flight = max(1, min(_IN_FLIGHT, _IN_FLIGHT_ROWS // batch_size))
    rejects_file = RejectsFile(source.path)
    counts = _Counts()
    batch: list[Checked] = []
    rejected: list[Reject] = []
    pending: deque[_InFlight] = deque()

    def collect() -> None:
        done = pending.popleft()
        inserted, unchanged, refused = run.finish(done.prepared, done.appended.result())
        counts.inserted += inserted
        counts.unchanged += unchanged
        found = sorted(done.earlier + refused, key=lambda r: r.line)
        rejects_file.write(found)
        counts.rejected += len(found)
        if on_progress is not None:
            on_progress(source.path, done.bytes_done, source.bytes_total)

    def settle() -> None:
        while pending:
            collect()

    def submit(checked: list[Checked], earlier: list[Reject], *, last: bool = False) -> None:
        while pending and (len(pending) >= in_flight or pending[0].appended.done()):
            collect()
        prepared = run.prepare(checked, settle, last=last)
        appended = appender.submit(
            prepared.subjects, prepared.records, ingested_at=prepared.ingested_at
        )
        pending.append(_InFlight(appended, prepared, earlier, source.bytes_done))

    quick, general = validator.quick, validator.check_general
    append = batch.append
    rows = 0
    sweep = _Sweeper()
    try:
        for row in source.rows():
            rows += 1
            result = quick(row) or general(row)
            if type(result) is Checked:
                append(result)
                if len(batch) >= batch_size:
                    submit(batch, rejected)
                    batch, rejected = [], []
                    append = batch.append
                    sweep(rows)
            else:
                assert isinstance(result, Reject)
                rejected.append(result)
        submit(batch, rejected)
        # Retractions whose record came later in the file, now that all of it is written.
        deferred, run.deferred = run.deferred, []
        for start in range(0, len(deferred), batch_size):
            submit(deferred[start : start + batch_size], [], last=True)
        settle()
    except BaseException:
        for waiting in pending:
            waiting.appended.cancel()
        rejects_file.abandon()
        raise
    finally:
        counts.rows = rows
    return FileReport(
        path=source.path,
        rows=counts.rows,
        inserted=counts.inserted,
        unchanged=counts.unchanged,
        rejected=counts.rejected,
        rejects_path=rejects_file.close(),
    )


class _Appender:
    """Appends the batches of a run, in order: in this process, or through a worker process.

    Reading and checking rows and chaining and inserting them are both Python,
    and one interpreter runs one at a time; a writer thread gained nothing
    (bench/ingest.py measured it). So the store is called here, directly,
    until the run has written ``WORKER_AFTER_ROWS`` rows; past that, ``auto``
    starts a ``StoreWorker`` with its own connection to the same ledger, and
    later batches are written there while this process reads on. A short run
    never pays for starting it. ``on`` starts it at once, ``off`` never; a
    store without a SQL database behind it (the memory store) is always
    written here. Batches written here are done before ``submit`` returns, so
    every batch before the first sent to the worker is written before it.

    Raises:
        StoreUnavailable: with ``on``, when the worker process cannot be started.
    """

    def __init__(self, ledger: Ledger) -> None:
        store = ledger.store
        self._store = store
        self._choice = ledger.settings.ingest_worker if isinstance(store, SQLStore) else "off"
        self._worker: StoreWorker | None = None
        self._rows = 0
        if self._choice == "on":
            self._worker = self._start()

    def submit(
        self,
        subjects: Sequence[NewSubject],
        records: Sequence[NewRecord],
        *,
        ingested_at: int,
    ) -> Future[AppendResult]:
        """Append a batch; the future holds its result, or the error it raised."""
        if self._choice == "auto" and self._worker is None and self._rows >= WORKER_AFTER_ROWS:
            self._choice = "off"  # one attempt: when no worker can start, this process goes on
            with suppress(StoreUnavailable):
                self._worker = self._start()
        self._rows += len(records)
        if self._worker is not None:
            return self._worker.submit(subjects, records, ingested_at=ingested_at)
        future: Future[AppendResult] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(self._store.append(subjects, records, ingested_at=ingested_at))
        except Exception as e:  # raised in order by the caller, as a worker's would be
            future.set_exception(e)
        return future

    def _start(self) -> StoreWorker:
        store = self._store
        assert isinstance(store, SQLStore)
        return StoreWorker(store.location, display=store.display)

    def __enter__(self) -> _Appender:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._worker is not None:
            self._worker.close()


@dataclass
class _Prepared:
    """A batch ready to append: new subjects, records, and what was refused on the way."""

    subjects: list[NewSubject]
    records: list[NewRecord]
    accepted: list[Checked]  # the row behind each of ``records``, by index
    rejects: list[Reject]
    ingested_at: int
    number: int  # batches are numbered in the order they are prepared, from 1


_Appended = tuple[int, int, list[Reject]]


@dataclass
class _Run:
    """State shared by every batch of one ingest run: what is known about subjects.

    ``kinds`` counts a subject as known once a batch that creates it is
    prepared, before that batch is written: batches are written in order, and
    a failed one ends the run. Until that batch is written, every later batch
    with the subject carries it too (``unconfirmed``), for the store keeps a
    new subject only when one of its records is written (an erased subject's
    resent records are not): the store makes it whichever batch writes the
    first of its records, and when none does, the run forgets it.
    """

    ledger: Ledger
    kinds: dict[bytes, str] = field(default_factory=dict)  # lookup → kind, stored or on its way
    subject_keys: dict[bytes, int] = field(default_factory=dict)
    # lookup → the subject as sealed, and the number of the last batch that carried it
    unconfirmed: dict[bytes, tuple[NewSubject, int]] = field(default_factory=dict)
    batches: int = 0
    # Retractions of a record neither stored nor earlier in the file: tried again at its end.
    deferred: list[Checked] = field(default_factory=list)

    def prepare(
        self, batch: list[Checked], settle: Callable[[], None], *, last: bool = False
    ) -> _Prepared:
        """Check a batch against the subjects known, seal new ones, and make its records.

        ``settle`` waits until every batch prepared before is written; it is
        called first when this batch needs to read what they write. A
        retraction whose record is not found yet is set aside in ``deferred``
        (its record may come later in the file), unless this is the ``last``
        try, made once the rest of the file is written.
        """
        store = self.ledger.store
        if len(self.kinds) > _CACHE_LIMIT:
            settle()  # forgotten subjects are read again: they must all be written
            self.kinds.clear()
            self.subject_keys.clear()
        retracting = any(map(_retracts_of, batch))
        if retracting:
            settle()
        unknown = set(map(_lookup_of, batch)).difference(self.kinds)
        if unknown:
            for lookup, row in store.find_subjects(unknown).items():
                self.kinds[lookup] = row.kind
                self.subject_keys[lookup] = row.key
        targets = self._retraction_targets(batch) if retracting else {}

        self.batches += 1
        number = self.batches
        rejects: list[Reject] = []
        accepted: list[Checked] = []
        keep = accepted.append
        records: list[NewRecord] = []
        write = records.append
        new_subjects: dict[bytes, NewSubject] = {}
        kinds = self.kinds
        unconfirmed = self.unconfirmed
        seal = self.ledger.keys.seal
        earlier: dict[tuple[str, str], bytes] = {}  # only filled when the batch retracts
        for checked in batch:
            lookup = checked.lookup
            kind = kinds.get(lookup)
            if kind is not None and kind != checked.kind:
                rejects.append(
                    _reject(
                        checked,
                        codes.SUBJECT_KIND,
                        "subject_kind",
                        f"this subject is known as {_a(kind)}, not {_a(checked.kind)}",
                    )
                )
                continue
            if retracting:
                record = checked.record
                if record.retracts is not None:
                    problem = self._retraction_problem(checked, targets, earlier)
                    if problem is not None:
                        message, unseen = problem
                        if unseen and not last:
                            self.deferred.append(checked)
                        else:
                            rejects.append(_reject(checked, codes.RETRACTS, "retracts", message))
                        continue
                earlier.setdefault((record.provider, record.provider_event_id), lookup)
            if kind is None:
                sealed, wrapped = seal(checked.subject_id)
                new = NewSubject(lookup, checked.kind, checked.scheme, sealed, wrapped)
                new_subjects[lookup] = new
                unconfirmed[lookup] = (new, number)
                kinds[lookup] = checked.kind
            elif lookup in unconfirmed and lookup not in new_subjects:
                carried = unconfirmed[lookup][0]
                new_subjects[lookup] = carried
                unconfirmed[lookup] = (carried, number)
            keep(checked)
            write(_new_record(lookup, checked.record, checked.content_hash))
        return _Prepared(
            list(new_subjects.values()), records, accepted, rejects, self.ledger.clock.now(), number
        )

    def finish(self, prepared: _Prepared, result: AppendResult) -> _Appended:
        """``(inserted, unchanged, rejects)`` of a written batch."""
        if prepared.subjects:
            lookups = (new.subject_lookup for new in prepared.records)
            unused = set(unused_subjects(prepared.subjects, lookups, result))
            for subject in prepared.subjects:
                carried = self.unconfirmed.get(subject.lookup)
                if carried is None or carried[1] != prepared.number:
                    continue  # a later batch carries it too: that one settles it
                del self.unconfirmed[subject.lookup]
                if subject.lookup in unused:  # the store did not keep it
                    del self.kinds[subject.lookup]
        rejects = prepared.rejects
        for index in result.conflicts:
            checked = prepared.accepted[index]
            rejects.append(
                _reject(
                    checked,
                    codes.DUPLICATE,
                    "provider_event_id",
                    f"{checked.record.provider} event {checked.record.provider_event_id!r} "
                    "is already stored with different content; a correction needs a new "
                    "provider_event_id (and a retraction of the old one)",
                )
            )
        return result.inserted, len(result.unchanged), rejects

    def _retraction_targets(self, batch: list[Checked]) -> dict[tuple[str, str], int]:
        """The stored subject key of each record the batch retracts, where stored."""
        retracting = [c for c in batch if c.record.retracts is not None]
        if not retracting:
            return {}
        store = self.ledger.store
        wanted = {(c.record.provider, c.record.retracts or "") for c in retracting}
        targets = store.find_record_subjects(wanted)
        need = {c.lookup for c in retracting if c.lookup not in self.subject_keys}
        if need:
            for lookup, row in store.find_subjects(need).items():
                self.subject_keys[lookup] = row.key
        return targets

    def _retraction_problem(
        self,
        checked: Checked,
        targets: dict[tuple[str, str], int],
        earlier: dict[tuple[str, str], bytes],
    ) -> tuple[str, bool] | None:
        """Why a retraction cannot stand, and whether only because its record is not seen
        yet; None when its target is the same subject's."""
        record = checked.record
        target = (record.provider, record.retracts or "")
        stored = targets.get(target)
        if stored is not None:
            same = self.subject_keys.get(checked.lookup) == stored
        elif target in earlier:
            same = earlier[target] == checked.lookup
        else:
            unseen = (
                f"no {record.provider} record {record.retracts!r} in the ledger or in this "
                "file; send the record in the same file as its retraction, or before it"
            )
            return unseen, True
        if not same:
            return f"{record.provider} record {record.retracts!r} is about another subject", False
        return None


def _a(kind: str) -> str:
    return "an organization" if kind == "organization" else "a person"


def _reject(checked: Checked, code: str, field_name: str, message: str) -> Reject:
    return Reject(checked.line, code, field_name, message, checked.raw)
