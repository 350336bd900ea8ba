"""Ingesting behaviour record files into the ledger: every row checked, nothing lost.

Rows are read in a stream, checked against the active policy, and appended
in batches of ``settings.batch_size``; each batch is one atomic
``store.append``. A bad row never blocks the good ones beside it: it goes,
with its line and a code, to ``<input>.rejects.jsonl``. Sending the same file
again changes nothing, since ``(provider, provider_event_id)`` is the
idempotency key and the content hash tells a resend from a conflict.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

from credence.ingest import rejects as codes
from credence.ingest.formats import Source, open_source
from credence.ingest.rejects import Reject, RejectsFile
from credence.ingest.validate import Checked, Validator, frozen_constructor
from credence.ledger.store import NewRecord, NewSubject
from credence.service.ledger import Ledger

ProgressCallback = Callable[[Path, int, int], None]
"""Called as ``on_progress(path, bytes_done, bytes_total)`` after each batch of a file."""

_CACHE_LIMIT = 1_000_000
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
    validator = Validator(ledger.loaded_policy.policy, lookup=ledger.keys.lookup)
    run = _Run(ledger)
    with _collector_paused():
        return [_ingest_file(run, validator, source, on_progress) for source in sources]


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


def _ingest_file(
    run: _Run, validator: Validator, source: Source, on_progress: ProgressCallback | None
) -> FileReport:
    """Read and check rows on this thread while the previous batch is appended on another.

    The store releases the interpreter lock while the database works, so
    checking batch n+1 overlaps writing batch n; batches are still appended
    one at a time and in order, and all store calls happen on the writer thread.
    """
    batch_size = run.ledger.settings.batch_size
    rejects_file = RejectsFile(source.path)
    counts = _Counts()
    batch: list[Checked] = []
    rejected: list[Reject] = []
    pending: tuple[Future[_Appended], list[Reject], int] | None = None

    def collect() -> None:
        nonlocal pending
        if pending is None:
            return
        future, earlier, bytes_done = pending
        pending = None
        inserted, unchanged, refused = future.result()
        counts.inserted += inserted
        counts.unchanged += unchanged
        found = sorted(earlier + refused, key=lambda r: r.line)
        rejects_file.write(found)
        counts.rejected += len(found)
        if on_progress is not None:
            on_progress(source.path, bytes_done, source.bytes_total)

    quick, general = validator.quick, validator.check_general
    append = batch.append
    rows = 0
    sweep = _Sweeper()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="credence-ingest") as writer:
        try:
            for row in source.rows():
                rows += 1
                result = quick(row) or general(row)
                if type(result) is Checked:
                    append(result)
                    if len(batch) >= batch_size:
                        collect()
                        pending = (writer.submit(run.append, batch), rejected, source.bytes_done)
                        batch, rejected = [], []
                        append = batch.append
                        sweep(rows)
                else:
                    assert isinstance(result, Reject)
                    rejected.append(result)
            collect()
            pending = (writer.submit(run.append, batch), rejected, source.bytes_done)
            collect()
        except BaseException:
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


_Appended = tuple[int, int, list[Reject]]


@dataclass
class _Run:
    """State shared by every batch of one ingest run: what is known about subjects."""

    ledger: Ledger
    kinds: dict[bytes, str] = field(default_factory=dict)  # lookup → kind, for stored subjects
    subject_keys: dict[bytes, int] = field(default_factory=dict)

    def append(self, batch: list[Checked]) -> _Appended:
        """Append one batch atomically: ``(inserted, unchanged, rejects)``."""
        if not batch:
            return 0, 0, []
        store = self.ledger.store
        if len(self.kinds) > _CACHE_LIMIT:
            self.kinds.clear()
            self.subject_keys.clear()
        unknown = set(map(_lookup_of, batch)).difference(self.kinds)
        if unknown:
            for lookup, row in store.find_subjects(unknown).items():
                self.kinds[lookup] = row.kind
                self.subject_keys[lookup] = row.key
        retracting = any(map(_retracts_of, batch))
        targets = self._retraction_targets(batch) if retracting else {}

        rejects: list[Reject] = []
        accepted: list[Checked] = []
        keep = accepted.append
        records: list[NewRecord] = []
        write = records.append
        new_subjects: dict[bytes, NewSubject] = {}
        new_kinds: dict[bytes, str] = {}
        kinds = self.kinds
        seal = self.ledger.keys.seal
        earlier: dict[tuple[str, str], bytes] = {}  # only filled when the batch retracts
        for checked in batch:
            lookup = checked.lookup
            kind = kinds.get(lookup) or new_kinds.get(lookup)
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
                        rejects.append(_reject(checked, codes.RETRACTS, "retracts", problem))
                        continue
                earlier.setdefault((record.provider, record.provider_event_id), lookup)
            if kind is None:
                sealed, wrapped = seal(checked.subject_id)
                new_subjects[lookup] = NewSubject(
                    lookup, checked.kind, checked.scheme, sealed, wrapped
                )
                new_kinds[lookup] = checked.kind
            keep(checked)
            write(_new_record(lookup, checked.record, checked.content_hash))

        result = store.append(
            list(new_subjects.values()),
            records,
            ingested_at=self.ledger.clock.now(),
        )
        self.kinds.update(new_kinds)
        for index in result.conflicts:
            checked = accepted[index]
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
    ) -> str | None:
        """Why a retraction cannot stand, or None when its target is the same subject's."""
        record = checked.record
        target = (record.provider, record.retracts or "")
        stored = targets.get(target)
        if stored is not None:
            same = self.subject_keys.get(checked.lookup) == stored
        elif target in earlier:
            same = earlier[target] == checked.lookup
        else:
            return (
                f"no {record.provider} record {record.retracts!r} in the ledger or earlier "
                "in this input; send the record before its retraction"
            )
        if not same:
            return f"{record.provider} record {record.retracts!r} is about another subject"
        return None


def _a(kind: str) -> str:
    return "an organization" if kind == "organization" else "a person"


def _reject(checked: Checked, code: str, field_name: str, message: str) -> Reject:
    return Reject(checked.line, code, field_name, message, checked.raw)
