"""The time source, passed to the service so tests can fix it."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Tells the current time as epoch microseconds, UTC."""

    def now(self) -> int:
        """The current time."""


class SystemClock:
    """The machine's clock."""

    def now(self) -> int:
        return time.time_ns() // 1_000


class FixedClock:
    """A clock that says what it is told; for tests and reproducible runs."""

    def __init__(self, now: int) -> None:
        self._now = now

    def now(self) -> int:
        return self._now

    def advance(self, micros: int) -> None:
        """Move the clock forward."""
        self._now += micros
