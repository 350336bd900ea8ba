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
    StoreError,
    UsageError,
)
from credence.ledger.chain import ChainReport
from credence.service.history import log_access
from credence.service.ledger import Ledger, open_initialised_store
from credence.service.subjects import resolve
from credence.settings import Settings
from credence.signing import Checkpoint, load, public_bytes, sign, signing_key
from credence.types import MICROS, SubjectRef


def _master(settings: Settings) -> bytes:
    if settings.master_key is not None:
        return parse_master_key(settings.master_key.get_secret_value())
    return read_key_file(settings.resolved_key_file())


def _tampered(report: ChainReport) -> StoreError:
    problem = report.problem
    assert problem is not None
    where = f"record seq {problem.seq}: " if problem.seq is not None else ""
    return StoreError(
        f"the ledger does not verify: {where}{problem.what}",
        code="ledger.tampered",
        details={"seq": problem.seq, "what": problem.what},
        suggestion="restore from a backup taken before that record and compare",
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
    store = open_initialised_store(settings)
    try:
        report = store.verify(checkpoint=held.head if held is not None else None)
    finally:
        store.close()
    if not report.ok:
        raise _tampered(report)
    return report


def _key_file(settings: Settings) -> bool:
    return settings.resolved_key_file().exists()


def make_checkpoint(ledger: Ledger, out: Path) -> Checkpoint:
    """Verify the chain, then sign its head with the key derived from the master key.

    Raises:
        StoreError: code ``ledger.tampered`` when the chain does not verify (nothing is signed).
    """
    now = ledger.clock.now()
    report = ledger.store.verify()
    if not report.ok:
        raise _tampered(report)
    signed = sign(report.head, at=now, key=signing_key(_master(ledger.settings)))
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
    purged = ledger.store.purge(keys, at=now)
    return PurgeReport(as_of=when, grace_us=grace_us, purged=purged, subjects=subjects)


# --- erase and backup -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EraseReport:
    """What an erasure did."""

    subject_key: int
    records: int


def erase(ledger: Ledger, ref: SubjectRef, *, purpose: str = "erasure request") -> EraseReport:
    """Crypto-shred one subject and tombstone its records; the access log keeps the act.

    The log entry and the erasure are one unit of work.

    Raises:
        SubjectNotFound: when the identifier names no stored subject (or one erased already).
    """
    with ledger.unit_of_work():
        row = resolve(ledger, ref)
        log_access(
            ledger,
            row.key,
            party=ledger.settings.actor,
            action="erase",
            context=None,
            consent_id=None,
            purpose=purpose,
        )
        count = ledger.store.erase_subject(row.key, at=ledger.clock.now(), lookup=os.urandom(32))
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
