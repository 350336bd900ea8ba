"""An in-memory store for tests and simulations; it passes the same contract suite."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from credence.errors import StoreError
from credence.ledger.accounts import (
    ConsentRow,
    DecisionRow,
    KeyRow,
    PartyRow,
    SessionRow,
    SignInRow,
)
from credence.ledger.chain import (
    ERASE,
    GENESIS,
    NO_EVENTS,
    PURGE,
    ChainReport,
    Event,
    Head,
    Signer,
    chain_events,
    link,
    verify_rows,
)
from credence.ledger.commits import Later
from credence.ledger.disputes import DisputeRow
from credence.ledger.memory_redress import MemoryRedress
from credence.ledger.sql import _check_kind, encode_attributes
from credence.ledger.store import (
    Access,
    AppendResult,
    LedgerEvent,
    NewRecord,
    NewSubject,
    ShredResidue,
    StoredCandidate,
    StoredPolicy,
    SubjectRow,
    unused_subjects,
)
from credence.types import Notice, Record


@dataclass(frozen=True, slots=True)
class _Stored:
    subject_key: int
    record: Record
    content_hash: bytes
    ingested_at: int
    seq: int = 0
    chain_hash: bytes = GENESIS
    purged_at: int | None = None
    purged_by: int | None = None


_UNSAVED = frozenset({"_lock", "_depth"})


def _copied(value: Any) -> Any:
    """A copy of a state container deep enough to restore it: every held value is frozen."""
    if isinstance(value, dict):
        return {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
    if isinstance(value, list):
        return list(value)
    return value


class MemoryStore(MemoryRedress):
    """A ledger held in dictionaries, guarded by one lock (a single writer).

    A unit of work (``transaction``) holds the lock and keeps a copy of the
    state to restore on an exception.
    """

    in_process = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._meta: dict[str, str] = {}
        self._policies: list[StoredPolicy] = []
        self._candidates: list[StoredCandidate] = []
        self._subjects: dict[int, SubjectRow] = {}
        self._by_lookup: dict[bytes, int] = {}
        self._records: dict[tuple[str, str], _Stored] = {}
        self._by_subject: dict[int, list[Record]] = {}
        self._notices: dict[int, list[Notice]] = {}
        self._accesses: dict[int, list[Access]] = {}
        self._by_seq: list[tuple[str, str]] = []  # record keys in append order
        self._parties: dict[str, PartyRow] = {}
        self._keys: dict[str, KeyRow] = {}
        self._sign_ins: dict[str, SignInRow] = {}
        self._sessions: dict[str, SessionRow] = {}
        self._consents: dict[str, ConsentRow] = {}
        self._decisions: dict[int, list[DecisionRow]] = {}
        self._disputes: dict[str, DisputeRow] = {}
        self._head = Head(0, GENESIS, 0, NO_EVENTS)
        self._events: list[Event] = []
        self._init_redress()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Every call inside the block lands, or (on an exception) none does; nesting joins."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            saved = {k: _copied(v) for k, v in vars(self).items() if k not in _UNSAVED}
            self._depth = 1
            try:
                yield
            except BaseException:
                vars(self).update(saved)
                raise
            finally:
                self._depth = 0

    @contextmanager
    def commit_later(self) -> Iterator[Later]:
        """Nothing to commit: a unit of work is in place as it ends."""
        yield Later()

    def migrate(self) -> None:
        """Nothing to create: the schema is the dictionaries."""

    def check_schema(self) -> None:
        """Always current."""

    def get_meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._meta[key] = value

    def add_policy(self, policy: StoredPolicy) -> None:
        with self._lock:
            self._policies.append(policy)

    def active_policy(self) -> StoredPolicy | None:
        return self._policies[-1] if self._policies else None

    def policy_versions(self) -> list[StoredPolicy]:
        return list(self._policies)

    def propose_policy(self, candidate: StoredCandidate) -> None:
        with self._lock:
            if all(c.digest != candidate.digest for c in self._candidates):
                self._candidates.append(candidate)

    def candidates(self) -> list[StoredCandidate]:
        return list(self._candidates)

    def find_subjects(self, lookups: Collection[bytes]) -> dict[bytes, SubjectRow]:
        found = {}
        for lookup in lookups:
            key = self._by_lookup.get(lookup)
            if key is not None:
                found[lookup] = self._subjects[key]
        return found

    def find_record_subjects(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return {k: self._records[k].subject_key for k in keys if k in self._records}

    def append(
        self,
        subjects: Sequence[NewSubject],
        records: Sequence[NewRecord],
        *,
        ingested_at: int,
    ) -> AppendResult:
        with self._lock:
            # Validate everything first so a failing batch leaves nothing behind.
            lookups = dict(self._by_lookup)
            new_rows: list[SubjectRow] = []
            next_key = max(self._subjects, default=0) + 1  # a key never stored may be reused
            for s in subjects:
                if s.lookup in lookups:
                    continue
                row = SubjectRow(
                    next_key, s.lookup, s.kind, s.scheme, s.sealed_id, s.wrapped_key, ingested_at
                )
                lookups[s.lookup] = next_key
                new_rows.append(row)
                next_key += 1
            result = AppendResult()
            pending: dict[tuple[str, str], _Stored] = {}
            for index, new in enumerate(records):
                subject_key = lookups.get(new.subject_lookup)
                if subject_key is None:
                    raise ValueError(
                        f"record {index} names a subject that is neither stored nor new"
                    )
                key = new.record.key
                existing = self._records.get(key) or pending.get(key)
                if existing is not None:
                    target = (
                        result.unchanged
                        if existing.content_hash == new.content_hash
                        else result.conflicts
                    )
                    target.append(index)
                    continue
                pending[key] = _Stored(subject_key, new.record, new.content_hash, ingested_at)
            unused = set(unused_subjects(subjects, (r.subject_lookup for r in records), result))
            for row in new_rows:
                if row.lookup in unused:
                    continue
                self._subjects[row.key] = row
                self._by_lookup[row.lookup] = row.key
            prev, seq = self._head.chain_hash, self._head.seq
            for key, stored in pending.items():
                seq += 1
                r = stored.record
                prev = link(
                    prev,
                    seq,
                    stored.subject_key,
                    r.provider,
                    r.provider_event_id,
                    r.type,
                    r.occurred_at,
                    r.retracts,
                    stored.content_hash,
                    ingested_at,
                )
                self._records[key] = replace(stored, seq=seq, chain_hash=prev)
                self._by_seq.append(key)
                self._by_subject.setdefault(stored.subject_key, []).append(stored.record)
            self._head = Head(seq, prev, self._head.records + len(pending), self._head.events)
            result.inserted = len(pending)
            return result

    def records(self, subject_key: int) -> list[Record]:
        return sorted(self._by_subject.get(subject_key, []), key=lambda r: r.order)

    def subjects(self) -> Iterator[SubjectRow]:
        yield from (self._subjects[k] for k in sorted(self._subjects))

    def subjects_with_records(self) -> Iterator[tuple[SubjectRow, list[Record]]]:
        for row in self.subjects():
            yield row, self.records(row.key)

    def counts(self) -> dict[str, int]:
        return {"subjects": len(self._subjects), "records": len(self._records)}

    def chain_head(self) -> Head:
        return self._head

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        """The records as rows of ``chain.VERIFY_QUERY``."""
        for key in self._by_seq:
            s = self._records[key]
            r = s.record
            subject = self._subjects.get(s.subject_key)
            purged = s.purged_at is not None
            yield (
                s.seq,
                s.subject_key,
                r.provider,
                r.provider_event_id,
                r.type,
                r.occurred_at,
                None if purged else encode_attributes(r.attributes),
                None if purged else r.evidence,
                r.retracts,
                s.content_hash,
                s.ingested_at,
                s.chain_hash,
                s.purged_at,
                None if subject is None else subject.lookup,
                None if subject is None else subject.kind,
                s.purged_by,
            )

    def _event_rows(self) -> Iterator[tuple[Any, ...]]:
        """The events as rows of ``chain.EVENTS_QUERY``."""
        for e in self._events:
            yield (
                e.seq,
                e.subject_key,
                e.kind,
                e.at,
                e.records,
                e.targets,
                e.payload,
                e.chain_hash,
                e.signature,
            )

    def verify(
        self, *, checkpoint: Head | None = None, public_key: bytes | None = None
    ) -> ChainReport:
        with self._lock:
            rows = list(self._rows())
            events = list(self._event_rows())
            erased = sorted(k for k, row in self._subjects.items() if row.sealed_id is None)
            head = self._head
        return verify_rows(
            rows,
            head=head,
            events=events,
            erased=erased,
            checkpoint=checkpoint,
            public_key=public_key,
        )

    def _chain(
        self,
        new: Sequence[tuple[int, str, int, Sequence[int], str | None]],
        sign: Signer | None = None,
    ) -> list[Event]:
        """Chain events after the head; the caller holds the lock."""
        chained, tip = chain_events(new, head=self._head.events or NO_EVENTS, sign=sign)
        self._events.extend(chained)
        self._head = replace(self._head, events=tip)
        return chained

    def _tombstone(
        self,
        targets: dict[int, list[tuple[str, str]]],
        *,
        kind: str,
        at: int,
        sign: Signer | None,
    ) -> int:
        """Tombstone these records (keys by subject) under one chained event per subject."""
        new = [
            (k, kind, at, sorted(self._records[key].seq for key in keys), None)
            for k, keys in sorted(targets.items())
        ]
        chained = self._chain(new, sign)
        for event, (_, keys) in zip(chained, sorted(targets.items()), strict=True):
            for key in keys:
                stored = self._records[key]
                kept = replace(stored.record, attributes={}, evidence=None)
                self._records[key] = replace(stored, record=kept, purged_at=at, purged_by=event.seq)
                self._by_subject[stored.subject_key].remove(stored.record)
        return sum(len(keys) for keys in targets.values())

    def purge(
        self, keys: Collection[tuple[str, str]], *, at: int, sign: Signer | None = None
    ) -> int:
        with self._lock:
            targets: dict[int, list[tuple[str, str]]] = {}
            for key in dict.fromkeys(keys):
                stored = self._records.get(key)
                if stored is not None and stored.purged_at is None:
                    targets.setdefault(stored.subject_key, []).append(key)
            return self._tombstone(targets, kind=PURGE, at=at, sign=sign)

    def erase_subject(
        self, subject_key: int, *, at: int, lookup: bytes, sign: Signer | None = None
    ) -> int:
        with self._lock:
            row = self._subjects[subject_key]
            del self._by_lookup[row.lookup]
            self._subjects[subject_key] = replace(
                row, lookup=lookup, sealed_id=None, wrapped_key=None
            )
            self._by_lookup[lookup] = subject_key
            keys = [
                key
                for key, s in self._records.items()
                if s.subject_key == subject_key and s.purged_at is None
            ]
            return self._tombstone({subject_key: keys}, kind=ERASE, at=at, sign=sign)

    def append_event(
        self, subject_key: int, *, kind: str, at: int, payload: str | None = None
    ) -> LedgerEvent:
        _check_kind(kind)
        with self._lock:
            (event,) = self._chain([(subject_key, kind, at, [], payload)])
        return LedgerEvent(event.seq, subject_key, kind, at, 0, payload)

    def events(self, subject_key: int) -> list[LedgerEvent]:
        return [
            LedgerEvent(e.seq, e.subject_key, e.kind, e.at, e.records, e.payload)
            for e in self._events
            if e.subject_key == subject_key
        ]

    def shred_pending(self) -> bool:
        return False

    def finish_shred(self, *, wait: float) -> ShredResidue | None:
        """Nothing is kept anywhere else."""
        return None

    def backup(self, out: Path) -> None:
        raise StoreError("the memory store keeps nothing to back up", code="backup.unsupported")

    def add_notice(self, subject_key: int, notice: Notice) -> None:
        with self._lock:
            self._notices.setdefault(subject_key, []).append(notice)

    def notices(self, subject_key: int) -> list[Notice]:
        return sorted(self._notices.get(subject_key, []), key=lambda n: n.issued_at)

    def log_access(self, access: Access) -> None:
        with self._lock:
            self._accesses.setdefault(access.subject_key, []).append(access)

    def accesses(self, subject_key: int) -> list[Access]:
        return sorted(self._accesses.get(subject_key, []), key=lambda a: a.at)

    def subject(self, subject_key: int) -> SubjectRow | None:
        return self._subjects.get(subject_key)

    # --- parties and keys ----------------------------------------------------
    def add_party(self, party: PartyRow) -> bool:
        with self._lock:
            if party.name in self._parties:
                return False
            self._parties[party.name] = party
            return True

    def party(self, name: str) -> PartyRow | None:
        return self._parties.get(name)

    def parties(self) -> list[PartyRow]:
        return [self._parties[name] for name in sorted(self._parties)]

    def add_key(self, key: KeyRow) -> None:
        with self._lock:
            self._keys[key.key_id] = key

    def key(self, key_id: str) -> KeyRow | None:
        return self._keys.get(key_id)

    def keys(self, party: str | None = None) -> list[KeyRow]:
        found = [k for k in self._keys.values() if party is None or k.party == party]
        return sorted(found, key=lambda k: (k.created_at, k.key_id))

    def revoke_key(self, key_id: str, *, at: int) -> bool:
        with self._lock:
            key = self._keys.get(key_id)
            if key is None or key.revoked_at is not None:
                return False
            self._keys[key_id] = replace(key, revoked_at=at)
            return True

    # --- sign-ins and sessions -----------------------------------------------
    def add_sign_in(self, token: SignInRow) -> None:
        with self._lock:
            self._sign_ins[token.token_id] = token

    def sign_in(self, token_id: str) -> SignInRow | None:
        return self._sign_ins.get(token_id)

    def use_sign_in(self, token_id: str, *, at: int) -> bool:
        with self._lock:
            token = self._sign_ins.get(token_id)
            if token is None or token.used_at is not None:
                return False
            self._sign_ins[token_id] = replace(token, used_at=at)
            return True

    def add_session(self, session: SessionRow) -> None:
        with self._lock:
            self._sessions[session.session_id] = session

    def session(self, session_id: str) -> SessionRow | None:
        return self._sessions.get(session_id)

    def end_session(self, session_id: str, *, at: int) -> bool:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.ended_at is not None:
                return False
            self._sessions[session_id] = replace(session, ended_at=at)
            return True

    # --- consents and decisions ----------------------------------------------
    def add_consent(self, consent: ConsentRow) -> None:
        with self._lock:
            self._consents[consent.id] = consent

    def consent(self, consent_id: str) -> ConsentRow | None:
        return self._consents.get(consent_id)

    def consents(self, subject_key: int) -> list[ConsentRow]:
        mine = [c for c in self._consents.values() if c.subject_key == subject_key]
        return sorted(mine, key=lambda c: (c.granted_at, c.id))

    def revoke_consent(self, consent_id: str, *, at: int) -> bool:
        with self._lock:
            consent = self._consents.get(consent_id)
            if consent is None or consent.revoked_at is not None:
                return False
            self._consents[consent_id] = replace(consent, revoked_at=at)
            return True

    def add_decision(self, decision: DecisionRow) -> None:
        with self._lock:
            self._decisions.setdefault(decision.subject_key, []).append(decision)

    def decisions(self, subject_key: int) -> list[DecisionRow]:
        return sorted(self._decisions.get(subject_key, []), key=lambda d: (d.at, d.id))

    # --- disputes --------------------------------------------------------------
    def add_dispute(self, dispute: DisputeRow) -> None:
        with self._lock:
            if dispute.id in self._disputes:
                raise StoreError(f"a dispute {dispute.id} is stored already", code="store.conflict")
            self._disputes[dispute.id] = dispute

    def save_dispute(self, dispute: DisputeRow) -> None:
        with self._lock:
            if dispute.id not in self._disputes:
                raise StoreError(f"no dispute {dispute.id} to save")
            self._disputes[dispute.id] = dispute

    def dispute(self, dispute_id: str) -> DisputeRow | None:
        return self._disputes.get(dispute_id)

    def disputes(self, subject_key: int) -> list[DisputeRow]:
        mine = [d for d in self._disputes.values() if d.subject_key == subject_key]
        return sorted(mine, key=lambda d: (d.filed_at, d.id))

    def all_disputes(
        self, *, provider: str | None = None, states: Collection[str] | None = None
    ) -> list[DisputeRow]:
        found = [
            d
            for d in self._disputes.values()
            if (provider is None or d.provider == provider)
            and (states is None or d.state in states)
        ]
        return sorted(found, key=lambda d: (d.filed_at, d.id))

    def close(self) -> None:
        """Nothing to release."""
