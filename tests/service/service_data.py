"""Constants and helpers of the service tests (the ``ledger`` fixture is in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from credence.clock import FixedClock
from credence.service.ledger import Ledger
from credence.types import parse_time

MASTER = bytes(range(32))
NOW = parse_time("2026-07-01T00:00:00Z")  # the golden records run to this day
GOLDEN = Path(__file__).parent.parent / "data" / "golden-consumer.jsonl"


def clock_of(ledger: Ledger) -> FixedClock:
    """The ledger's fixed clock, to move time forward."""
    assert isinstance(ledger.clock, FixedClock)
    return ledger.clock
