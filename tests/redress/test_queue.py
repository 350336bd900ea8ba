"""The review queue: open cases by deadline with days left, restrictions, overrides in force."""

from __future__ import annotations

from credence.service.ledger import Ledger
from credence.service.overrides import end_override, set_override
from credence.service.queue import review_queue
from credence.service.reviews import request_review_for, resolve_review
from credence.service.scoring import decide_subject, decide_with_receipt
from credence.service.subjects import resolve
from credence.types import DAY_US, SubjectRef
from tests.service.service_data import clock_of

ALICE = SubjectRef("custom", "alice")
BOB = SubjectRef("custom", "bob")
CAROL = SubjectRef("custom", "carol")


def test_the_queue_shows_each_part_and_follows_the_clock(ledger: Ledger) -> None:
    empty = review_queue(ledger)
    assert (empty.cases, empty.restrictions, empty.overrides) == ((), (), ())
    first = request_review_for(
        ledger, ALICE, decide_with_receipt(ledger, ALICE, "deposit_free_rental").decision_id
    )
    clock = clock_of(ledger)
    clock.advance(5 * DAY_US)
    second = request_review_for(
        ledger, BOB, decide_with_receipt(ledger, BOB, "deposit_free_rental").decision_id
    )
    pending = decide_subject(ledger, CAROL, "credit_limit_review")
    assert pending.outcome == "pending" and pending.notice is not None
    ovr = set_override(ledger, BOB, "preferred_loan_rate", outcome="granted", reason="by hand")

    q = review_queue(ledger, party="fair-review")
    assert [(c.kind, c.id, c.days_left) for c in q.cases] == [
        ("review", first.id, 25),
        ("review", second.id, 30),
    ]
    assert [(str(r.subject), r.entitlement, r.state) for r in q.restrictions] == [
        (str(CAROL), "credit_limit_review", "pending")
    ]
    assert [o.id for o in q.overrides] == [ovr.id]
    carol = resolve(ledger, CAROL).key
    assert any(
        a.action == "queue" and a.actor == "fair-review" for a in ledger.store.accesses(carol)
    )

    clock.advance(pending.notice.effective_at - clock.now())
    resolve_review(ledger, first.id, resolution="confirmed", reason="checked")
    end_override(ledger, ovr.id)
    q = review_queue(ledger)
    assert [c.id for c in q.cases] == [second.id]
    assert [r.state for r in q.restrictions] == ["restricted"]
    assert q.overrides == ()
    set_override(ledger, CAROL, "credit_limit_review", outcome="not_restricted", reason="lifted")
    lifted = review_queue(ledger)
    assert lifted.restrictions == () and len(lifted.overrides) == 1
