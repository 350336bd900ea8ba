"""SQLite group commit: concurrent units of work share one commit, and each lands whole or not at all."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from credence.errors import StoreError
from credence.ledger import Access
from credence.ledger.sqlite import SQLiteStore


class Boom(Exception):
    """Fails a unit of work after it wrote."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    # A group open for a minute is never closed by age here: the tests decide who waits.
    opened = SQLiteStore(tmp_path / "ledger.db", group_wait=60.0)
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()


def _access(subject_key: int, actor: str) -> Access:
    return Access(subject_key, 1, actor, "decide", "test", None, None)


def _durable(path: Path) -> list[str]:
    """The access log's actors as a fresh connection sees them: what was committed."""
    conn = sqlite3.connect(path)
    try:
        return sorted(actor for (actor,) in conn.execute("SELECT actor FROM access_log"))
    finally:
        conn.close()


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "threads did not queue for the writer"
        time.sleep(0.001)


def _grouped(store: SQLiteStore, peers: list[Callable[[], None]]) -> list[BaseException | None]:
    """Run a first unit of work and, while it holds the writer, queue ``peers`` behind it.

    Returns what each raised (None when it returned): the first unit, then the peers.
    """
    holding, release = threading.Event(), threading.Event()
    outcomes: list[BaseException | None] = [None] * (len(peers) + 1)

    def first() -> None:
        with store.transaction():
            store.log_access(_access(1, "first"))
            holding.set()
            release.wait()

    units = [first, *peers]

    def run(index: int) -> None:
        try:
            units[index]()
        except BaseException as e:
            outcomes[index] = e

    threads = [threading.Thread(target=run, args=(0,))]
    threads[0].start()
    holding.wait()
    for index in range(1, len(units)):
        thread = threading.Thread(target=run, args=(index,))
        thread.start()
        threads.append(thread)
    _wait_until(lambda: store._waiting == len(peers))
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_concurrent_units_of_work_share_one_commit(store: SQLiteStore, tmp_path: Path) -> None:
    before = store.commits

    def peer(name: str) -> Callable[[], None]:
        def unit() -> None:
            with store.transaction():
                store.log_access(_access(2, name))

        return unit

    outcomes = _grouped(store, [peer(f"peer-{i}") for i in range(5)])
    assert outcomes == [None] * 6
    assert store.commits == before + 1  # six units of work, one fsync
    assert _durable(tmp_path / "ledger.db") == sorted(["first"] + [f"peer-{i}" for i in range(5)])


def test_a_failing_unit_of_work_in_a_group_loses_only_its_own_writes(
    store: SQLiteStore, tmp_path: Path
) -> None:
    def failing() -> None:
        with store.transaction():
            store.log_access(_access(2, "failing"))
            raise Boom

    def fine() -> None:
        with store.transaction():
            store.log_access(_access(3, "fine"))

    outcomes = _grouped(store, [failing, fine])
    assert outcomes[0] is None
    assert isinstance(outcomes[1], Boom)
    assert outcomes[2] is None
    assert _durable(tmp_path / "ledger.db") == ["fine", "first"]
    assert [a.actor for a in store.accesses(2)] == []


def test_a_commit_that_fails_fails_every_unit_of_work_in_its_group(
    store: SQLiteStore, tmp_path: Path
) -> None:
    # A deferred foreign key is checked only at COMMIT: a unit of work that breaks it
    # ends cleanly, and the group's commit then fails for every member.
    conn = sqlite3.connect(tmp_path / "ledger.db")
    conn.executescript(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);"
    )
    conn.close()

    def orphan() -> None:
        with store.transaction():
            store.log_access(_access(2, "orphan"))
            store._run("INSERT INTO child (parent) VALUES (?)", (42,))

    outcomes = _grouped(store, [orphan])
    assert all(isinstance(outcome, StoreError) for outcome in outcomes), outcomes
    assert "FOREIGN KEY" in str(outcomes[0])
    assert _durable(tmp_path / "ledger.db") == []  # neither the orphan's unit nor the first
    # The writer is usable again afterwards.
    store.log_access(_access(4, "after"))
    assert _durable(tmp_path / "ledger.db") == ["after"]


def test_a_first_unit_of_work_raised_commits_nothing_and_returns(store: SQLiteStore) -> None:
    with pytest.raises(Boom), store.transaction():
        store.log_access(_access(1, "gone"))
        raise Boom
    assert store.accesses(1) == []
    store.log_access(_access(1, "kept"))
    assert [a.actor for a in store.accesses(1)] == ["kept"]


def test_a_group_commits_at_its_size_limit(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "ledger.db", group_max=2, group_wait=60.0)
    try:
        store.migrate()
        before = store.commits

        def peer(name: str) -> Callable[[], None]:
            def unit() -> None:
                with store.transaction():
                    store.log_access(_access(2, name))

            return unit

        assert _grouped(store, [peer("a"), peer("b"), peer("c")]) == [None] * 4
        assert store.commits == before + 2  # {first, a}, {b, c}
        assert _durable(tmp_path / "ledger.db") == ["a", "b", "c", "first"]
    finally:
        store.close()


def test_many_threads_each_see_their_own_unit_of_work_land(
    store: SQLiteStore, tmp_path: Path
) -> None:
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for n in range(20):
                with store.transaction():
                    store.log_access(_access(index, f"{index}-{n}"))
                    if n % 7 == 3:
                        raise Boom
        except Boom:
            pass
        except BaseException as e:
            errors.append(e)

    def steady(index: int) -> None:
        try:
            for n in range(20):
                with store.transaction():
                    store.log_access(_access(100 + index, f"s{index}-{n}"))
                # Once the block returns, the write is committed: a fresh connection sees it.
                assert f"s{index}-{n}" in _durable(tmp_path / "ledger.db")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=steady, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    durable = _durable(tmp_path / "ledger.db")
    assert sorted(a for a in durable if a.startswith("s")) == sorted(
        f"s{i}-{n}" for i in range(4) for n in range(20)
    )
    # The failing units of work (n = 3, raised at once) left nothing.
    assert [a for a in durable if a[0].isdigit()] == sorted(
        f"{i}-{n}" for i in range(4) for n in range(3)
    )
