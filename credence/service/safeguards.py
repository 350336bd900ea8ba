"""Safeguards at run time: verify the chain, sign checkpoints, purge, erase, back up.

Each use case takes the open ledger, like every other, except two that work
on the ledger's file and need no master key, so they take the settings and
open the store themselves: ``verify_ledger`` (an outside party holding a copy
of the ledger and a checkpoint can run it) and ``backup``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from credence.crypto import parse_master_key, read_key_file
from credence.engine.redemption import purgeable
from credence.errors import (
    CredenceError,
    InputFileError,
    StoreConflict,
    StoreError,
    SubjectNotFound,
    UsageError,
)
from credence.ledger import Store
from credence.ledger.chain import ChainReport
from credence.ledger.store import ShredResidue
from credence.service import disputes, notices
from credence.service.history import log_access
from credence.service.ledger import Ledger, open_initialised_store
from credence.service.subjects import resolve
from credence.settings import Settings
from credence.signing import Checkpoint, load, public_bytes, sign, signing_key
from credence.types import MICROS, SubjectRef, format_time

# Seconds a purge or erasure waits for other connections to let go of the old pages
# (SQLite's WAL) before it says what is left and until when, rather than blocking.
SHRED_WAIT = 5.0


def _master(settings: Settings) -> bytes:
    if settings.master_key is not None:
        return parse_master_key(settings.master_key.get_secret_value())
    return read_key_file(settings.resolved_key_file())


def _tampered(report: ChainReport) -> StoreError:
    problem = report.problem
    assert problem is not None
    where = ""
    if problem.seq is not None:
        where = f"record seq {problem.seq}: "
    elif problem.event is not None:
        where = f"event seq {problem.event}: "
    return StoreError(
        f"the ledger does not verify: {where}{problem.what}",
        code="ledger.tampered",
        details={"seq": problem.seq, "event": problem.event, "what": problem.what},
        suggestion="restore from a backup taken before that record and compare",
    )


def _finish_shred(store: Store, done: str, *, wait: float) -> None:
    """Remove the old copies a purge or erasure left, or say plainly what is left and until when.

    Raises:
        StoreConflict: code ``ledger.wal_pending`` when another connection still holds them
            after ``wait`` seconds; what was done is committed, and a rerun finishes it.
    """
    residue = store.finish_shred(wait=wait)
    if residue is not None:
        raise _wal_pending(residue, done, wait=wait)


def _wal_pending(residue: ShredResidue, done: str, *, wait: float) -> StoreConflict:
    return StoreConflict(
        f"{done}, but old copies of the data it removed are still in {residue.where}: "
        f"another connection is reading the ledger as it was before "
        f"{format_time(residue.since)}, and they stay until {residue.until}; "
        f"waited {wait:g}s",
        code="ledger.wal_pending",
        details={"since": residue.since, "wait_seconds": wait},
        suggestion="end the other reader, then run the same command again: it finishes the removal",
    )


# --- verify and checkpoint ----------------------------------------------------
def read_checkpoint(path: Path) -> Checkpoint:
    """A checkpoint file, its signature checked.

    Raises:
        InputFileError: when the file cannot be read.
        CredenceError: code ``checkpoint.invalid`` when it is malformed or altered.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(f"cannot read the checkpoint: {e}", path=str(path)) from e
    return load(text, origin=str(path))


def verify_ledger(settings: Settings, *, checkpoint: Path | None = None) -> ChainReport:
    """Check the whole chain, every content hash not yet purged, and a checkpoint if given.

    Without a master key the checkpoint is trusted as the file it is (an
    outside party's copy); with one, it must be signed by this ledger's key.
    Purge and erasure events after the checkpoint (all of them, without one)
    must be signed by that key, when it is known (from the checkpoint or the
    master key).

    Raises:
        StoreError: code ``ledger.tampered`` with the first bad seq and what is wrong.
        CredenceError: code ``checkpoint.invalid`` for a bad or foreign checkpoint.
    """
    held = read_checkpoint(checkpoint) if checkpoint is not None else None
    if held is not None and (settings.master_key is not None or _key_file(settings)):
        ours = public_bytes(signing_key(_master(settings)).public_key())
        if ours != held.public_key:
            raise CredenceError(
                "the checkpoint was signed by another key than this ledger's",
                path=str(checkpoint),
                code="checkpoint.invalid",
                suggestion="pass a checkpoint exported from this ledger",
            )
    key = held.public_key if held is not None else _our_public_key(settings)
    store = open_initialised_store(settings, read_only=True)  # an auditor's copy may be 0444
    try:
        report = store.verify(checkpoint=held.head if held is not None else None, public_key=key)
    finally:
        store.close()
    if not report.ok:
        raise _tampered(report)
    return report


def _our_public_key(settings: Settings) -> bytes | None:
    """The ledger's checkpoint public key, when the master key is at hand."""
    if settings.master_key is None and not _key_file(settings):
        return None
    return public_bytes(signing_key(_master(settings)).public_key())


def _key_file(settings: Settings) -> bool:
    return settings.resolved_key_file().exists()


def make_checkpoint(ledger: Ledger, out: Path) -> Checkpoint:
    """Verify the chain, then sign its head with the key derived from the master key.

    Raises:
        StoreError: code ``ledger.tampered`` when the chain does not verify (nothing is signed).
    """
    now = ledger.clock.now()
    key = signing_key(_master(ledger.settings))
    report = ledger.store.verify(public_key=public_bytes(key.public_key()))
    if not report.ok:
        raise _tampered(report)
    signed = sign(report.head, at=now, key=key)
    try:
        out.write_text(signed.to_json(), encoding="utf-8")
    except OSError as e:
        raise InputFileError(f"cannot write the checkpoint: {e}", path=str(out)) from e
    return signed


# --- purge ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a purge did."""

    as_of: int
    grace_us: int
    purged: int
    subjects: int  # subjects with at least one record purged


def purge(
    ledger: Ledger,
    *,
    as_of: int | None = None,
    grace_us: int = 30 * 86_400 * MICROS,
) -> PurgeReport:
    """Tombstone every record past its rule's expiry (active policy) plus ``grace_us``.

    Raises:
        UsageError: when ``as_of`` is in the future (records could still count then).
    """
    now = ledger.clock.now()
    if as_of is not None and as_of > now:
        raise UsageError(
            "--as-of is in the future: records could still count then",
            suggestion="purge as of now or an earlier time",
        )
    when = now if as_of is None else as_of
    policy = ledger.policy
    keys: list[tuple[str, str]] = []
    subjects = 0
    for _row, records in ledger.store.subjects_with_records():
        found = purgeable(policy, records, as_of=when, grace_us=grace_us)
        if found:
            subjects += 1
            keys.extend(r.key for r in found)
    purged = ledger.store.purge(keys, at=now, sign=signing_key(_master(ledger.settings)).sign)
    # Also after a purge of nothing: a rerun finishes what an earlier one left.
    _finish_shred(ledger.store, f"purged {purged} records of {subjects} subjects", wait=SHRED_WAIT)
    return PurgeReport(as_of=when, grace_us=grace_us, purged=purged, subjects=subjects)


# --- erase and backup -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EraseReport:
    """What an erasure did. ``subject_key`` is None when a rerun only finished removing the
    old copies an earlier erasure had left (the identifier names nobody any more)."""

    subject_key: int | None
    records: int


def erase(ledger: Ledger, ref: SubjectRef, *, purpose: str = "erasure request") -> EraseReport:
    """Crypto-shred one subject and tombstone its records; the access log keeps the act.

    The log entry and the erasure are one unit of work.

    Raises:
        SubjectNotFound: when the identifier names no stored subject (or one erased already,
            with nothing left to finish).
        StoreConflict: code ``ledger.wal_pending`` when the erasure is committed but another
            connection still holds old copies after ``SHRED_WAIT`` seconds (run it again).
    """
    try:
        row = resolve(ledger, ref)
    except SubjectNotFound:
        # Erased already? Its lookup is gone, so the rerun cannot tell; but when an
        # erasure left old copies behind, finishing their removal is what it is for.
        if not ledger.store.shred_pending():
            raise
        _finish_shred(ledger.store, "an earlier erasure is committed", wait=SHRED_WAIT)
        return EraseReport(subject_key=None, records=0)
    with ledger.unit_of_work():
        now = ledger.clock.now()
        log_access(
            ledger,
            row.key,
            party=ledger.settings.actor,
            action="erase",
            context=None,
            consent_id=None,
            purpose=purpose,
        )
        count = ledger.store.erase_subject(
            row.key, at=now, lookup=os.urandom(32), sign=signing_key(_master(ledger.settings)).sign
        )
        disputes.forget_texts(ledger, row.key)  # their words go with the identifier
        notices.forget_texts(ledger, row.key)  # and those of their notices, reviews, overrides
    # After the commit: old copies can only be removed once the erasure is durable.
    _finish_shred(
        ledger.store,
        f"subject {row.key} is erased and its {count} records tombstoned",
        wait=SHRED_WAIT,
    )
    return EraseReport(subject_key=row.key, records=count)


def backup(settings: Settings, out: Path) -> Path:
    """A consistent copy of the ledger in a new file (SQLite only); needs no master key.

    Raises:
        StoreError: code ``backup.unsupported`` for PostgreSQL (use pg_dump).
        UsageError: when ``out`` exists.
    """
    store = open_initialised_store(settings)
    try:
        store.backup(out)
    finally:
        store.close()
    return out
