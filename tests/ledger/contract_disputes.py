"""The contract of the dispute store, every backend. Collected by ``test_contract.py``."""

from __future__ import annotations

import pytest
from ledger_data import T0, batch

from credence.ledger import DisputeNote, DisputeRow, Store

__all__ = [
    "test_a_dispute_round_trips_and_saves_its_later_steps",
    "test_a_dispute_written_in_a_failed_unit_of_work_is_not_kept",
    "test_disputes_are_listed_per_subject_provider_and_state_in_filing_order",
]


class Boom(Exception):
    """Raised inside a unit of work to abort it."""


def _keys(store: Store) -> list[int]:
    people, records = batch(4, subjects=2)
    store.append(people, records, ingested_at=T0)
    return [row.key for row in list(store.subjects())]


def _dispute(subject_key: int, dispute_id: str, **changes: object) -> DisputeRow:
    values: dict[str, object] = {
        "id": dispute_id,
        "subject_key": subject_key,
        "provider": "bank-a",
        "provider_event_id": f"e-{dispute_id}",
        "statement": "I paid this bill on time: «reçu» attached",
        "evidence": "https://example.org/receipt.pdf",
        "filed_at": T0,
        "deadline": T0 + 30,
    }
    values.update(changes)
    return DisputeRow(**values)  # type: ignore[arg-type]


def test_a_dispute_round_trips_and_saves_its_later_steps(store: Store) -> None:
    key, _ = _keys(store)
    filed = _dispute(key, "d1")
    store.add_dispute(filed)
    assert store.dispute("d1") == filed
    later = DisputeRow(
        **{
            **{f: getattr(filed, f) for f in DisputeRow.__slots__},  # type: ignore[attr-defined]
            "state": "rejected",
            "extended": True,
            "deadline": T0 + 45,
            "notes": (
                DisputeNote(T0 + 1, "more", None),
                DisputeNote(T0 + 2, "again", "https://x.y"),
            ),
            "answer": "corrected",
            "answer_record": "e-fix",
            "answered_at": T0 + 3,
            "resolved_at": T0 + 4,
            "resolved_by": "reviewer-1",
            "reason": "the provider verified it",
        }
    )
    store.save_dispute(later)
    assert store.dispute("d1") == later
    assert store.dispute("nope") is None


def test_disputes_are_listed_per_subject_provider_and_state_in_filing_order(
    store: Store,
) -> None:
    first, second = _keys(store)
    store.add_dispute(_dispute(first, "d2", filed_at=T0 + 5))
    store.add_dispute(_dispute(first, "d1", filed_at=T0 + 1, provider="city-utilities"))
    store.add_dispute(_dispute(second, "d3", filed_at=T0 + 3, state="upheld"))
    assert [d.id for d in store.disputes(first)] == ["d1", "d2"]
    assert [d.id for d in store.disputes(second)] == ["d3"]
    assert [d.id for d in store.all_disputes()] == ["d1", "d3", "d2"]
    assert [d.id for d in store.all_disputes(provider="bank-a")] == ["d3", "d2"]
    assert [d.id for d in store.all_disputes(states=("open",))] == ["d1", "d2"]
    assert store.all_disputes(provider="bank-a", states=("lapsed",)) == []


def test_a_dispute_written_in_a_failed_unit_of_work_is_not_kept(store: Store) -> None:
    key, _ = _keys(store)
    store.add_dispute(_dispute(key, "d1"))
    with pytest.raises(Boom), store.transaction():
        store.add_dispute(_dispute(key, "d2"))
        store.save_dispute(_dispute(key, "d1", state="upheld"))
        raise Boom
    assert [(d.id, d.state) for d in store.disputes(key)] == [("d1", "open")]
