"""Human review: every transition of a request, the illegal ones refused, the subject told."""

from __future__ import annotations

import pytest

from credence.errors import (
    AuthenticationFailed,
    DecisionNotFound,
    OverrideConflict,
    ReviewConflict,
    ReviewInvalid,
    ReviewNotFound,
)
from credence.service.ledger import Ledger
from credence.service.notices import own_notices
from credence.service.overrides import set_override
from credence.service.reviews import (
    REVIEW_DAYS,
    open_reviews,
    own_reviews,
    request_review,
    request_review_for,
    resolve_review,
)
from credence.service.scoring import decide_with_receipt
from credence.service.sessions import SubjectSession, issue_sign_in_token, start_session
from credence.types import DAY_US, SubjectRef
from tests.service.service_data import NOW, clock_of

ALICE = SubjectRef("custom", "alice")
BOB = SubjectRef("custom", "bob")


def _session(ledger: Ledger, ref: SubjectRef = ALICE) -> SubjectSession:
    return start_session(ledger, issue_sign_in_token(ledger, ref).token)[1]


def _denied(ledger: Ledger, ref: SubjectRef = ALICE) -> str:
    made = decide_with_receipt(ledger, ref, "deposit_free_rental")
    assert made.decision.outcome == "denied"
    return made.decision_id


def test_open_then_confirmed_and_the_subject_is_told(ledger: Ledger) -> None:
    decision_id = _denied(ledger)
    session = _session(ledger)
    review = request_review(ledger, session, decision_id, statement="  I paid on time  ")
    assert (review.state, review.statement, review.entitlement) == (
        "open",
        "I paid on time",
        "deposit_free_rental",
    )
    assert review.deadline == NOW + REVIEW_DAYS * DAY_US and review.days_left == REVIEW_DAYS
    clock_of(ledger).advance(3 * DAY_US + 1)
    (queued,) = open_reviews(ledger)
    assert (queued.id, queued.days_left, queued.subject) == (review.id, REVIEW_DAYS - 4, ALICE)
    done = resolve_review(
        ledger, review.id, resolution="confirmed", reason="records checked", reviewer="fair-review"
    )
    assert (done.state, done.reviewer, done.resolution, done.override_id) == (
        "confirmed",
        "fair-review",
        "records checked",
        None,
    )
    assert open_reviews(ledger) == []
    session = _session(ledger)  # days later: signed in again
    told = [n for n in own_notices(ledger, session) if n.kind == "review"]
    assert [(n.body["result"], n.body["review_id"], n.decision_id) for n in told] == [
        ("confirmed", review.id, decision_id)
    ]
    assert [r.state for r in own_reviews(ledger, session)] == ["confirmed"]


def test_open_then_overridden_sets_an_override_that_changes_the_next_decision(
    ledger: Ledger,
) -> None:
    decision_id = _denied(ledger)
    review = request_review(ledger, _session(ledger), decision_id)
    done = resolve_review(
        ledger, review.id, resolution="overridden", reason="the damage claim was withdrawn",
        outcome="granted", ends_at=NOW + 90 * DAY_US, reviewer="fair-review",
    )  # fmt: skip
    assert done.state == "overridden" and done.override_id is not None
    again = decide_with_receipt(ledger, ALICE, "deposit_free_rental")
    assert (again.decision.outcome, again.decision.override) == ("granted", done.override_id)
    stored = ledger.store.override(done.override_id)
    assert stored is not None and (stored.review_id, stored.set_by) == (review.id, "fair-review")


@pytest.mark.parametrize("first", ["confirmed", "overridden"])
@pytest.mark.parametrize("second", ["confirmed", "overridden"])
def test_a_resolved_review_cannot_be_resolved_again(
    ledger: Ledger, first: str, second: str
) -> None:
    review = request_review(ledger, _session(ledger), _denied(ledger))
    outcome = {"outcome": "granted"}
    resolve_review(ledger, review.id, resolution=first, reason="checked",
                   **(outcome if first == "overridden" else {}))  # fmt: skip
    with pytest.raises(ReviewConflict, match=f"is {first}: it cannot become {second}"):
        resolve_review(ledger, review.id, resolution=second, reason="again",
                       **(outcome if second == "overridden" else {}))  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"resolution": "open", "reason": "x"}, "not 'open'"),
        ({"resolution": "lapsed", "reason": "x"}, "not 'lapsed'"),
        ({"resolution": "confirmed", "reason": "  "}, "written reason"),
        ({"resolution": "overridden", "reason": "x"}, "needs the outcome"),
        ({"resolution": "confirmed", "reason": "x", "outcome": "granted"}, "takes no outcome"),
    ],
)
def test_an_invalid_resolution_is_refused_and_the_review_stays_open(
    ledger: Ledger, changes: dict[str, str], match: str
) -> None:
    review = request_review(ledger, _session(ledger), _denied(ledger))
    with pytest.raises(ReviewInvalid, match=match):
        resolve_review(ledger, review.id, **changes)  # type: ignore[arg-type]
    assert [r.state for r in open_reviews(ledger)] == ["open"]


def test_an_override_that_cannot_be_set_leaves_the_review_open(ledger: Ledger) -> None:
    review = request_review(ledger, _session(ledger), _denied(ledger))
    set_override(ledger, ALICE, "deposit_free_rental", outcome="granted", reason="by hand")
    with pytest.raises(OverrideConflict):
        resolve_review(ledger, review.id, resolution="overridden", reason="x", outcome="denied")
    assert [r.id for r in open_reviews(ledger)] == [review.id]


def test_requests_that_cannot_be_made_are_refused_with_a_clear_error(ledger: Ledger) -> None:
    alice = _session(ledger)
    bobs = _denied(ledger, BOB)
    with pytest.raises(DecisionNotFound, match="no decision"):
        request_review(ledger, alice, bobs)  # another subject's decision is not hers
    with pytest.raises(DecisionNotFound):
        request_review(ledger, alice, "dec_unknown")
    mine = _denied(ledger)
    first = request_review(ledger, alice, mine)
    with pytest.raises(ReviewConflict, match=first.id):
        request_review(ledger, alice, mine)
    with pytest.raises(ReviewInvalid, match="at most"):
        request_review(ledger, alice, _denied(ledger), statement="x" * 4001)
    with pytest.raises(ReviewNotFound):
        resolve_review(ledger, "rev_unknown", resolution="confirmed", reason="x")
    resolve_review(ledger, first.id, resolution="confirmed", reason="checked")
    again = request_review(ledger, alice, mine, statement="new information")  # once closed
    assert again.id != first.id and again.state == "open"
    clock_of(ledger).advance(alice.expires_at - NOW)
    with pytest.raises(AuthenticationFailed):
        request_review(ledger, alice, mine)


def test_an_overdue_review_stays_open_and_heads_the_queue(ledger: Ledger) -> None:
    late = request_review_for(ledger, ALICE, _denied(ledger), statement="by letter")
    clock_of(ledger).advance(20 * DAY_US)
    soon = request_review_for(ledger, BOB, _denied(ledger, BOB))
    clock_of(ledger).advance(11 * DAY_US)
    queue = open_reviews(ledger)
    assert [(r.id, r.days_left) for r in queue] == [(late.id, -1), (soon.id, REVIEW_DAYS - 11)]
