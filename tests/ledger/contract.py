"""The contract every ledger backend passes: memory, SQLite and PostgreSQL.

Each test takes the ``store`` fixture (tests/ledger/conftest.py), which is
parameterised over every backend by ``store_url``; ``test_contract.py``
collects them.
"""

from __future__ import annotations

import inspect
import random
from dataclasses import replace
from pathlib import Path

import pytest
from ledger_data import KEYS, T0, batch, record, subject

from credence.errors import StoreNotInitialised
from credence.ledger import Access, Store, StoredCandidate, StoredPolicy, open_store
from credence.ledger.chain import GENESIS, NO_EVENTS, EventsHead, Head
from credence.types import Notice

__all__ = [
    "test_a_subject_is_not_created_for_records_all_stored_before",
    "test_append_is_atomic",
    "test_append_is_idempotent",
    "test_attributes_keep_their_types",
    "test_chain_covers_every_append_and_verifies",
    "test_conflicting_resend_is_reported_and_not_written",
    "test_duplicates_inside_one_batch",
    "test_erase_shreds_the_subject_and_keeps_the_chain",
    "test_events_of_other_kinds_are_chained",
    "test_find_record_subjects",
    "test_find_subjects_by_lookup",
    "test_meta_round_trip",
    "test_migrate_then_check_schema",
    "test_no_plaintext_identifiers_at_rest",
    "test_notices_and_access_log_round_trip",
    "test_policy_add_and_active",
    "test_policy_versions_keep_effective_times_and_candidates",
    "test_purge_and_erase_events_are_signed",
    "test_purge_leaves_tombstones_that_verify",
    "test_purges_and_erasures_are_chained_events",
    "test_records_come_back_in_count_order",
    "test_retractions_are_stored_as_records",
    "test_subjects_are_registered_once",
    "test_subjects_with_records_streams_every_subject",
]


def test_migrate_then_check_schema(store_url: str) -> None:
    opened = open_store(store_url)
    try:
        if store_url != "memory:":
            with pytest.raises(StoreNotInitialised) as caught:
                opened.check_schema()
            assert "credence init --db" in caught.value.one_line()
        opened.migrate()
        opened.check_schema()
        opened.migrate()  # upgrading a current schema changes nothing
        opened.check_schema()
    finally:
        opened.close()


def test_meta_round_trip(store: Store) -> None:
    assert store.get_meta("key_fingerprint") is None
    store.set_meta("key_fingerprint", "abc")
    store.set_meta("key_fingerprint", KEYS.fingerprint)
    store.set_meta("other", "x")
    assert store.get_meta("key_fingerprint") == KEYS.fingerprint
    assert store.get_meta("other") == "x"


def test_policy_add_and_active(store: Store) -> None:
    assert store.active_policy() is None
    first = StoredPolicy("consumer-trust", "1", "d1", "credence: 1\n", T0)
    second = StoredPolicy("consumer-trust", "2", "d2", "credence: 1\nname: é\n", T0 + 5)
    store.add_policy(first)
    assert store.active_policy() == first
    store.add_policy(second)
    assert store.active_policy() == second


def test_policy_versions_keep_effective_times_and_candidates(store: Store) -> None:
    assert store.policy_versions() == [] and store.candidates() == []
    first = StoredPolicy("consumer-trust", "1", "d1", "credence: 1\n", T0)
    later = StoredPolicy("consumer-trust", "2", "d2", "credence: 1\n#2\n", T0 + 5, T0 + 99)
    store.add_policy(first)
    store.add_policy(later)
    assert store.policy_versions() == [first, later]
    assert [v.effective for v in store.policy_versions()] == [T0, T0 + 99]
    proposal = StoredCandidate("consumer-trust", "3", "d3", "credence: 1\n#3\n", T0 + 7)
    store.propose_policy(proposal)
    store.propose_policy(proposal)  # once per digest
    assert store.candidates() == [proposal]
    assert store.active_policy() == later  # a proposal is not a version


def test_append_is_idempotent(store: Store) -> None:
    people, records = batch(50)
    first = store.append(people, records, ingested_at=T0)
    assert (first.inserted, first.unchanged, first.conflicts) == (50, [], [])
    counts = store.counts()
    assert counts == {"subjects": 10, "records": 50}
    again = store.append(people, records, ingested_at=T0 + 1)
    assert (again.inserted, again.unchanged, again.conflicts) == (0, list(range(50)), [])
    assert store.counts() == counts


def test_conflicting_resend_is_reported_and_not_written(store: Store) -> None:
    alice = subject("alice")
    original = record(alice.lookup, "e1", attributes={"days_late": 0})
    store.append([alice], [original], ingested_at=T0)
    changed = record(alice.lookup, "e1", attributes={"days_late": 90})
    fresh = record(alice.lookup, "e2")
    result = store.append([alice], [changed, fresh], ingested_at=T0)
    assert (result.inserted, result.unchanged, result.conflicts) == (1, [], [0])
    (key,) = store.find_subjects([alice.lookup]).values()
    stored = {r.provider_event_id: r for r in store.records(key.key)}
    assert stored["e1"].attributes == {"days_late": 0}
    assert set(stored) == {"e1", "e2"}


def test_duplicates_inside_one_batch(store: Store) -> None:
    alice = subject("alice")
    a = record(alice.lookup, "a", attributes={"n": 1})
    a_same = record(alice.lookup, "a", attributes={"n": 1})
    a_other = record(alice.lookup, "a", attributes={"n": 2})
    b = record(alice.lookup, "b")
    result = store.append([alice, alice], [a, a_same, a_other, b], ingested_at=T0)
    assert (result.inserted, result.unchanged, result.conflicts) == (2, [1], [2])
    assert store.counts() == {"subjects": 1, "records": 2}
    # Against a stored key, in-batch duplicates are compared with what is stored.
    again = store.append([], [a_other, a, b, b], ingested_at=T0)
    assert (again.inserted, again.unchanged, again.conflicts) == (0, [1, 2, 3], [0])


def test_append_is_atomic(store: Store) -> None:
    store.append(*batch(5, subjects=2), ingested_at=T0)
    before = store.counts()
    bob = subject("bob")
    stranger = subject("stranger")  # never passed as a new subject
    records = [record(bob.lookup, f"b{i}") for i in range(20)]
    records.insert(10, record(stranger.lookup, "s1"))
    with pytest.raises(ValueError, match="record 10"):
        store.append([bob], records, ingested_at=T0)
    assert store.counts() == before
    assert store.find_subjects([bob.lookup]) == {}
    assert store.find_record_subjects([("bank-a", "b0")]) == {}
    # The store is still usable, and the same batch without the stranger lands whole.
    del records[10]
    assert store.append([bob], records, ingested_at=T0).inserted == 20


def test_subjects_are_registered_once(store: Store) -> None:
    alice = subject("alice")
    store.append([alice], [], ingested_at=T0)
    resealed = subject("alice")  # same lookup, new sealed copy: the stored one stays
    store.append([resealed], [record(alice.lookup, "e1")], ingested_at=T0 + 9)
    found = store.find_subjects([alice.lookup])[alice.lookup]
    assert found.sealed_id == alice.sealed_id
    assert found.created_at == T0
    assert store.counts() == {"subjects": 1, "records": 1}


def test_records_come_back_in_count_order(store: Store) -> None:
    alice = subject("alice")
    records = [
        record(alice.lookup, event_id, provider=provider, occurred_at=T0 + at)
        for at, provider, event_id in [
            (5, "bank-a", "z"),
            (5, "bank-a", "a"),
            (5, "a-utility", "m"),
            (1, "court", "q"),
            (9, "bank-a", "b"),
            (5, "bank-a", "a10"),
        ]
    ]
    random.Random(7).shuffle(records)
    store.append([alice], records, ingested_at=T0)
    (row,) = store.find_subjects([alice.lookup]).values()
    got = [r.order for r in store.records(row.key)]
    assert got == sorted(r.record.order for r in records)
    assert got == [r.order for r in store.records(row.key)]  # stable across reads


def test_retractions_are_stored_as_records(store: Store) -> None:
    alice = subject("alice")
    original = record(alice.lookup, "e1", attributes={"days_late": 45}, evidence="sha256:ab")
    withdrawal = record(alice.lookup, "e1-retract", occurred_at=T0 + 10, retracts="e1")
    store.append([alice], [original, withdrawal], ingested_at=T0)
    (row,) = store.find_subjects([alice.lookup]).values()
    assert store.records(row.key) == [original.record, withdrawal.record]


def test_attributes_keep_their_types(store: Store) -> None:
    alice = subject("alice")
    attributes = {"count": 3, "ratio": 2.0, "late": True, "paid": False, "note": "ü", "big": 2**53}
    store.append([alice], [record(alice.lookup, "e1", attributes=attributes)], ingested_at=T0)
    (row,) = store.find_subjects([alice.lookup]).values()
    (got,) = store.records(row.key)
    assert dict(got.attributes) == attributes
    assert {k: type(v) for k, v in got.attributes.items()} == {
        k: type(v) for k, v in attributes.items()
    }


def test_find_subjects_by_lookup(store: Store) -> None:
    alice, bob = subject("alice"), subject("bob", scheme="cn.ric", kind="organization")
    store.append([alice, bob], [], ingested_at=T0)
    found = store.find_subjects([bob.lookup, subject("nobody").lookup, alice.lookup])
    assert set(found) == {alice.lookup, bob.lookup}
    row = found[bob.lookup]
    assert (row.kind, row.scheme, row.created_at) == ("organization", "cn.ric", T0)
    assert row.sealed_id is not None and row.wrapped_key is not None
    assert KEYS.open(row.sealed_id, row.wrapped_key) == "bob"
    assert found[alice.lookup].key != row.key
    assert store.find_subjects([]) == {}


def test_find_record_subjects(store: Store) -> None:
    people, records = batch(30, subjects=3)
    store.append(people, records, ingested_at=T0)
    keys = {
        lookup: row.key for lookup, row in store.find_subjects([p.lookup for p in people]).items()
    }
    wanted = [r.record.key for r in records[:7]] + [("bank-a", "missing"), ("other", "e1")]
    found = store.find_record_subjects(wanted)
    assert found == {r.record.key: keys[r.subject_lookup] for r in records[:7]}


def test_notices_and_access_log_round_trip(store: Store) -> None:
    people, records = batch(4, subjects=2)
    store.append(people, records, ingested_at=T0)
    first, second = (row.key for row in store.subjects())
    later = Notice("rental_suspension", T0 + 20, T0 + 30, None)
    earlier = Notice("rental_suspension", T0 + 10, T0 + 20, T0 + 99)
    store.add_notice(first, later)
    store.add_notice(first, earlier)
    store.add_notice(second, Notice("other", T0, T0, None))
    assert store.notices(first) == [earlier, later]
    assert store.notices(999_999) == []
    seen = Access(first, T0 + 5, "landlord-7", "decision", "housing")
    read = Access(first, T0 + 1, "operator", "read", "dispute review")
    store.log_access(seen)
    store.log_access(read)
    store.log_access(Access(second, T0, "bank", "decision", "lending"))
    assert store.accesses(first) == [read, seen]
    assert [a.actor for a in store.accesses(second)] == ["bank"]


def test_subjects_with_records_streams_every_subject(store: Store) -> None:
    people, records = batch(3_000, subjects=1_200)
    lonely = subject("no-records-yet")
    store.append([*people, lonely], records, ingested_at=T0)
    stream = store.subjects_with_records()
    assert inspect.isgenerator(stream)  # nothing is read until asked for
    seen = list(stream)
    assert [row.key for row, _ in seen] == [row.key for row in store.subjects()]
    assert len(seen) == 1_201
    for row, recs in seen[:50] + seen[-5:]:
        assert recs == store.records(row.key)
    lonely_key = store.find_subjects([lonely.lookup])[lonely.lookup].key
    assert dict((row.key, recs) for row, recs in seen)[lonely_key] == []
    assert sum(len(recs) for _, recs in seen) == 3_000


def _sqlite_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def _postgres_values(url: str) -> list[bytes]:
    import psycopg

    values: list[bytes] = []
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN ('text', 'bytea', 'character varying')"
        ).fetchall()
        for table, column in columns:
            for (value,) in conn.execute(f'SELECT "{column}" FROM "{table}"'):
                if value is not None:
                    values.append(value if isinstance(value, bytes) else value.encode())
    return values


def test_no_plaintext_identifiers_at_rest(store: Store, store_url: str) -> None:
    if store_url == "memory:":
        pytest.skip("the memory store keeps nothing at rest")
    identifiers = ["11010519491231002X", "alice@example.org", "ID-PLAIN-7F3A9C"]
    people = [subject(i, scheme="cn.ric") for i in identifiers]
    records = [record(p.lookup, f"marker-event-{n}") for n, p in enumerate(people)]
    store.append(people, records, ingested_at=T0)
    store.add_notice(1, Notice("rental_suspension", T0, T0, None))
    if store_url.startswith("postgresql"):
        haystack = b"\n".join(_postgres_values(store_url))
    else:
        haystack = _sqlite_bytes(Path(store_url))
    assert b"marker-event-2" in haystack  # the scan does see what is stored
    for identifier in identifiers:
        assert identifier.encode() not in haystack
        assert identifier.encode("utf-16-le") not in haystack


def test_chain_covers_every_append_and_verifies(store: Store) -> None:
    assert store.chain_head() == Head(0, GENESIS, 0, NO_EVENTS)
    assert store.verify().ok
    people, records = batch(60, subjects=7)
    store.append(people, records[:30], ingested_at=T0)
    first = store.chain_head()
    assert first.records == 30 and first.chain_hash != GENESIS
    again = store.append(people, [*records[:35], records[3]], ingested_at=T0 + 1)  # 5 new
    assert again.inserted == 5
    store.append(people, records[35:], ingested_at=T0 + 2)
    head = store.chain_head()
    assert head.records == 60 and head.seq >= 60
    report = store.verify()
    assert report.ok and report.head == head and report.checked_content == 60
    assert store.verify(checkpoint=first).checkpoint_seen
    forged = Head(first.seq, bytes(32), first.records)
    problem = store.verify(checkpoint=forged).problem
    assert problem is not None and problem.seq == first.seq


def test_purge_leaves_tombstones_that_verify(store: Store) -> None:
    alice = subject("alice")
    kept = record(alice.lookup, "kept", attributes={"days_late": 0})
    old = record(alice.lookup, "old", attributes={"days_late": 90}, evidence="https://e/1")
    store.append([alice], [kept, old], ingested_at=T0)
    head = store.chain_head()
    assert store.purge([("bank-a", "old"), ("bank-a", "missing")], at=T0 + 5) == 1
    assert store.purge([("bank-a", "old")], at=T0 + 6) == 0  # already a tombstone
    (row,) = store.find_subjects([alice.lookup]).values()
    assert store.records(row.key) == [kept.record]
    assert [r for _, r in store.subjects_with_records()] == [[kept.record]]
    assert store.counts() == {"subjects": 1, "records": 2}
    after = store.chain_head()
    assert (after.seq, after.chain_hash, after.records) == (head.seq, head.chain_hash, head.records)
    assert after.events is not None and after.events.events == 1  # one purge event
    report = store.verify()
    assert report.ok and (report.checked_content, report.tombstones) == (1, 1)
    again = store.append([alice], [old], ingested_at=T0 + 7)  # the key is kept
    assert (again.inserted, again.unchanged) == (0, [0])


def test_erase_shreds_the_subject_and_keeps_the_chain(store: Store) -> None:
    alice, bob = subject("alice"), subject("bob")
    records = [record(alice.lookup, f"a{i}", attributes={"note": "secret"}) for i in range(3)]
    store.append([alice, bob], [*records, record(bob.lookup, "b1")], ingested_at=T0)
    row = store.find_subjects([alice.lookup])[alice.lookup]
    assert store.erase_subject(row.key, at=T0 + 9, lookup=b"\x07" * 32) == 3
    assert store.find_subjects([alice.lookup]) == {}
    (erased,) = [r for r in store.subjects() if r.key == row.key]
    assert (erased.sealed_id, erased.wrapped_key, erased.lookup) == (None, None, b"\x07" * 32)
    assert store.records(row.key) == []
    assert store.counts() == {"subjects": 2, "records": 4}
    report = store.verify()
    assert report.ok and report.tombstones == 3


def test_a_subject_is_not_created_for_records_all_stored_before(store: Store) -> None:
    """Resending an erased subject's records must not register its identifier again."""
    alice, bob, carol = subject("alice"), subject("bob"), subject("carol")
    first = [record(alice.lookup, "a1"), record(alice.lookup, "a2")]
    store.append([alice], first, ingested_at=T0)
    row = store.find_subjects([alice.lookup])[alice.lookup]
    store.erase_subject(row.key, at=T0 + 1, lookup=b"\x07" * 32)
    # The provider sends alice's records again (unchanged: their keys are kept), one
    # under another subject (a conflict), and bob's first record beside them.
    stray = record(carol.lookup, "a1")
    result = store.append(
        [alice, bob, carol],
        [*first, stray, record(bob.lookup, "b1")],
        ingested_at=T0 + 2,
    )
    assert (result.inserted, result.unchanged, result.conflicts) == (1, [0, 1], [2])
    assert set(store.find_subjects([alice.lookup, bob.lookup, carol.lookup])) == {bob.lookup}
    assert store.counts() == {"subjects": 2, "records": 3}
    # A new record of alice's registers her again: that is new data, not a resend.
    again = store.append([alice], [*first, record(alice.lookup, "a3")], ingested_at=T0 + 3)
    assert (again.inserted, again.unchanged) == (1, [0, 1])
    assert set(store.find_subjects([alice.lookup])) == {alice.lookup}
    # A subject given with no record at all is created, as before.
    dave = subject("dave")
    store.append([dave], [], ingested_at=T0 + 4)
    assert set(store.find_subjects([dave.lookup])) == {dave.lookup}
    assert store.counts() == {"subjects": 4, "records": 4}
    assert store.verify().ok


def test_purges_and_erasures_are_chained_events(store: Store) -> None:
    alice, bob = subject("alice"), subject("bob")
    made = [record(alice.lookup, f"a{i}") for i in range(4)] + [record(bob.lookup, "b1")]
    store.append([alice, bob], made, ingested_at=T0)
    found = store.find_subjects([alice.lookup, bob.lookup])
    a, b = found[alice.lookup].key, found[bob.lookup].key
    before = store.chain_head()
    assert before.events == NO_EVENTS
    # One purge over two subjects: one event for each, naming its own records.
    assert store.purge([("bank-a", "a0"), ("bank-a", "a2"), ("bank-a", "b1")], at=T0 + 5) == 3
    assert [(e.kind, e.at, e.records) for e in store.events(a)] == [("purge", T0 + 5, 2)]
    assert [(e.kind, e.records) for e in store.events(b)] == [("purge", 1)]
    assert store.purge([("bank-a", "a0")], at=T0 + 6) == 0  # nothing purged: no event
    purged = store.chain_head()
    assert purged.events is not None and purged.events.events == 2
    # Erasure tombstones the rest under one erase event; an already purged record keeps its own.
    assert store.erase_subject(a, at=T0 + 9, lookup=b"\x05" * 32) == 2
    assert [(e.kind, e.records) for e in store.events(a)] == [("purge", 2), ("erase", 2)]
    # A subject with no live record is erased by an event all the same.
    assert store.erase_subject(b, at=T0 + 10, lookup=b"\x06" * 32) == 0
    assert [(e.kind, e.records) for e in store.events(b)] == [("purge", 1), ("erase", 0)]
    report = store.verify()
    assert report.ok and report.tombstones == 5
    head = store.chain_head()
    assert report.head == head and head.events is not None and head.events.events == 4
    # Checkpoints cover the event chain: one taken before still passes, a forged one fails.
    assert store.verify(checkpoint=purged).checkpoint_seen
    assert store.verify(checkpoint=replace(purged, events=None)).ok  # an older checkpoint
    forged = replace(purged, events=EventsHead(2, bytes(32)))
    problem = store.verify(checkpoint=forged).problem
    assert problem is not None and problem.event == 2
    beyond = replace(head, events=EventsHead(9, head.events.chain_hash))
    problem = store.verify(checkpoint=beyond).problem
    assert problem is not None and "removed from the tail" in problem.what


def test_events_of_other_kinds_are_chained(store: Store) -> None:
    alice = subject("alice")
    store.append([alice], [record(alice.lookup, "a1")], ingested_at=T0)
    (row,) = store.find_subjects([alice.lookup]).values()
    event = store.append_event(row.key, kind="dispute.filed", at=T0 + 1, payload='{"record":"a1"}')
    assert (event.seq, event.kind, event.records) == (1, "dispute.filed", 0)
    assert store.events(row.key) == [event]
    assert store.events(row.key + 1) == []
    for kind in ("purge", "erase", "legacy_purge", "legacy_erase", ""):
        with pytest.raises(ValueError):
            store.append_event(row.key, kind=kind, at=T0 + 2)
    head = store.chain_head()
    assert head.events is not None and head.events.events == 1
    assert store.verify().ok


def test_purge_and_erase_events_are_signed(store: Store) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from credence.signing import public_bytes

    key = Ed25519PrivateKey.generate()
    public = public_bytes(key.public_key())
    alice, bob = subject("alice"), subject("bob")
    made = [record(alice.lookup, "a1"), record(alice.lookup, "a2"), record(bob.lookup, "b1")]
    store.append([alice, bob], made, ingested_at=T0)
    found = store.find_subjects([alice.lookup, bob.lookup])
    assert store.purge([("bank-a", "a1")], at=T0 + 1, sign=key.sign) == 1
    store.erase_subject(found[bob.lookup].key, at=T0 + 2, lookup=b"\x03" * 32, sign=key.sign)
    assert store.verify(public_key=public).ok
    other = public_bytes(Ed25519PrivateKey.generate().public_key())
    problem = store.verify(public_key=other).problem
    assert problem is not None and problem.event == 1 and "not signed" in problem.what
    signed = store.chain_head()
    store.purge([("bank-a", "a2")], at=T0 + 3)  # unsigned: as if written outside Credence
    problem = store.verify(public_key=public).problem
    assert problem is not None and problem.event == 3
    assert store.verify().ok  # without the key it cannot be told
    # A checkpoint vouches for the events it covers; after it, signatures are required.
    covering = store.chain_head()
    assert store.verify(checkpoint=covering, public_key=public).ok
    problem = store.verify(checkpoint=signed, public_key=public).problem
    assert problem is not None and problem.event == 3
