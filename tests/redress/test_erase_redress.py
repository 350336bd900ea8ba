"""Erasing a subject blanks the words of its notices, reviews and overrides; the rest stays."""

from __future__ import annotations

from credence.service.ledger import Ledger
from credence.service.overrides import set_override
from credence.service.reviews import open_reviews, request_review_for
from credence.service.safeguards import erase
from credence.service.scoring import decide_with_receipt
from credence.service.subjects import resolve
from credence.types import SubjectRef

ALICE = SubjectRef("custom", "alice")


def test_erasure_forgets_the_words_and_keeps_the_order(ledger: Ledger) -> None:
    made = decide_with_receipt(ledger, ALICE, "deposit_free_rental")
    request_review_for(ledger, ALICE, made.decision_id, statement="my neighbour Bob knows")
    set_override(ledger, ALICE, "preferred_loan_rate", outcome="granted", reason="Alice called")
    key = resolve(ledger, ALICE).key
    before = [n.seq for n in ledger.store.subject_notices(key)]
    erase(ledger, ALICE)
    assert [n.seq for n in ledger.store.subject_notices(key)] == before != []
    assert all('"erased"' in n.body for n in ledger.store.subject_notices(key))
    assert [o.reason for o in ledger.store.overrides(key)] == ["[erased]"]
    (review,) = open_reviews(ledger)
    assert review.statement == "[erased]" and review.state == "open"
