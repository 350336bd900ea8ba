"""The one store interface every ledger backend implements (memory, SQLite, PostgreSQL).

The interface is split by concept (``LedgerAdmin``, ``PolicyStore``,
``RecordStore``, ``NoticeLog``, ``AccessLog``, and in ``credence.ledger.accounts``
``PartyStore``, ``SessionStore``, ``ConsentStore``, ``DecisionLog``, and in
``credence.ledger.disputes`` ``DisputeStore``; ``credence.ledger.redress``
``OverrideStore``, ``ReviewStore``, ``NoticeOutbox``); ``Store``
is their union, which a backend implements.

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
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from credence.ledger.accounts import ConsentStore, DecisionLog, PartyStore, SessionStore
from credence.ledger.chain import ChainReport, Head, Signer
from credence.ledger.commits import Later
from credence.ledger.disputes import DisputeStore
from credence.ledger.redress import NoticeOutbox, OverrideStore, ReviewStore
from credence.types import Notice, Record

SCHEMA_VERSION = 3


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
class ShredResidue:
    """Old copies of purged or erased data a store could not remove yet: where, since when,
    and until when they stay, in plain words."""

    where: str
    since: int  # when the purge or erasure that left them committed
    until: str


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """An event of the ledger's event chain (purge, erase, or a later kind such as a dispute's).

    ``records`` is how many records it tombstoned; ``payload`` is the kind's own JSON text.
    """

    seq: int
    subject_key: int
    kind: str
    at: int
    records: int
    payload: str | None


@dataclass(frozen=True, slots=True)
class Access:
    """One access to a subject's data by someone other than the subject.

    ``actor`` is the party that read; ``context`` and ``consent_id`` say under
    which context and consent (None for reads that need none, and for rows
    logged before they were kept).
    """

    subject_key: int
    at: int
    actor: str
    action: str
    purpose: str
    context: str | None = None
    consent_id: str | None = None

    @property
    def party(self) -> str:
        """The party that read (the ``actor``)."""
        return self.actor


class LedgerAdmin(Protocol):
    """The ledger as a whole: schema, settings, units of work, backup."""

    in_process: bool
    """True when calls run in this process and wait on nothing but the CPU and local
    disk (SQLite, memory): a server runs them on its own thread, where a thread pool
    would add only hand-offs. False when they wait on a server's round trips
    (PostgreSQL), which a thread pool overlaps."""

    def migrate(self) -> None:
        """Create the schema, or upgrade it to the current version."""

    def check_schema(self) -> None:
        """Raise ``StoreNotInitialised`` unless the schema is current."""

    def get_meta(self, key: str) -> str | None:
        """A ledger-wide setting (e.g. the master key fingerprint)."""

    def set_meta(self, key: str, value: str) -> None:
        """Set a ledger-wide setting."""

    def transaction(self) -> AbstractContextManager[None]:
        """One unit of work: every call of this thread inside it runs in one transaction.

        Reads inside it see its writes. It commits when the block ends cleanly
        and rolls back on any exception; a nested block joins the outer one.
        Outside it, each call is a transaction of its own.
        """

    def commit_later(self) -> AbstractContextManager[Later]:
        """Inside the block, on a running event loop, this thread's units of work may return
        before their commit, which the store then makes on that loop with the units of
        work of other requests; ``await later.durable()`` returns once they are durable,
        or raises the commit's error (``credence.ledger.commits``). A store that commits
        as each unit of work ends hands out a ``Later`` with nothing to wait for.
        """

    def backup(self, out: Path) -> None:
        """Write a consistent copy of the ledger to a new file ``out``.

        Raises:
            StoreError: when this backend cannot (code ``backup.unsupported``).
        """

    def close(self) -> None:
        """Release connections."""


class PolicyStore(Protocol):
    """Policy versions."""

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


class RecordStore(Protocol):
    """Subjects and their records, the hash chain, redemption and erasure."""

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
        """The last record's seq and chain hash, the number of records, and the events head."""

    def verify(
        self, *, checkpoint: Head | None = None, public_key: bytes | None = None
    ) -> ChainReport:
        """Walk both chains and recompute content hashes; report the first problem.

        Every tombstone must be named by the purge or erasure event that made it,
        and every such event must name exactly its tombstones. With
        ``checkpoint``, the chains must also pass through that head exactly; with
        ``public_key``, every purge and erasure event after it must be signed by it.
        """

    def purge(
        self, keys: Collection[tuple[str, str]], *, at: int, sign: Signer | None = None
    ) -> int:
        """Tombstone these records: drop attributes and evidence, set ``purged_at``.

        One ``purge`` event per subject is chained in the same transaction,
        naming the records it tombstoned. The chained fields stay, so the chain
        and the totals still verify, and the idempotency key stays, so a resend
        is still ``unchanged``. ``sign`` signs each event's chain hash (the
        checkpoint key's ``sign``). Returns how many records were purged now
        (already purged ones are skipped). Call ``finish_shred`` after.
        """

    def erase_subject(
        self, subject_key: int, *, at: int, lookup: bytes, sign: Signer | None = None
    ) -> int:
        """Crypto-shred a subject: drop its sealed identifier and data key, replace its
        lookup hash by ``lookup`` (random bytes), and tombstone its records, under one
        chained ``erase`` event (signed with ``sign``, as for ``purge``).

        Returns how many records were tombstoned now. Call ``finish_shred`` after.
        """

    def append_event(
        self, subject_key: int, *, kind: str, at: int, payload: str | None = None
    ) -> LedgerEvent:
        """Chain an event of ``kind`` that tombstones nothing, in its own transaction.

        Raises:
            ValueError: for the kinds only purge and erase write.
        """

    def events(self, subject_key: int) -> list[LedgerEvent]:
        """Every event about a subject, in chain order."""

    def shred_pending(self) -> bool:
        """Whether a purge or erasure left old copies of its data that ``finish_shred`` removes."""

    def finish_shred(self, *, wait: float) -> ShredResidue | None:
        """Remove the old copies a purge or erasure left (SQLite: fold and truncate the WAL).

        Waits at most ``wait`` seconds for other connections; returns what is
        left, and until when, if they still hold it. None once nothing is left.
        """

    def subject(self, subject_key: int) -> SubjectRow | None:
        """The stored subject with that key (erased ones included)."""


class NoticeLog(Protocol):
    """Notices given to subjects."""

    def add_notice(self, subject_key: int, notice: Notice) -> None:
        """Record a notice given to a subject."""

    def notices(self, subject_key: int) -> list[Notice]:
        """Every notice given to a subject, oldest first."""


class AccessLog(Protocol):
    """Reads of subjects' data by others than the subject."""

    def log_access(self, access: Access) -> None:
        """Record an access to a subject's data."""

    def accesses(self, subject_key: int) -> list[Access]:
        """Every logged access to a subject's data, oldest first."""


@runtime_checkable
class Store(
    LedgerAdmin,
    PolicyStore,
    RecordStore,
    NoticeLog,
    AccessLog,
    PartyStore,
    SessionStore,
    ConsentStore,
    DecisionLog,
    DisputeStore,
    OverrideStore,
    ReviewStore,
    NoticeOutbox,
    Protocol,
):
    """The ledger a backend implements: the union of the per-concept stores.

    Methods that write are atomic: all of a call lands, or none.
    """
