"""Plain value types shared by every layer, and the time and duration helpers.

Times inside Credence are integers: microseconds since the Unix epoch, UTC.
Integers keep expiry and cap boundaries exact, and the same numbers travel to
SQL and Parquet unchanged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from credence.errors import UsageError

MICROS = 1_000_000
DAY_US = 86_400 * MICROS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UTC_WALL_EPOCH = datetime(1970, 1, 1)  # naive: its isoformat() carries no offset
_DURATION_UNITS = {"d": 86_400, "w": 7 * 86_400, "y": 365 * 86_400}
_DURATION = re.compile(r"^\s*(\d+)\s*([dwy])\s*$")


class SubjectKind(StrEnum):
    """Whom a record is about: a natural person or an organisation."""

    PERSON = "person"
    ORGANIZATION = "organization"


@dataclass(frozen=True, slots=True)
class Record:
    """One behaviour record as the engine sees it: immutable, already validated.

    ``retracts`` names a ``provider_event_id`` of the same provider; such a
    record withdraws that one and scores nothing itself.
    """

    provider: str
    provider_event_id: str
    type: str
    occurred_at: int  # microseconds since the epoch, UTC
    attributes: Mapping[str, Any] = field(default_factory=dict)
    retracts: str | None = None
    evidence: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The idempotency key ``(provider, provider_event_id)``."""
        return (self.provider, self.provider_event_id)

    @property
    def order(self) -> tuple[int, str, str]:
        """The total order records are counted in (DESIGN.md, caps)."""
        return (self.occurred_at, self.provider, self.provider_event_id)


@dataclass(frozen=True, slots=True)
class Notice:
    """Notice given to a subject that a restriction will take effect.

    The restriction applies from ``effective_at`` (issue time plus the notice
    period) while its condition holds, and lapses at ``ends_at``.
    """

    entitlement: str
    issued_at: int
    effective_at: int
    ends_at: int | None


@dataclass(frozen=True, slots=True)
class SubjectRef:
    """A subject as the outside world names it: identifier scheme and value."""

    scheme: str
    id: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> SubjectRef:
        """Parse ``scheme:id``.

        Raises:
            UsageError: when there is no scheme or no id.
        """
        scheme, sep, ident = text.partition(":")
        if not sep or not scheme.strip() or not ident.strip():
            raise UsageError(
                f"subject {text!r} is not of the form scheme:id",
                suggestion="for example cn.ric:11010519491231002X or custom:alice",
            )
        return cls(scheme.strip(), ident.strip())


def parse_duration(text: str) -> int:
    """A duration such as ``90d``, ``12w`` or ``2y``, in seconds.

    Raises:
        ValueError: when the text is not a positive whole number of d, w or y.
    """
    match = _DURATION.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(
            f"{text!r} is not a duration; write a positive whole number followed by "
            "d (days), w (weeks) or y (365-day years), e.g. 90d"
        )
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def format_duration(seconds: int) -> str:
    """The shortest exact ``d``/``w``/``y`` spelling of a duration in seconds."""
    for unit in ("y", "w", "d"):
        size = _DURATION_UNITS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def to_micros(moment: datetime) -> int:
    """A timezone-aware datetime as microseconds since the epoch."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a time zone offset is required")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds


def from_micros(micros: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=micros)


def parse_time(text: str) -> int:
    """An RFC 3339 timestamp (offset required; ``Z`` allowed) as epoch microseconds.

    A bare date ``YYYY-MM-DD`` is taken as midnight UTC, as users expect on a
    command line.

    Raises:
        ValueError: with the reason, when the text is not such a timestamp.
    """
    raw = text.strip()
    if len(raw) == 10 and raw[4] == "-" and raw[7] == "-":
        raw += "T00:00:00Z"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as e:
        raise ValueError(
            f"{text!r} is not an RFC 3339 timestamp (e.g. 2026-03-01T09:30:00Z)"
        ) from e
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone offset; add Z for UTC or e.g. +08:00")
    return to_micros(moment)


def format_time(micros: int) -> str:
    """Epoch microseconds as RFC 3339 UTC with a ``Z`` (and a four-digit year, always)."""
    # A naive UTC datetime's isoformat: twice as fast as strftime, which a decision's
    # answer calls several times, and it pads years before 1000, which %Y does not.
    moment = _UTC_WALL_EPOCH + timedelta(microseconds=micros)
    if moment.microsecond:
        return moment.isoformat(timespec="microseconds") + "Z"
    return moment.isoformat(timespec="seconds") + "Z"


def format_date(micros: int) -> str:
    """Epoch microseconds as a UTC calendar date."""
    day = time.gmtime(micros // MICROS)  # reasons format several dates per decision: keep it cheap
    return f"{day.tm_year:04d}-{day.tm_mon:02d}-{day.tm_mday:02d}"
