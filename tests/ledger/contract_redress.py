"""The contract of the due-process logs (overrides, reviews, the notice outbox), every backend.

Collected by ``test_contract.py`` beside ``contract.py``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from credence.ledger import Store
from credence.ledger.redress import NoticeRow, OverrideRow, ReviewRow
from credence.types import Notice

__all__ = [
    "test_a_notice_outbox_rolls_back_with_its_unit_of_work",
    "test_an_erased_subjects_words_are_forgotten_and_the_rest_stays",
    "test_notices_given_are_kept_per_subject_and_read_in_seq_order",
    "test_overrides_in_force_start_and_stop_at_their_times",
    "test_overrides_round_trip_and_end_once",
    "test_reviews_resolve_once_and_open_ones_list_by_deadline",
    "test_running_restriction_notices_across_subjects",
    "test_seqs_are_taken_in_commit_order_under_concurrent_writers",
    "test_the_latest_notice_is_by_subject_kind_and_entitlement",
]

T = 1_800_000_000_000_000


def _override(oid: str, subject_key: int = 1, **changes: object) -> OverrideRow:
    values: dict[str, object] = {
        "id": oid,
        "subject_key": subject_key,
        "entitlement": "deposit_free_rental",
        "outcome": "granted",
        "reason": "paid in full; the late bill was the bank's error",
        "set_by": "ops",
        "set_at": T,
        "ends_at": T + 100,
    }
    values.update(changes)
    return OverrideRow(**values)  # type: ignore[arg-type]


def _review(rid: str, subject_key: int = 1, deadline: int = T + 50) -> ReviewRow:
    return ReviewRow(
        id=rid,
        subject_key=subject_key,
        decision_id=f"dec_{rid}",
        entitlement="deposit_free_rental",
        statement="I paid that bill",
        requested_at=T,
        deadline=deadline,
        state="open",
    )


def _notice(subject_key: int, n: int) -> NoticeRow:
    return NoticeRow(
        seq=0,
        subject_key=subject_key,
        kind="adverse",
        entitlement="deposit_free_rental",
        outcome="denied",
        decision_id=f"dec_{n}",
        issued_at=T + n,
        dispute_by=T + n + 30,
        body=f'{{"n": {n}}}',
    )


def test_overrides_round_trip_and_end_once(store: Store) -> None:
    store.add_override(_override("ovr_a"))
    store.add_override(_override("ovr_b", set_at=T + 5, review_id="rev_1"))
    store.add_override(_override("ovr_c", subject_key=2))
    assert store.override("ovr_a") == _override("ovr_a")
    assert store.override("ovr_unknown") is None
    assert [o.id for o in store.overrides(1)] == ["ovr_a", "ovr_b"]
    assert store.overrides(1)[1].review_id == "rev_1"
    assert store.end_override("ovr_a", at=T + 10, by="ops-2") is True
    assert store.end_override("ovr_a", at=T + 20, by="ops-2") is False
    assert store.end_override("ovr_unknown", at=T, by="ops") is False
    ended = store.override("ovr_a")
    assert ended is not None and (ended.ended_at, ended.ended_by) == (T + 10, "ops-2")


def test_overrides_in_force_start_and_stop_at_their_times(store: Store) -> None:
    store.add_override(_override("ovr_a", ends_at=T + 100))
    store.add_override(_override("ovr_b", subject_key=2, ends_at=T + 50))
    store.add_override(_override("ovr_later", subject_key=3, set_at=T + 60))
    assert [o.id for o in store.overrides_in_force(T - 1)] == []
    assert [o.id for o in store.overrides_in_force(T)] == ["ovr_b", "ovr_a"]
    assert [o.id for o in store.overrides_in_force(T + 49)] == ["ovr_b", "ovr_a"]
    assert [o.id for o in store.overrides_in_force(T + 50)] == ["ovr_a"]  # expired at once
    store.end_override("ovr_a", at=T + 70, by="ops")
    assert [o.id for o in store.overrides_in_force(T + 69)] == ["ovr_a", "ovr_later"]
    assert [o.id for o in store.overrides_in_force(T + 70)] == ["ovr_later"]  # ended at once


def test_reviews_resolve_once_and_open_ones_list_by_deadline(store: Store) -> None:
    store.add_review(_review("r1", deadline=T + 50))
    store.add_review(_review("r2", subject_key=2, deadline=T + 20))
    store.add_review(_review("r3", deadline=T + 90))
    assert store.review("r1") == _review("r1", deadline=T + 50)
    assert store.review("nope") is None
    assert [r.id for r in store.open_reviews()] == ["r2", "r1", "r3"]
    assert [r.id for r in store.reviews(1)] == ["r1", "r3"]
    done = {"at": T + 5, "reviewer": "fair-review", "resolution": "checked", "override_id": None}
    assert store.resolve_review("r1", state="confirmed", **done) is True  # type: ignore[arg-type]
    assert store.resolve_review("r1", state="overridden", **done) is False  # type: ignore[arg-type]
    assert store.resolve_review("nope", state="confirmed", **done) is False  # type: ignore[arg-type]
    resolved = store.review("r1")
    assert resolved is not None
    assert (resolved.state, resolved.resolved_at, resolved.reviewer) == (
        "confirmed",
        T + 5,
        "fair-review",
    )
    assert [r.id for r in store.open_reviews()] == ["r2", "r3"]


def test_notices_given_are_kept_per_subject_and_read_in_seq_order(store: Store) -> None:
    seqs = [store.add_subject_notice(_notice(1 + n % 2, n)) for n in range(7)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 7
    assert [n.decision_id for n in store.subject_notices(1)] == ["dec_0", "dec_2", "dec_4", "dec_6"]
    first = store.outbox(after=0, limit=3)
    assert [n.seq for n in first] == seqs[:3]
    rest = store.outbox(after=first[-1].seq, limit=100)
    assert [n.seq for n in rest] == seqs[3:]
    assert store.outbox(after=seqs[-1], limit=10) == []
    (again,) = store.outbox(after=seqs[1], limit=1)
    assert again.seq == seqs[2] and again.body == '{"n": 2}' and again.dispute_by == T + 32


def test_the_latest_notice_is_by_subject_kind_and_entitlement(store: Store) -> None:
    assert store.latest_subject_notice(1, kind="adverse", entitlement="deposit_free_rental") is None
    seqs = [store.add_subject_notice(_notice(1 + n % 2, n)) for n in range(5)]
    other = replace(_notice(1, 9), entitlement="bike_share")
    store.add_subject_notice(other)
    store.add_subject_notice(replace(_notice(1, 10), kind="override.set"))
    latest = store.latest_subject_notice(1, kind="adverse", entitlement="deposit_free_rental")
    assert latest is not None and (latest.seq, latest.decision_id) == (seqs[4], "dec_4")
    assert latest.body == '{"n": 4}' and latest.dispute_by == T + 34
    found = store.latest_subject_notice(2, kind="adverse", entitlement="deposit_free_rental")
    assert found is not None and found.decision_id == "dec_3"
    assert store.latest_subject_notice(1, kind="adverse", entitlement="other") is None


def test_a_notice_outbox_rolls_back_with_its_unit_of_work(store: Store) -> None:
    kept = store.add_subject_notice(_notice(1, 0))
    with pytest.raises(RuntimeError), store.transaction():
        store.add_subject_notice(_notice(1, 1))
        store.add_override(_override("ovr_gone"))
        raise RuntimeError("abort")
    assert [n.seq for n in store.outbox(after=0, limit=10)] == [kept]
    assert store.override("ovr_gone") is None
    after = store.add_subject_notice(_notice(1, 2))
    assert after > kept


def test_seqs_are_taken_in_commit_order_under_concurrent_writers(store: Store) -> None:
    """A reader that has seen seq n never later finds a smaller one: at-least-once, in order."""
    seen: list[int] = []
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(10):
                with store.transaction():
                    store.add_subject_notice(_notice(worker + 1, n))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    cursor = 0
    # A reader polls until it has all 30: once the writers are done it may still need a
    # read or two (a pooled reader's view can trail the last group commit by a moment),
    # but it must never see a gap or a seq out of order.
    deadline = time.monotonic() + 30
    while cursor < 30 and time.monotonic() < deadline:
        page = store.outbox(after=cursor, limit=7)
        for n in page:
            assert n.seq == cursor + 1 if cursor else n.seq >= 1  # no gap left behind
            seen.append(n.seq)
            cursor = n.seq
        if not page:
            time.sleep(0.001)
    for thread in threads:
        thread.join()
    assert errors == []
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 30


def test_running_restriction_notices_across_subjects(store: Store) -> None:
    store.add_notice(1, Notice("rental_suspension", T, T + 14, T + 100))
    store.add_notice(2, Notice("credit_limit_review", T + 1, T + 5, None))
    store.add_notice(3, Notice("rental_suspension", T - 200, T - 190, T - 100))  # ended
    assert store.running_notices(T - 1) == []
    assert [k for k, _ in store.running_notices(T + 2)] == [2, 1]
    assert [k for k, _ in store.running_notices(T + 100)] == [2]


def test_an_erased_subjects_words_are_forgotten_and_the_rest_stays(store: Store) -> None:
    store.add_override(_override("ovr_a"))
    store.add_override(_override("ovr_b", subject_key=2))
    store.add_review(_review("r1"))
    store.add_review(_review("r2", subject_key=2))
    done = {"at": T + 5, "reviewer": "fair-review", "resolution": "checked", "override_id": None}
    store.resolve_review("r1", state="confirmed", **done)  # type: ignore[arg-type]
    seqs = [store.add_subject_notice(_notice(k, n)) for n, k in enumerate((1, 2, 1))]
    assert store.forget_override_reasons(1, text="[erased]") == 1
    assert store.forget_review_texts(1, text="[erased]") == 1
    assert store.forget_notice_bodies(1, body="{}") == 2
    (ovr,) = store.overrides(1)
    assert (ovr.reason, ovr.outcome, ovr.ends_at) == ("[erased]", "granted", T + 100)
    (rev,) = store.reviews(1)
    assert (rev.statement, rev.resolution, rev.state) == ("[erased]", "[erased]", "confirmed")
    assert [n.body for n in store.outbox(after=0, limit=10)] == ["{}", '{"n": 1}', "{}"]
    assert [n.seq for n in store.outbox(after=0, limit=10)] == seqs
    assert (
        store.overrides(2)[0].reason != "[erased]" and store.reviews(2)[0].statement != "[erased]"
    )
