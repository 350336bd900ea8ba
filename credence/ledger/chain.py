"""The hash chain over the ledger's records, and its verification.

Each record carries ``chain_hash = sha256(previous chain hash || seq ||
subject_key || occurred_at || ingested_at || content_hash || provider ||
provider_event_id || type || retracts)`` in append (``seq``) order; the first
record chains from 32 zero bytes. The chained fields are the ones a purged
record keeps, so tombstones still verify; attributes and evidence are covered
by ``content_hash``, which is recomputed from the stored fields for every
record not yet purged (``credence.canonical.content_hash``).

Purges and erasures are events in a second chain (``events``): each names the
records it tombstoned by a digest of their seqs, and each tombstone names its
event (``records.purged_by``), so a tombstone made outside Credence, or an
event whose records are not its tombstones, fails verification. Other kinds
of event (disputes) append to the same chain with ``event_link``.

Verification reads rows from any DB-API cursor running ``EVENTS_QUERY``,
``VERIFY_QUERY`` and ``ERASED_QUERY``, so a store, a test and an outside
party all run the same code (docs/ledger.md).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from credence.canonical import content_hash
from credence.types import Record

GENESIS = bytes(32)
_FIXED = struct.Struct(">qqqqIIII")
_NONE = 0xFFFFFFFF  # the length written for a NULL retracts, so NULL and "" differ
_EVENT_FIXED = struct.Struct(">qqqqII")
_SEQ = struct.Struct(">q")

# Event kinds that tombstone the records they name, and those that erase their subject.
PURGE, ERASE, LEGACY_PURGE, LEGACY_ERASE = "purge", "erase", "legacy_purge", "legacy_erase"
TOMBSTONING = frozenset({PURGE, ERASE, LEGACY_PURGE})
ERASING = frozenset({ERASE, LEGACY_ERASE})
# Kinds signed with the checkpoint key (credence.signing) by whoever holds the master key.
SIGNED = frozenset({PURGE, ERASE})
LEGACY = frozenset({LEGACY_PURGE, LEGACY_ERASE})

# Every record in seq order with what verification needs, its subject's lookup hash and
# kind, and the event that tombstoned it (last, so older readers' indexes still hold).
VERIFY_QUERY = (
    "SELECT r.seq, r.subject_key, r.provider, r.provider_event_id, r.type, r.occurred_at, "
    "r.attributes, r.evidence, r.retracts, r.content_hash, r.ingested_at, r.chain_hash, "
    "r.purged_at, s.lookup, s.kind, r.purged_by "
    "FROM records r LEFT JOIN subjects s ON s.subject_key = r.subject_key ORDER BY r.seq"
)
HEAD_QUERY = "SELECT seq, chain_hash, records FROM chain_head WHERE id = 1"
EVENTS_QUERY = (
    "SELECT seq, subject_key, kind, at, records, targets, payload, chain_hash, signature "
    "FROM events ORDER BY seq"
)
EVENTS_HEAD_QUERY = "SELECT events, chain_hash FROM event_head WHERE id = 1"
# Both heads in one statement (one round trip): HEAD_QUERY's columns, then EVENTS_HEAD_QUERY's.
HEADS_QUERY = (
    "SELECT c.seq, c.chain_hash, c.records, e.events, e.chain_hash "
    "FROM chain_head c LEFT JOIN event_head e ON e.id = 1 WHERE c.id = 1"
)
# Subjects whose identifier is gone: each must have been erased by an event in the chain.
ERASED_QUERY = (
    "SELECT subject_key FROM subjects WHERE sealed_id IS NULL OR wrapped_key IS NULL "
    "ORDER BY subject_key"
)


def link(
    prev: bytes,
    seq: int,
    subject_key: int,
    provider: str,
    provider_event_id: str,
    type_: str,
    occurred_at: int,
    retracts: str | None,
    digest: bytes,
    ingested_at: int,
) -> bytes:
    """The chain hash of one record, given the chain hash of the record before it."""
    p = provider.encode()
    e = provider_event_id.encode()
    t = type_.encode()
    r = b"" if retracts is None else retracts.encode()
    fixed = _FIXED.pack(
        seq,
        subject_key,
        occurred_at,
        ingested_at,
        len(p),
        len(e),
        len(t),
        _NONE if retracts is None else len(r),
    )
    return hashlib.sha256(b"".join((prev, fixed, digest, p, e, t, r))).digest()


def targets_digest(seqs: Iterable[int]) -> bytes:
    """What an event records of the records it names: sha256 of their seqs, ascending."""
    h = hashlib.sha256()
    for seq in seqs:
        h.update(_SEQ.pack(seq))
    return h.digest()


def event_link(
    prev: bytes,
    seq: int,
    subject_key: int,
    kind: str,
    at: int,
    records: int,
    targets: bytes,
    payload: str | None,
) -> bytes:
    """The chain hash of one event, given the chain hash of the event before it."""
    k = kind.encode()
    p = b"" if payload is None else payload.encode()
    fixed = _EVENT_FIXED.pack(
        seq, subject_key, at, records, len(k), _NONE if payload is None else len(p)
    )
    return hashlib.sha256(b"".join((prev, fixed, targets, k, p))).digest()


# A row to insert: subject_key, provider, provider_event_id, type, occurred_at,
# attributes, evidence, retracts, content_hash (as credence.ledger.sql.RecordRow).
def chain_rows(
    rows: Sequence[tuple[Any, ...]], *, prev: bytes, first_seq: int, ingested_at: int
) -> tuple[list[tuple[Any, ...]], bytes]:
    """``rows`` with ``seq`` in front and ``chain_hash`` at the end, and the new head hash.

    This runs once per appended record, so it is one loop with local names.
    """
    sha = hashlib.sha256
    pack = _FIXED.pack
    join = b"".join
    out: list[tuple[Any, ...]] = []
    append = out.append
    seq = first_seq
    for row in rows:
        sk, provider, event_id, type_, occurred, _attrs, _evidence, retracts, digest = row
        p = provider.encode()
        e = event_id.encode()
        t = type_.encode()
        if retracts is None:
            prev = sha(
                join(
                    (
                        prev,
                        pack(seq, sk, occurred, ingested_at, len(p), len(e), len(t), _NONE),
                        digest,
                        p,
                        e,
                        t,
                    )
                )
            ).digest()
        else:
            r = retracts.encode()
            prev = sha(
                join(
                    (
                        prev,
                        pack(seq, sk, occurred, ingested_at, len(p), len(e), len(t), len(r)),
                        digest,
                        p,
                        e,
                        t,
                        r,
                    )
                )
            ).digest()
        append((seq, *row, prev))
        seq += 1
    return out, prev


@dataclass(frozen=True, slots=True)
class EventsHead:
    """The end of the event chain: how many events (the last one's seq) and its chain hash."""

    events: int
    chain_hash: bytes


NO_EVENTS = EventsHead(0, GENESIS)


@dataclass(frozen=True, slots=True)
class Head:
    """The end of the chain: the last record's seq and chain hash, and the record count.

    ``events`` is the end of the event chain; None in a checkpoint taken before
    there was one (it then vouches for records only).
    """

    seq: int
    chain_hash: bytes
    records: int
    events: EventsHead | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing found wrong: at which record (``seq``; None for the whole ledger) and what.

    ``event`` names the event at fault when it is one.
    """

    seq: int | None
    what: str
    event: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One event of the chain, as stored."""

    seq: int
    subject_key: int
    kind: str
    at: int
    records: int  # how many records it tombstoned
    targets: bytes  # targets_digest of their seqs
    payload: str | None
    chain_hash: bytes
    signature: bytes | None = None  # Ed25519 over chain_hash, for the SIGNED kinds


Signer = Callable[[bytes], bytes]  # signs an event's chain hash (Ed25519PrivateKey.sign)


def chain_events(
    new: Sequence[tuple[int, str, int, Sequence[int], str | None]],
    *,
    head: EventsHead,
    sign: Signer | None = None,
) -> tuple[list[Event], EventsHead]:
    """Events for ``(subject_key, kind, at, target seqs, payload)``, chained after ``head``;
    those of a ``SIGNED`` kind signed with ``sign`` when given."""
    out: list[Event] = []
    prev, seq = head.chain_hash, head.events
    for subject_key, kind, at, targets, payload in new:
        seq += 1
        digest = targets_digest(sorted(targets))
        prev = event_link(prev, seq, subject_key, kind, at, len(targets), digest, payload)
        signature = sign(prev) if sign is not None and kind in SIGNED else None
        out.append(
            Event(seq, subject_key, kind, at, len(targets), digest, payload, prev, signature)
        )
    return out, EventsHead(seq, prev)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What verification found: the head it computed, records checked, and the first problem."""

    head: Head
    checked_content: int  # records whose content hash was recomputed (not purged)
    tombstones: int
    problem: Problem | None
    checkpoint_seen: bool = False  # the checkpoint's position was reached and matched

    @property
    def ok(self) -> bool:
        """Whether nothing was found wrong."""
        return self.problem is None


def _content_problem(row: Sequence[Any]) -> str | None:
    """What is wrong with a record's stored fields against its content hash, if anything."""
    (_, _, provider, event_id, type_, occurred, attributes, evidence, retracts, digest) = row[:10]
    purged_at, lookup, kind = row[12], row[13], row[14]
    if purged_at is not None:
        if attributes is not None or evidence is not None:
            return "a purged record still holds attributes or evidence"
        return None
    if attributes is None:
        return "the record has no attributes but is not marked purged"
    if lookup is None or kind is None:
        return "the record names a subject that does not exist"
    try:
        parsed = orjson.loads(attributes)
    except orjson.JSONDecodeError:
        return "its attributes are not valid JSON"
    if not isinstance(parsed, dict):
        return "its attributes are not a JSON object"
    record = Record(
        provider=provider,
        provider_event_id=event_id,
        type=type_,
        occurred_at=occurred,
        attributes=parsed,
        retracts=retracts,
        evidence=evidence,
    )
    try:
        expected = content_hash(record, subject_lookup=bytes(lookup), kind=kind)
    except (TypeError, orjson.JSONEncodeError):
        return "its fields cannot be hashed"
    if expected != bytes(digest):
        return "its stored fields do not match its content hash (a field was edited)"
    return None


def _signature_problem(event: Event, key: Ed25519PublicKey, *, signed_before: bool) -> str | None:
    """What is wrong with an event not vouched for by a checkpoint, given the ledger's key."""
    if event.kind in LEGACY:
        if signed_before:
            return (
                f"a {event.kind} event after purges or erasures began: only the upgrade to "
                "the event chain writes those (it was written outside Credence)"
            )
        return None
    if event.kind not in SIGNED:
        return None
    try:
        key.verify(event.signature or b"", event.chain_hash)
    except InvalidSignature:
        return (
            f"this {event.kind} event is not signed by the ledger's key (it was written "
            "outside Credence)"
        )
    return None


def _walk_events(
    rows: Iterable[Sequence[Any]],
    *,
    stored: EventsHead,
    checkpoint: EventsHead | None,
    public_key: bytes | None = None,
) -> tuple[dict[int, Event], EventsHead, Problem | None]:
    """Every event in seq order (rows of ``EVENTS_QUERY``), its chain checked; with the
    ledger's public key, the signature of every event the checkpoint does not cover."""
    events: dict[int, Event] = {}
    prev, count = GENESIS, 0
    key = None if public_key is None else Ed25519PublicKey.from_public_bytes(public_key)
    covered = 0 if checkpoint is None else checkpoint.events
    signed_before = False
    for row in rows:
        seq, subject_key, kind, at, records, targets, payload, stored_hash = row[:8]
        signature = None if len(row) < 9 or row[8] is None else bytes(row[8])
        if seq != count + 1:
            return (
                events,
                EventsHead(count, prev),
                Problem(
                    None,
                    f"event seq {seq} follows event {count}: events were deleted, inserted "
                    "or renumbered",
                    event=seq,
                ),
            )
        digest = bytes(targets)
        computed = event_link(prev, seq, subject_key, kind, at, records, digest, payload)
        if stored_hash is None or bytes(stored_hash) != computed:
            return (
                events,
                EventsHead(count, prev),
                Problem(
                    None,
                    "the event chain breaks here: this event does not hash to its stored chain "
                    "hash (a field was edited, events were reordered or inserted, or one "
                    "before it was deleted)",
                    event=seq,
                ),
            )
        event = Event(seq, subject_key, kind, at, records, digest, payload, computed, signature)
        if key is not None and seq > covered:
            wrong = _signature_problem(event, key, signed_before=signed_before)
            if wrong is not None:
                return events, EventsHead(count, prev), Problem(None, wrong, event=seq)
        signed_before = signed_before or kind in SIGNED
        events[seq] = event
        prev, count = computed, seq
        if (
            checkpoint is not None
            and seq == checkpoint.events
            and computed != checkpoint.chain_hash
        ):
            return (
                events,
                EventsHead(count, prev),
                Problem(
                    None,
                    f"the checkpoint says the event chain ends in {checkpoint.chain_hash.hex()[:16]}… "
                    f"at event {seq}, the ledger has {computed.hex()[:16]}…",
                    event=seq,
                ),
            )
    head = EventsHead(count, prev)
    if checkpoint is not None and count < checkpoint.events:
        return (
            events,
            head,
            Problem(
                None,
                f"the ledger has {count} events, before the checkpoint's {checkpoint.events}: "
                "events were removed from the tail",
            ),
        )
    if stored != head:
        return (
            events,
            head,
            Problem(
                None,
                f"the event head says {stored.events} events, the events table has {count} "
                "(events were deleted from the tail or appended outside Credence)",
            ),
        )
    return events, head, None


def _tombstone_problem(row: Sequence[Any], events: dict[int, Event]) -> str | None:
    """What is wrong with a record's link to the event that tombstoned it, if anything."""
    purged_at = row[12]
    by = row[15] if len(row) > 15 else None
    if purged_at is None:
        if by is not None:
            return f"the record is live but names event {by} as the one that purged it"
        return None
    if by is None:
        return (
            "this tombstone has no purge or erasure event in the chain: its content was "
            "removed outside Credence"
        )
    event = events.get(by)
    if event is None or event.kind not in TOMBSTONING:
        return f"this tombstone names event {by}, which is not a purge or erasure in the chain"
    if event.subject_key != row[1]:
        return f"this tombstone names event {by}, which is about another subject"
    if event.at != purged_at:
        return f"this tombstone's purge time is not that of event {by}, which purged it"
    return None


def verify_rows(
    rows: Iterable[Sequence[Any]],
    *,
    head: Head | None,
    events: Iterable[Sequence[Any]],
    erased: Iterable[int] = (),
    checkpoint: Head | None = None,
    public_key: bytes | None = None,
) -> ChainReport:
    """Walk every event, then every record in seq order, and report the first problem.

    ``rows`` are rows of ``VERIFY_QUERY``, ``events`` of ``EVENTS_QUERY`` and
    ``erased`` the subject keys of ``ERASED_QUERY``; ``head`` is the stored
    chain head (``read_head``), ``checkpoint`` a head signed earlier, which the
    chains must pass through exactly (the event chain only when it covers it).
    With ``public_key`` (the ledger's checkpoint key), every purge and erasure
    event after the checkpoint must be signed by it.
    """
    stored_events = (head.events if head is not None else None) or NO_EVENTS
    by_seq, events_head, problem = _walk_events(
        events,
        stored=stored_events,
        checkpoint=checkpoint.events if checkpoint is not None else None,
        public_key=public_key,
    )
    if problem is not None:
        return ChainReport(Head(0, GENESIS, 0, events_head), 0, 0, problem)
    prev = GENESIS
    last_seq = 0
    count = 0
    checked = 0
    tombstones = 0
    seen = False
    named: dict[int, list[Any]] = {}  # event seq -> [digest so far, tombstones naming it]
    for row in rows:
        seq = row[0]
        if checkpoint is not None and not seen and seq > checkpoint.seq:
            problem = Problem(
                checkpoint.seq, f"the checkpoint's record seq {checkpoint.seq} is missing"
            )
            break
        computed = link(
            prev, seq, row[1], row[2], row[3], row[4], row[5], row[8], bytes(row[9]), row[10]
        )
        stored = None if row[11] is None else bytes(row[11])
        if stored != computed:
            problem = Problem(
                seq,
                "the chain breaks here: this record does not hash to its stored chain hash "
                "(a chained field was edited, rows were reordered or inserted, or a record "
                "before it was deleted)",
            )
            break
        content = _content_problem(row) or _tombstone_problem(row, by_seq)
        if content is not None:
            problem = Problem(seq, content)
            break
        if row[12] is None:
            checked += 1
        else:
            tombstones += 1
            tally = named.get(row[15])
            if tally is None:
                tally = named[row[15]] = [hashlib.sha256(), 0]
            tally[0].update(_SEQ.pack(seq))
            tally[1] += 1
        prev, last_seq = computed, seq
        count += 1
        if checkpoint is not None and seq == checkpoint.seq:
            seen = True
            if computed != checkpoint.chain_hash or count != checkpoint.records:
                problem = Problem(
                    seq,
                    f"the checkpoint says {checkpoint.records} records ending in chain hash "
                    f"{checkpoint.chain_hash.hex()[:16]}…, the ledger has {count} ending in "
                    f"{computed.hex()[:16]}…",
                )
                break
    computed_head = Head(last_seq, prev, count, events_head)
    if problem is None and checkpoint is not None and not seen:
        problem = Problem(
            None,
            f"the ledger ends at seq {last_seq} with {count} records, before the checkpoint's "
            f"seq {checkpoint.seq} ({checkpoint.records} records): records were removed from "
            "the tail",
        )
    if problem is None:
        expected = head or Head(0, GENESIS, 0)
        if (expected.seq, expected.chain_hash, expected.records) != (last_seq, prev, count):
            problem = Problem(
                None,
                f"the chain head says {expected.records} records ending at seq {expected.seq}, "
                f"the records table has {count} ending at seq {last_seq} "
                "(records were deleted from the tail or appended outside Credence)",
            )
    if problem is None:
        problem = _events_problem(by_seq, named) or _erased_problem(by_seq, erased)
    return ChainReport(computed_head, checked, tombstones, problem, seen)


def _events_problem(events: dict[int, Event], named: dict[int, list[Any]]) -> Problem | None:
    """The first event whose records are not exactly the tombstones that name it."""
    empty = targets_digest(())
    for seq, event in events.items():
        tally = named.get(seq)
        found, digest = (tally[1], tally[0].digest()) if tally is not None else (0, empty)
        if found == event.records and digest == event.targets:
            continue
        which = "" if found != event.records else ", and not the ones it names"
        return Problem(
            None,
            f"the {event.kind} event of subject {event.subject_key} names {event.records} "
            f"records, but {found} tombstones name it{which} (a record it purged is live "
            "again, or a tombstone was moved to it)",
            event=seq,
        )
    return None


def _erased_problem(events: dict[int, Event], erased: Iterable[int]) -> Problem | None:
    """A subject without its identifier and no erasure event, or the other way round."""
    by_erasure = {e.subject_key: e.seq for e in events.values() if e.kind in ERASING}
    for subject_key in erased:
        if by_erasure.pop(subject_key, None) is None:
            return Problem(
                None,
                f"subject {subject_key} has lost its identifier, but no erasure event in the "
                "chain erased it (it was destroyed outside Credence)",
            )
    for subject_key, seq in sorted(by_erasure.items()):
        return Problem(
            None,
            f"subject {subject_key} was erased, but holds an identifier again (or its row is gone)",
            event=seq,
        )
    return None


def read_head(row: Sequence[Any] | None, events: Sequence[Any] | None = None) -> Head | None:
    """A ``Head`` from a row of ``HEAD_QUERY`` and, when given, one of ``EVENTS_HEAD_QUERY``."""
    if row is None:
        return None
    chained = None if events is None else EventsHead(int(events[0]), bytes(events[1]))
    return Head(int(row[0]), bytes(row[1]), int(row[2]), chained)
