"""The server processes' turn at a SQLite ledger's one writer: an ``flock(2)`` on its file.

SQLite lets one connection write at a time. A process that finds the write
lock taken sleeps in SQLite's busy handler, 1, 2, 5, 10 ms and longer, and
tries again, so two server processes on one file took turns more slowly than
one process alone. Taken before ``BEGIN IMMEDIATE`` and released after the
commit, this lock passes the turn on as soon as the holder is done.

``flock`` locks are apart from the POSIX locks SQLite takes on the same file,
so they neither see nor disturb them; the kernel drops one when its process
dies. A process that does not use this lock (an older credence, the sqlite3
shell) still meets SQLite's own lock and its ``busy_timeout``.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

_FIRST_NAP = 0.000_05  # seconds; doubled up to _LONGEST_NAP while the lock is held
_LONGEST_NAP = 0.000_5


def naps() -> Iterator[float]:
    """How long to sleep between tries: from 50 µs, doubled up to 0.5 ms, for ever."""
    nap = _FIRST_NAP
    while True:
        yield nap
        nap = min(nap * 2, _LONGEST_NAP)


class WriterLock:
    """An exclusive ``flock`` on a ledger file, taken with a timeout."""

    def __init__(self, path: Path, *, timeout: float) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._timeout = timeout

    def try_acquire(self) -> bool:
        """Take the lock if no other process holds it; never waits."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def acquire(self) -> bool:
        """Take the lock; False when another process held it for the whole timeout."""
        deadline = None
        for nap in naps():
            if self.try_acquire():
                return True
            now = time.monotonic()
            if deadline is None:
                deadline = now + self._timeout
            elif now >= deadline:
                return False
            time.sleep(nap)
        raise AssertionError("unreachable")  # pragma: no cover

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)
