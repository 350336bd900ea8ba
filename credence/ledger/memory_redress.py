"""The memory store's due-process logs: overrides, review requests, notices given (the outbox).

A mixin of ``credence.ledger.memory.MemoryStore``: its state lives in the
store's own attributes, so a unit of work saves and restores it with the rest.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from credence.ledger.redress import NoticeRow, OverrideRow, ReviewRow
from credence.types import Notice


class MemoryRedress:
    """Overrides, reviews and the notice outbox held in dictionaries (see the module docstring)."""

    _lock: threading.RLock
    _notices: dict[int, list[Notice]]

    def _init_redress(self) -> None:
        self._overrides: dict[str, OverrideRow] = {}
        self._reviews: dict[str, ReviewRow] = {}
        self._subject_notices: list[NoticeRow] = []  # in seq order

    # --- overrides -----------------------------------------------------------
    def add_override(self, override: OverrideRow) -> None:
        with self._lock:
            self._overrides[override.id] = override

    def override(self, override_id: str) -> OverrideRow | None:
        return self._overrides.get(override_id)

    def overrides(self, subject_key: int) -> list[OverrideRow]:
        mine = [o for o in self._overrides.values() if o.subject_key == subject_key]
        return sorted(mine, key=lambda o: (o.set_at, o.id))

    def overrides_in_force(self, at: int) -> list[OverrideRow]:
        live = [o for o in self._overrides.values() if o.in_force(at)]
        return sorted(live, key=lambda o: (o.ends_at, o.id))

    def end_override(self, override_id: str, *, at: int, by: str) -> bool:
        with self._lock:
            found = self._overrides.get(override_id)
            if found is None or found.ended_at is not None:
                return False
            self._overrides[override_id] = replace(found, ended_at=at, ended_by=by)
            return True

    def forget_override_reasons(self, subject_key: int, *, text: str) -> int:
        with self._lock:
            mine = [o for o in self._overrides.values() if o.subject_key == subject_key]
            for o in mine:
                self._overrides[o.id] = replace(o, reason=text)
            return len(mine)

    # --- reviews -------------------------------------------------------------
    def add_review(self, review: ReviewRow) -> None:
        with self._lock:
            self._reviews[review.id] = review

    def review(self, review_id: str) -> ReviewRow | None:
        return self._reviews.get(review_id)

    def reviews(self, subject_key: int) -> list[ReviewRow]:
        mine = [r for r in self._reviews.values() if r.subject_key == subject_key]
        return sorted(mine, key=lambda r: (r.requested_at, r.id))

    def open_reviews(self) -> list[ReviewRow]:
        pending = [r for r in self._reviews.values() if r.state == "open"]
        return sorted(pending, key=lambda r: (r.deadline, r.id))

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
        with self._lock:
            found = self._reviews.get(review_id)
            if found is None or found.state != "open":
                return False
            self._reviews[review_id] = replace(
                found,
                state=state,
                resolved_at=at,
                reviewer=reviewer,
                resolution=resolution,
                override_id=override_id,
            )
            return True

    def forget_review_texts(self, subject_key: int, *, text: str) -> int:
        with self._lock:
            mine = [r for r in self._reviews.values() if r.subject_key == subject_key]
            for r in mine:
                resolution = None if r.resolution is None else text
                self._reviews[r.id] = replace(r, statement=text, resolution=resolution)
            return len(mine)

    # --- notices given, and the outbox ---------------------------------------
    def add_subject_notice(self, notice: NoticeRow) -> int:
        with self._lock:  # one writer: seqs are taken, and land, in order
            seq = len(self._subject_notices) + 1
            self._subject_notices.append(replace(notice, seq=seq))
            return seq

    def subject_notices(self, subject_key: int) -> list[NoticeRow]:
        return [n for n in self._subject_notices if n.subject_key == subject_key]

    def latest_subject_notice(
        self, subject_key: int, *, kind: str, entitlement: str
    ) -> NoticeRow | None:
        for n in reversed(self._subject_notices):  # in seq order
            if (n.subject_key, n.kind, n.entitlement) == (subject_key, kind, entitlement):
                return n
        return None

    def outbox(self, *, after: int, limit: int) -> list[NoticeRow]:
        start = max(after, 0)  # seq n sits at index n - 1
        return self._subject_notices[start : start + max(limit, 0)]

    def forget_notice_bodies(self, subject_key: int, *, body: str) -> int:
        with self._lock:
            count = 0
            for i, n in enumerate(self._subject_notices):
                if n.subject_key == subject_key:
                    self._subject_notices[i] = replace(n, body=body)
                    count += 1
            return count

    def running_notices(self, at: int) -> list[tuple[int, Notice]]:
        live = [
            (key, n)
            for key, notices in self._notices.items()
            for n in notices
            if n.issued_at <= at and (n.ends_at is None or at < n.ends_at)
        ]
        return sorted(live, key=lambda p: (p[1].effective_at, p[0], p[1].issued_at))
