"""The one store interface every ledger backend implements (memory, SQLite, PostgreSQL).

The ledger is append-only: records are never updated; a correction or a
withdrawal is a new record. ``(provider, provider_event_id)`` is unique, and
sending a record again changes nothing. Subjects are stored without their
plaintext identifier: a keyed hash for lookup and an encrypted copy under a
per-subject data key (see ``credence.crypto``); the store only sees bytes.

Every table is keyed by ``subject_key`` so a store can be sharded by subject.
The shared contract suite in ``tests/ledger/contract.py`` is what every
backend must pass.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from credence.ledger.chain import ChainReport, Head
from credence.types import Notice, Record

SCHEMA_VERSION = 2


@dataclass(frozen=True, slots=True)
class NewSubject:
    """A subject to create: lookup hash, kind, scheme, and its sealed identifier."""

    lookup: bytes
    kind: str
    scheme: str
    sealed_id: bytes
    wrapped_key: bytes


@dataclass(frozen=True, slots=True)
class SubjectRow:
    """A stored subject. ``sealed_id``/``wrapped_key`` are None once erased."""

    key: int
    lookup: bytes
    kind: str
    scheme: str
    sealed_id: bytes | None
    wrapped_key: bytes | None
    created_at: int


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A validated record to append, for the subject with this lookup hash."""

    subject_lookup: bytes
    record: Record
    content_hash: bytes  # sha256 of the canonical record; tells a resend from a conflict


@dataclass(slots=True)
class AppendResult:
    """What an append did, by index into the batch it was given."""

    inserted: int = 0
    unchanged: list[int] = field(default_factory=list)  # already stored, identical
    conflicts: list[int] = field(default_factory=list)  # key already used, different content


def unused_subjects(
    subjects: Sequence[NewSubject], record_lookups: Iterable[bytes], result: AppendResult
) -> list[bytes]:
    """Lookups of the new subjects that came with records, none of which was inserted.

    ``record_lookups`` gives the subject lookup of each record of the batch, in
    order; it is read only when some record was not inserted. Such a subject
    would be an identifier kept with nothing under it: the resent records of an
    erased subject (whose lookup was replaced) would register it again. Stores
    do not keep them, and ingest knows it.
    """
    if not subjects or not (result.unchanged or result.conflicts):
        return []
    skipped = {*result.unchanged, *result.conflicts}
    sent: set[bytes] = set()
    used: set[bytes] = set()
    for index, lookup in enumerate(record_lookups):
        sent.add(lookup)
        if index not in skipped:
            used.add(lookup)
    return [s.lookup for s in subjects if s.lookup in sent and s.lookup not in used]


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """A policy version as kept in the ledger: the exact text, when it was activated,
    and when it takes effect (``None``: at activation)."""

    name: str
    version: str
    digest: str
    source: str
    activated_at: int
    effective_at: int | None = None

    @property
    def effective(self) -> int:
        """When this version takes effect."""
        return self.activated_at if self.effective_at is None else self.effective_at


@dataclass(frozen=True, slots=True)
class StoredCandidate:
    """A proposed policy version kept beside the active one, not yet activated."""

    name: str
    version: str
    digest: str
    source: str
    proposed_at: int


@dataclass(frozen=True, slots=True)
class Access:
    """One access to a subject's data by someone other than the subject."""

    subject_key: int
    at: int
    actor: str
    action: str
    purpose: str


@runtime_checkable
class Store(Protocol):
    """The ledger. Methods that write are atomic: all of a call lands, or none."""

    # --- schema and settings -------------------------------------------------
    def migrate(self) -> None:
        """Create the schema, or upgrade it to the current version."""

    def check_schema(self) -> None:
        """Raise ``StoreNotInitialised`` unless the schema is current."""

    def get_meta(self, key: str) -> str | None:
        """A ledger-wide setting (e.g. the master key fingerprint)."""

    def set_meta(self, key: str, value: str) -> None:
        """Set a ledger-wide setting."""

    # --- policy --------------------------------------------------------------
    def add_policy(self, policy: StoredPolicy) -> None:
        """Store a policy version and make it the active one."""

    def active_policy(self) -> StoredPolicy | None:
        """The most recently activated policy, if any (it may not have taken effect yet)."""

    def policy_versions(self) -> list[StoredPolicy]:
        """Every policy version ever activated, in activation order."""

    def propose_policy(self, candidate: StoredCandidate) -> None:
        """Keep a proposed version beside the active one (once per digest)."""

    def candidates(self) -> list[StoredCandidate]:
        """Every proposed version, in proposal order (activated ones included)."""

    # --- subjects and records ------------------------------------------------
    def find_subjects(self, lookups: Collection[bytes]) -> dict[bytes, SubjectRow]:
        """The stored subjects among these lookup hashes."""

    def find_record_subjects(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """For stored ``(provider, provider_event_id)`` keys, the subject each belongs to."""

    def append(
        self,
        subjects: Sequence[NewSubject],
        records: Sequence[NewRecord],
        *,
        ingested_at: int,
    ) -> AppendResult:
        """Create missing subjects and append records, in one transaction.

        Subjects already stored are left as they are. A record whose key is
        stored with the same content hash is ``unchanged``; with another hash
        it is a ``conflict`` and is not written. Every record's subject must be
        among ``subjects`` or already stored. A new subject that comes with
        records, none of them written, is not created: resending an erased
        subject's records does not register its identifier again.
        """

    def records(self, subject_key: int) -> list[Record]:
        """Every record of one subject not purged (retractions included), in count order."""

    def subjects(self) -> Iterator[SubjectRow]:
        """Every subject, in key order."""

    def subjects_with_records(self) -> Iterator[tuple[SubjectRow, list[Record]]]:
        """Every subject with its records, in key order, streamed."""

    def counts(self) -> dict[str, int]:
        """``{"subjects": n, "records": n}``; purged records (tombstones) are counted."""

    # --- tamper evidence, redemption and erasure ------------------------------
    def chain_head(self) -> Head:
        """The last record's seq and chain hash, and the number of records."""

    def verify(self, *, checkpoint: Head | None = None) -> ChainReport:
        """Walk the whole chain and recompute content hashes; report the first problem.

        With ``checkpoint``, the chain must also pass through that head exactly.
        """

    def purge(self, keys: Collection[tuple[str, str]], *, at: int) -> int:
        """Tombstone these records: drop attributes and evidence, set ``purged_at``.

        The chained fields stay, so the chain and the totals still verify, and
        the idempotency key stays, so a resend is still ``unchanged``. Returns
        how many records were purged now (already purged ones are skipped).
        """

    def erase_subject(self, subject_key: int, *, at: int, lookup: bytes) -> int:
        """Crypto-shred a subject: drop its sealed identifier and data key, replace its
        lookup hash by ``lookup`` (random bytes), and tombstone its records.

        Returns how many records were tombstoned now.
        """

    def backup(self, out: Path) -> None:
        """Write a consistent copy of the ledger to a new file ``out``.

        Raises:
            StoreError: when this backend cannot (code ``backup.unsupported``).
        """

    # --- due process and accountability --------------------------------------
    def add_notice(self, subject_key: int, notice: Notice) -> None:
        """Record a notice given to a subject."""

    def notices(self, subject_key: int) -> list[Notice]:
        """Every notice given to a subject, oldest first."""

    def log_access(self, access: Access) -> None:
        """Record an access to a subject's data."""

    def accesses(self, subject_key: int) -> list[Access]:
        """Every logged access to a subject's data, oldest first."""

    def close(self) -> None:
        """Release connections."""
