"""Disputes as the ledger keeps them: one row per dispute, its notes, its answer, its end.

The store keeps what it is given; the clock, the state machine and who may do
what live in ``credence.engine.disputes`` and ``credence.service.disputes``.
Each step of a dispute is also chained as an event (``RecordStore.append_event``),
so ``credence verify`` covers them. A dispute names its record by
``(provider, provider_event_id)``, the key a resend keeps, so a record dropped
by an upheld or lapsed dispute stays dropped whatever happens to its row.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DisputeNote:
    """Information the subject added to an open dispute."""

    at: int
    text: str
    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class DisputeRow:
    """A dispute of one record by its subject, as stored.

    ``state`` is as last written: an ``open`` one past its ``deadline`` is lapsed
    whether or not a sweep has written so.
    """

    id: str
    subject_key: int
    provider: str
    provider_event_id: str
    statement: str
    evidence: str | None
    filed_at: int
    deadline: int
    state: str = "open"
    extended: bool = False
    notes: tuple[DisputeNote, ...] = ()
    answer: str | None = None  # verified | corrected | retracted
    answer_record: str | None = None  # the correcting record's provider_event_id
    answered_at: int | None = None
    resolved_at: int | None = None
    resolved_by: str | None = None
    reason: str | None = None


class DisputeStore(Protocol):
    """Disputes, per subject and per provider."""

    def add_dispute(self, dispute: DisputeRow) -> None:
        """Store a new dispute."""

    def save_dispute(self, dispute: DisputeRow) -> None:
        """Write a dispute's later steps (state, deadline, notes, answer, resolution) by id."""

    def dispute(self, dispute_id: str) -> DisputeRow | None:
        """The dispute with that id."""

    def disputes(self, subject_key: int) -> list[DisputeRow]:
        """Every dispute a subject filed, in filing order."""

    def all_disputes(
        self, *, provider: str | None = None, states: Collection[str] | None = None
    ) -> list[DisputeRow]:
        """Every dispute (of one provider's records, in these stored states), in filing order."""
