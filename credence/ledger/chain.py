"""The hash chain over the ledger's records, and its verification.

Each record carries ``chain_hash = sha256(previous chain hash || seq ||
subject_key || occurred_at || ingested_at || content_hash || provider ||
provider_event_id || type || retracts)`` in append (``seq``) order; the first
record chains from 32 zero bytes. The chained fields are the ones a purged
record keeps, so tombstones still verify; attributes and evidence are covered
by ``content_hash``, which is recomputed from the stored fields for every
record not yet purged (``credence.canonical.content_hash``).

Verification reads rows from any DB-API cursor running ``VERIFY_QUERY``, so a
store, a test and an outside party all run the same code (docs/ledger.md).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from credence.canonical import content_hash
from credence.types import Record

GENESIS = bytes(32)
_FIXED = struct.Struct(">qqqqIIII")
_NONE = 0xFFFFFFFF  # the length written for a NULL retracts, so NULL and "" differ

# Every record in seq order with what verification needs, its subject's lookup hash and kind.
VERIFY_QUERY = (
    "SELECT r.seq, r.subject_key, r.provider, r.provider_event_id, r.type, r.occurred_at, "
    "r.attributes, r.evidence, r.retracts, r.content_hash, r.ingested_at, r.chain_hash, "
    "r.purged_at, s.lookup, s.kind "
    "FROM records r LEFT JOIN subjects s ON s.subject_key = r.subject_key ORDER BY r.seq"
)
HEAD_QUERY = "SELECT seq, chain_hash, records FROM chain_head WHERE id = 1"


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
class Head:
    """The end of the chain: the last record's seq and chain hash, and the record count."""

    seq: int
    chain_hash: bytes
    records: int


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing found wrong: at which record (``seq``; None for the whole ledger) and what."""

    seq: int | None
    what: str


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


def verify_rows(
    rows: Iterable[Sequence[Any]],
    *,
    head: Head | None,
    checkpoint: Head | None = None,
) -> ChainReport:
    """Walk every record in seq order (rows of ``VERIFY_QUERY``) and report the first problem.

    ``head`` is the stored chain head (``HEAD_QUERY``); ``checkpoint`` a head
    signed earlier, which the chain must pass through exactly.
    """
    prev = GENESIS
    last_seq = 0
    count = 0
    checked = 0
    tombstones = 0
    seen = False
    problem: Problem | None = None
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
        content = _content_problem(row)
        if content is not None:
            problem = Problem(seq, content)
            break
        if row[12] is None:
            checked += 1
        else:
            tombstones += 1
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
    computed_head = Head(last_seq, prev, count)
    if problem is None and checkpoint is not None and not seen:
        problem = Problem(
            None,
            f"the ledger ends at seq {last_seq} with {count} records, before the checkpoint's "
            f"seq {checkpoint.seq} ({checkpoint.records} records): records were removed from "
            "the tail",
        )
    if problem is None:
        expected = head or Head(0, GENESIS, 0)
        if expected != computed_head:
            problem = Problem(
                None,
                f"the chain head says {expected.records} records ending at seq {expected.seq}, "
                f"the records table has {count} ending at seq {last_seq} "
                "(records were deleted from the tail or appended outside Credence)",
            )
    return ChainReport(computed_head, checked, tombstones, problem, seen)


def read_head(row: Sequence[Any] | None) -> Head | None:
    """A ``Head`` from a row of ``HEAD_QUERY``."""
    if row is None:
        return None
    return Head(int(row[0]), bytes(row[1]), int(row[2]))
