"""The SQL stores' due-process logs: overrides, review requests, notices given (the outbox).

Shared by SQLite and PostgreSQL, in SQLAlchemy Core; each call joins the open
unit of work, if any. A notice's seq is taken from ``outbox_head`` with an
``UPDATE … RETURNING`` whose row lock lasts until commit, so notices commit in
seq order on PostgreSQL too (SQLite has one writer anyway).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from sqlalchemy import Row, case, or_, select, update

from credence.ledger import schema as t
from credence.ledger.redress import NoticeRow, OverrideRow, ReviewRow
from credence.ledger.sql_logs import SQLLogStore
from credence.types import Notice


def _override(row: Row[Any]) -> OverrideRow:
    return OverrideRow(
        id=row.id,
        subject_key=row.subject_key,
        entitlement=row.entitlement,
        outcome=row.outcome,
        reason=row.reason,
        set_by=row.set_by,
        set_at=row.set_at,
        ends_at=row.ends_at,
        ended_at=row.ended_at,
        ended_by=row.ended_by,
        review_id=row.review_id,
    )


# Read on every decision, so fixed SQL on the driver's cursor (see SQLStore._fetch).
_OverrideColumns = namedtuple(  # a row as _override reads it, by name
    "_OverrideColumns",
    "id subject_key entitlement outcome reason set_by set_at ends_at ended_at ended_by review_id",
)
_OVERRIDES = (
    f"SELECT {', '.join(_OverrideColumns._fields)} FROM overrides "
    "WHERE subject_key = ? ORDER BY set_at, id"
)

# Whether an adverse decision owes a notice turns on the latest one (on every adverse decision).
_LATEST_NOTICE = (
    "SELECT seq, subject_key, kind, entitlement, outcome, decision_id, issued_at, dispute_by, "
    "body FROM subject_notices WHERE subject_key = ? AND kind = ? AND entitlement = ? "
    "ORDER BY seq DESC LIMIT 1"
)


def _review(row: Row[Any]) -> ReviewRow:
    return ReviewRow(
        id=row.id,
        subject_key=row.subject_key,
        decision_id=row.decision_id,
        entitlement=row.entitlement,
        statement=row.statement,
        requested_at=row.requested_at,
        deadline=row.deadline,
        state=row.state,
        resolved_at=row.resolved_at,
        reviewer=row.reviewer,
        resolution=row.resolution,
        override_id=row.override_id,
    )


def _notice(row: Row[Any]) -> NoticeRow:
    return NoticeRow(
        seq=row.seq,
        subject_key=row.subject_key,
        kind=row.kind,
        entitlement=row.entitlement,
        outcome=row.outcome,
        decision_id=row.decision_id,
        issued_at=row.issued_at,
        dispute_by=row.dispute_by,
        body=row.body,
    )


class SQLRedressStore(SQLLogStore):
    """A SQL ledger with its due-process logs (see the module docstring)."""

    # --- overrides -----------------------------------------------------------
    def add_override(self, override: OverrideRow) -> None:
        self._insert(
            t.overrides,
            id=override.id,
            subject_key=override.subject_key,
            entitlement=override.entitlement,
            outcome=override.outcome,
            reason=override.reason,
            set_by=override.set_by,
            set_at=override.set_at,
            ends_at=override.ends_at,
            ended_at=override.ended_at,
            ended_by=override.ended_by,
            review_id=override.review_id,
        )

    def override(self, override_id: str) -> OverrideRow | None:
        row = self._one(select(t.overrides).where(t.overrides.c.id == override_id))
        return None if row is None else _override(row)

    def overrides(self, subject_key: int) -> list[OverrideRow]:
        rows = self._fetch(_OVERRIDES, (subject_key,))  # on every decision: fixed SQL
        return [_override(_OverrideColumns(*row)) for row in rows]  # type: ignore[arg-type]

    def overrides_in_force(self, at: int) -> list[OverrideRow]:
        c = t.overrides.c
        query = (
            select(t.overrides)
            .where(c.set_at <= at, c.ends_at > at, or_(c.ended_at.is_(None), c.ended_at > at))
            .order_by(c.ends_at, c.id)
        )
        return [_override(row) for row in self._all(query)]

    def end_override(self, override_id: str, *, at: int, by: str) -> bool:
        c = t.overrides.c
        statement = (
            update(t.overrides)
            .where(c.id == override_id, c.ended_at.is_(None))
            .values(ended_at=at, ended_by=by)
        )
        with self._errors(), self._write() as conn:
            return bool(conn.execute(statement).rowcount)

    def forget_override_reasons(self, subject_key: int, *, text: str) -> int:
        return self._set_all(t.overrides, subject_key, reason=text)

    def _set_all(self, table: Any, subject_key: int, **values: Any) -> int:
        statement = update(table).where(table.c.subject_key == subject_key).values(**values)
        with self._errors(), self._write() as conn:
            return int(conn.execute(statement).rowcount)

    # --- reviews -------------------------------------------------------------
    def add_review(self, review: ReviewRow) -> None:
        self._insert(
            t.reviews,
            id=review.id,
            subject_key=review.subject_key,
            decision_id=review.decision_id,
            entitlement=review.entitlement,
            statement=review.statement,
            requested_at=review.requested_at,
            deadline=review.deadline,
            state=review.state,
            resolved_at=review.resolved_at,
            reviewer=review.reviewer,
            resolution=review.resolution,
            override_id=review.override_id,
        )

    def review(self, review_id: str) -> ReviewRow | None:
        row = self._one(select(t.reviews).where(t.reviews.c.id == review_id))
        return None if row is None else _review(row)

    def reviews(self, subject_key: int) -> list[ReviewRow]:
        query = (
            select(t.reviews)
            .where(t.reviews.c.subject_key == subject_key)
            .order_by(t.reviews.c.requested_at, t.reviews.c.id)
        )
        return [_review(row) for row in self._all(query)]

    def open_reviews(self) -> list[ReviewRow]:
        query = (
            select(t.reviews)
            .where(t.reviews.c.state == "open")
            .order_by(t.reviews.c.deadline, t.reviews.c.id)
        )
        return [_review(row) for row in self._all(query)]

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
        c = t.reviews.c
        statement = (
            update(t.reviews)
            .where(c.id == review_id, c.state == "open")
            .values(
                state=state,
                resolved_at=at,
                reviewer=reviewer,
                resolution=resolution,
                override_id=override_id,
            )
        )
        with self._errors(), self._write() as conn:
            return bool(conn.execute(statement).rowcount)

    def forget_review_texts(self, subject_key: int, *, text: str) -> int:
        c = t.reviews.c
        statement = (
            update(t.reviews)
            .where(c.subject_key == subject_key)
            .values(statement=text, resolution=case((c.resolution.is_(None), None), else_=text))
        )
        with self._errors(), self._write() as conn:
            return int(conn.execute(statement).rowcount)

    # --- notices given, and the outbox ---------------------------------------
    def add_subject_notice(self, notice: NoticeRow) -> int:
        take = (
            update(t.outbox_head)
            .where(t.outbox_head.c.id == 1)
            .values(seq=t.outbox_head.c.seq + 1)
            .returning(t.outbox_head.c.seq)
        )
        with self._errors(), self._write() as conn:
            seq = conn.execute(take).scalar_one_or_none()
            if seq is None:  # a head row removed by hand: start after what is stored
                last = conn.execute(
                    select(t.subject_notices.c.seq)
                    .order_by(t.subject_notices.c.seq.desc())
                    .limit(1)
                ).scalar_one_or_none()
                seq = (last or 0) + 1
                conn.execute(t.outbox_head.insert().values(id=1, seq=seq))
            conn.execute(
                t.subject_notices.insert().values(
                    seq=seq,
                    subject_key=notice.subject_key,
                    kind=notice.kind,
                    entitlement=notice.entitlement,
                    outcome=notice.outcome,
                    decision_id=notice.decision_id,
                    issued_at=notice.issued_at,
                    dispute_by=notice.dispute_by,
                    body=notice.body,
                )
            )
        return int(seq)

    def subject_notices(self, subject_key: int) -> list[NoticeRow]:
        query = (
            select(t.subject_notices)
            .where(t.subject_notices.c.subject_key == subject_key)
            .order_by(t.subject_notices.c.seq)
        )
        return [_notice(row) for row in self._all(query)]

    def latest_subject_notice(
        self, subject_key: int, *, kind: str, entitlement: str
    ) -> NoticeRow | None:
        rows = self._fetch(_LATEST_NOTICE, (subject_key, kind, entitlement))
        return NoticeRow(*rows[0]) if rows else None

    def outbox(self, *, after: int, limit: int) -> list[NoticeRow]:
        query = (
            select(t.subject_notices)
            .where(t.subject_notices.c.seq > after)
            .order_by(t.subject_notices.c.seq)
            .limit(limit)
        )
        return [_notice(row) for row in self._all(query)]

    def forget_notice_bodies(self, subject_key: int, *, body: str) -> int:
        return self._set_all(t.subject_notices, subject_key, body=body)

    def running_notices(self, at: int) -> list[tuple[int, Notice]]:
        c = t.notices.c
        query = (
            select(t.notices)
            .where(c.issued_at <= at, or_(c.ends_at.is_(None), c.ends_at > at))
            .order_by(c.effective_at, c.id)
        )
        return [
            (row.subject_key, Notice(row.entitlement, row.issued_at, row.effective_at, row.ends_at))
            for row in self._all(query)
        ]
