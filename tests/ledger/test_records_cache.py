"""The SQLite store's cache of decoded records always equals a fresh read of the ledger.

A second store opened on the same file has an empty cache, so what it reads is
the ledger as it is; after every kind of change the cached store must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_data import T0, record, subject

from credence.ledger import NewSubject
from credence.ledger.sqlite import SQLiteStore

ALICE = subject("alice")


class Boom(Exception):
    """Rolls a unit of work back."""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    store = SQLiteStore(tmp_path / "ledger.db")
    store.migrate()
    store.close()
    return tmp_path / "ledger.db"


@pytest.fixture
def stores(path: Path) -> Iterator[tuple[SQLiteStore, SQLiteStore]]:
    cached, fresh = SQLiteStore(path), SQLiteStore(path)
    try:
        yield cached, fresh
    finally:
        cached.close()
        fresh.close()


def _key(store: SQLiteStore, who: NewSubject = ALICE) -> int:
    return store.find_subjects([who.lookup])[who.lookup].key


def _agree(cached: SQLiteStore, fresh: SQLiteStore, key: int) -> None:
    fresh._records_cache.clear()  # a read of the ledger as it is
    assert cached.records(key) == fresh.records(key)


def test_a_repeated_read_is_served_from_the_cache(
    stores: tuple[SQLiteStore, SQLiteStore],
) -> None:
    cached, _fresh = stores
    cached.append([ALICE], [record(ALICE.lookup, "a1")], ingested_at=T0)
    key = _key(cached)
    first = cached.records(key)
    assert key in cached._records_cache
    assert cached.records(key) == first


def test_every_change_to_a_subjects_records_is_seen(
    stores: tuple[SQLiteStore, SQLiteStore],
) -> None:
    cached, fresh = stores
    bob = subject("bob")
    cached.append(
        [ALICE, bob],
        [record(ALICE.lookup, "a1"), record(ALICE.lookup, "a2"), record(bob.lookup, "b1")],
        ingested_at=T0,
    )
    key = _key(cached)
    _agree(cached, fresh, key)
    # Appended by another store (another server process): the cached one sees it.
    fresh.append([], [record(ALICE.lookup, "a3", occurred_at=T0 + 1)], ingested_at=T0)
    _agree(cached, fresh, key)
    assert len(cached.records(key)) == 3
    # A retraction is a new record.
    fresh.append([], [record(ALICE.lookup, "r1", retracts="a1")], ingested_at=T0)
    _agree(cached, fresh, key)
    # A purge changes no record's seq, only the subject's events.
    assert fresh.purge([("bank-a", "a2")], at=T0 + 5) == 1
    _agree(cached, fresh, key)
    assert [r.provider_event_id for r in cached.records(key)] == ["a1", "r1", "a3"]
    # Another subject's writes leave alice's entry as it is, and correct.
    fresh.append([], [record(bob.lookup, "b2")], ingested_at=T0)
    _agree(cached, fresh, key)
    # Erasure tombstones everything.
    assert fresh.erase_subject(key, at=T0 + 9, lookup=b"\x05" * 32) == 3
    _agree(cached, fresh, key)
    assert cached.records(key) == []


def test_a_rolled_back_write_read_inside_its_unit_of_work_is_not_served_later(
    stores: tuple[SQLiteStore, SQLiteStore],
) -> None:
    cached, fresh = stores
    cached.append([ALICE], [record(ALICE.lookup, "a1")], ingested_at=T0)
    key = _key(cached)
    with pytest.raises(Boom), cached.transaction():
        cached.append([], [record(ALICE.lookup, "gone", attributes={"x": 1})], ingested_at=T0)
        assert len(cached.records(key)) == 2  # cached as the unit of work saw it
        raise Boom
    # The same seq now holds a different record: the chain hash tells them apart.
    cached.append([], [record(ALICE.lookup, "kept", attributes={"x": 2})], ingested_at=T0)
    _agree(cached, fresh, key)
    assert [r.provider_event_id for r in cached.records(key)] == ["a1", "kept"]


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 3), st.booleans()),
        st.tuples(st.just("purge"), st.integers(0, 30), st.booleans()),
        st.tuples(st.just("retract"), st.integers(0, 30), st.booleans()),
        st.tuples(st.just("read"), st.integers(0, 1), st.booleans()),
    ),
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_the_cache_equals_a_fresh_read_after_any_sequence_of_changes(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, bool]]
) -> None:
    folder = tmp_path_factory.mktemp("cache")
    setup = SQLiteStore(folder / "ledger.db")
    setup.migrate()
    setup.close()
    cached, fresh = SQLiteStore(folder / "ledger.db"), SQLiteStore(folder / "ledger.db")
    people = [ALICE, subject("bob")]
    try:
        cached.append(
            people, [record(p.lookup, f"seed-{i}") for i, p in enumerate(people)], ingested_at=T0
        )
        keys = [_key(cached, p) for p in people]
        made = 0
        for op, n, rolled_back in ops:
            writer = cached if n % 2 else fresh
            try:
                with writer.transaction():
                    if op == "append":
                        writer.append(
                            [],
                            [
                                record(
                                    people[i % 2].lookup,
                                    f"e{made + i}",
                                    occurred_at=T0 + made + i,
                                    attributes={"n": made + i},
                                )
                                for i in range(n + 1)
                            ],
                            ingested_at=T0,
                        )
                        made += n + 1
                    elif op == "purge":
                        writer.purge([("bank-a", f"e{n}")], at=T0 + 100 + made)
                    elif op == "retract":
                        writer.append(
                            [],
                            [record(people[n % 2].lookup, f"r{made}", retracts=f"e{n}")],
                            ingested_at=T0,
                        )
                        made += 1
                    for key in keys:
                        cached.records(key) if writer is cached else None
                    if rolled_back:
                        raise Boom
            except Boom:
                pass
            for key in keys:
                _agree(cached, fresh, key)
    finally:
        cached.close()
        fresh.close()
