"""SQLite commits left for later on an event loop: requests the loop runs together share
one commit, and each answers only once its writes are durable."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from credence.api.deps import on_store
from credence.errors import StoreError
from credence.ledger import Access
from credence.ledger.commits import Later
from credence.ledger.memory import MemoryStore
from credence.ledger.sqlite import SQLiteStore
from credence.service.ledger import Ledger


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
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


async def _request(store: SQLiteStore, unit: Callable[[], None], seen: list[list[str]]) -> None:
    """What ``on_store`` does with a call: run it inside ``commit_later``, then await."""
    later = Later()
    try:
        with store.commit_later() as later:
            unit()
        seen.append(_durable(Path(store.path)))  # before it may answer
    finally:
        await later.durable()


def _writes(store: SQLiteStore, subject_key: int, actor: str) -> Callable[[], None]:
    def unit() -> None:
        with store.transaction():
            store.log_access(_access(subject_key, actor))

    return unit


def test_requests_run_together_share_one_commit_and_answer_once_durable(
    store: SQLiteStore, tmp_path: Path
) -> None:
    before = store.commits
    seen: list[list[str]] = []

    async def main() -> None:
        await asyncio.gather(*(_request(store, _writes(store, 1, f"r{i}"), seen) for i in range(5)))

    asyncio.run(main())
    assert store.commits == before + 1  # five requests, one fsync
    assert seen == [[]] * 5  # none was committed while its call ran
    assert _durable(tmp_path / "ledger.db") == [f"r{i}" for i in range(5)]


def test_a_read_after_the_calls_own_write_sees_it(store: SQLiteStore) -> None:
    found: list[list[str]] = []

    def unit() -> None:
        with store.transaction():
            store.log_access(_access(1, "mine"))
        # Outside the unit of work, not committed yet: it must still see its own write.
        found.append([a.actor for a in store.accesses(1)])

    asyncio.run(_request(store, unit, []))
    assert found == [["mine"]]


def test_a_failed_commit_fails_every_request_that_joined_it(
    store: SQLiteStore, tmp_path: Path
) -> None:
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

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(
            _request(store, _writes(store, 1, "fine"), []),
            _request(store, orphan, []),
            return_exceptions=True,
        )

    outcomes = asyncio.run(main())
    assert all(isinstance(o, StoreError) and "FOREIGN KEY" in str(o) for o in outcomes), outcomes
    assert _durable(tmp_path / "ledger.db") == []
    store.log_access(_access(3, "after"))  # the writer is usable again
    assert _durable(tmp_path / "ledger.db") == ["after"]


def test_a_thread_that_joins_the_loops_open_group_commits_it_and_wakes_the_loop(
    store: SQLiteStore, tmp_path: Path
) -> None:
    before = store.commits

    async def main() -> None:
        with store.commit_later() as later:
            _writes(store, 1, "loop")()
        # A pool thread (a web page) writes while the loop's group is open: it joins it,
        # and, nobody else waiting, commits it.
        thread = threading.Thread(target=_writes(store, 2, "thread"))
        thread.start()
        thread.join(timeout=30)
        assert _durable(tmp_path / "ledger.db") == ["loop", "thread"]
        await asyncio.wait_for(later.durable(), timeout=30)

    asyncio.run(main())
    assert store.commits == before + 1


def test_a_request_that_only_reads_keeps_one_connection_until_the_store_closes(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "ledger.db")
    store.migrate()

    async def reads() -> None:
        for _ in range(3):
            with store.commit_later() as later:
                # A key check's two single reads, as an API request makes them.
                assert store.key("no-such-key") is None
                assert store.party("nobody") is None
            await later.durable()

    asyncio.run(reads())
    assert len(store._kept) == 1  # one connection for the loop's thread, not one per read
    kept = store._kept[0].driver_connection
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        kept.execute("SELECT 1")


def test_a_store_that_commits_as_it_goes_leaves_nothing_for_later() -> None:
    store = MemoryStore()
    store.migrate()

    async def main() -> None:
        with store.commit_later() as later:
            store.log_access(_access(1, "now"))
        await later.durable()

    asyncio.run(main())
    assert [a.actor for a in store.accesses(1)] == ["now"]


def _on_store(store: SQLiteStore) -> Ledger:
    ledger = Ledger.__new__(Ledger)
    ledger.store = store
    return ledger


def _holding_the_writer(store: SQLiteStore) -> tuple[threading.Thread, threading.Event]:
    """Another process's unit of work holding the writer until the event is set."""
    holding, release = threading.Event(), threading.Event()

    def other_process() -> None:
        with store.transaction():
            store.log_access(_access(1, "other"))
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=other_process)
    thread.start()
    assert holding.wait(30)
    return thread, release


def test_a_request_waits_for_another_processs_writer_without_stopping_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    other, ours = SQLiteStore(path), SQLiteStore(path, busy_timeout=30)
    other.migrate()
    try:
        thread, release = _holding_the_writer(other)
        runs: list[int] = []
        ticks: list[int] = []

        def decide() -> str:
            runs.append(1)
            with ours.transaction():
                ours.log_access(_access(2, "ours"))
            return "done"

        async def ticker() -> None:  # other requests the loop serves meanwhile
            for i in range(5):
                ticks.append(i)
                await asyncio.sleep(0.01)
            release.set()

        async def main() -> list[str | None]:
            return await asyncio.gather(on_store(_on_store(ours), decide), ticker())

        assert asyncio.run(main())[0] == "done"
        thread.join(30)
        assert ticks == [0, 1, 2, 3, 4]  # the loop ran while the request waited
        assert len(runs) == 2  # sent back once before it had written anything, then run
        assert _durable(path) == ["other", "ours"]
    finally:
        other.close()
        ours.close()


def test_a_turn_taken_for_a_call_that_then_writes_nothing_is_given_back(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    # A second's patience: a turn not given back makes its last write fail, not wait.
    other, ours = SQLiteStore(path, busy_timeout=1), SQLiteStore(path, busy_timeout=30)
    other.migrate()
    try:
        thread, release = _holding_the_writer(other)
        runs: list[int] = []

        def write_then_refuse() -> None:
            runs.append(1)
            if len(runs) == 1:
                with ours.transaction():  # sent back: the other process has the writer
                    ours.log_access(_access(2, "never"))
            raise ValueError("refused before writing")

        async def main() -> None:
            asyncio.get_running_loop().call_later(0.05, release.set)
            with pytest.raises(ValueError, match="refused"):
                await on_store(_on_store(ours), write_then_refuse)
            await asyncio.sleep(0)  # the loop's next turn gives the writer back

        asyncio.run(main())
        thread.join(30)
        assert len(runs) == 2
        other.log_access(_access(3, "after"))  # the other process can write again at once
        assert _durable(path) == ["after", "other"]
    finally:
        other.close()
        ours.close()
