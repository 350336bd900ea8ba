"""Due process kept per subject: overrides, review requests, and the notices given (the outbox).

Each concept is a small Protocol that every backend implements beside the
other per-subject logs (``credence.ledger.store.Store`` is their union); the
contract suite in ``tests/ledger/contract_redress.py`` runs against each
backend. The store keeps what it is given; the rules (who may, which
outcomes, deadlines) live in ``credence.service``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from credence.types import Notice


@dataclass(frozen=True, slots=True)
class OverrideRow:
    """An outcome set by a person for one subject and one entitlement, until ``ends_at``."""

    id: str
    subject_key: int
    entitlement: str
    outcome: str
    reason: str
    set_by: str
    set_at: int
    ends_at: int
    ended_at: int | None = None  # ended early
    ended_by: str | None = None
    review_id: str | None = None  # the review that resolved by overriding, if any

    def in_force(self, at: int) -> bool:
        """Whether it sets the outcome at ``at``: from ``set_at``, until it ends or expires."""
        end = self.ends_at if self.ended_at is None else min(self.ends_at, self.ended_at)
        return self.set_at <= at < end


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """A subject's request that a person review one of its decisions."""

    id: str
    subject_key: int
    decision_id: str
    entitlement: str
    statement: str
    requested_at: int
    deadline: int
    state: str  # open | confirmed | overridden
    resolved_at: int | None = None
    reviewer: str | None = None
    resolution: str | None = None  # the reviewer's written reason
    override_id: str | None = None


@dataclass(frozen=True, slots=True)
class NoticeRow:
    """A notice given to a subject, in the outbox order ``seq`` (0 until stored).

    ``kind`` is ``adverse`` (an adverse outcome decided now), ``override`` or
    ``review`` (its result); ``body`` is the notice's JSON text.
    """

    seq: int
    subject_key: int
    kind: str
    entitlement: str
    outcome: str | None
    decision_id: str | None
    issued_at: int
    dispute_by: int | None
    body: str


class OverrideStore(Protocol):
    """Overrides, per subject."""

    def add_override(self, override: OverrideRow) -> None:
        """Store a new override."""

    def override(self, override_id: str) -> OverrideRow | None:
        """The override with that id."""

    def overrides(self, subject_key: int) -> list[OverrideRow]:
        """Every override of a subject, oldest first (ended and expired ones included)."""

    def overrides_in_force(self, at: int) -> list[OverrideRow]:
        """Every subject's overrides in force at ``at``, soonest to end first."""

    def end_override(self, override_id: str, *, at: int, by: str) -> bool:
        """End an override early; False when unknown or ended already."""

    def forget_override_reasons(self, subject_key: int, *, text: str) -> int:
        """Replace the reasons of a subject's overrides by ``text`` (on erasure); how many."""


class ReviewStore(Protocol):
    """Requests for human review, per subject."""

    def add_review(self, review: ReviewRow) -> None:
        """Store a new review request."""

    def review(self, review_id: str) -> ReviewRow | None:
        """The review request with that id."""

    def reviews(self, subject_key: int) -> list[ReviewRow]:
        """Every review request of a subject, oldest first."""

    def open_reviews(self) -> list[ReviewRow]:
        """Every subject's open review requests, by deadline."""

    def resolve_review(
        self,
        review_id: str,
        *,
        state: str,
        at: int,
        reviewer: str,
        resolution: str,
        override_id: str | None,
    ) -> bool:
        """Close an open request with its result; False when unknown or not open (no change)."""

    def forget_review_texts(self, subject_key: int, *, text: str) -> int:
        """Replace the statements and resolutions of a subject's reviews by ``text`` (on
        erasure); how many."""


class NoticeOutbox(Protocol):
    """Every notice given to subjects, in one sequence an operator's messaging system reads."""

    def add_subject_notice(self, notice: NoticeRow) -> int:
        """Store a notice; returns its ``seq``, greater than every seq committed before it.

        Seqs are taken in commit order: a reader that saw seq ``n`` never later finds a
        smaller one appear.
        """

    def subject_notices(self, subject_key: int) -> list[NoticeRow]:
        """Every notice given to a subject, oldest first."""

    def latest_subject_notice(
        self, subject_key: int, *, kind: str, entitlement: str
    ) -> NoticeRow | None:
        """The subject's notice of this kind on this entitlement with the greatest seq."""

    def outbox(self, *, after: int, limit: int) -> list[NoticeRow]:
        """At most ``limit`` notices with ``seq > after``, in seq order."""

    def forget_notice_bodies(self, subject_key: int, *, body: str) -> int:
        """Replace the bodies of the notices given to a subject by ``body`` (on erasure);
        their seqs stay, so the outbox keeps its order. How many."""

    def running_notices(self, at: int) -> list[tuple[int, Notice]]:
        """Every subject's restriction notices issued by ``at`` whose episode has not ended,
        as ``(subject_key, notice)``, soonest to take effect first."""
