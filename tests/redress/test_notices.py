"""Notices for every adverse outcome, kept per subject, delivered through the outbox in order."""

from __future__ import annotations

from credence.service.ledger import Ledger
from credence.service.notices import DISPUTE_WINDOW_DAYS, outbox, own_notices
from credence.service.overrides import set_override
from credence.service.scoring import decide_subject, decide_with_receipt
from credence.service.sessions import SubjectSession, issue_sign_in_token, start_session
from credence.service.subjects import resolve
from credence.types import DAY_US, SubjectRef, format_time, parse_time
from tests.service.service_data import NOW, clock_of

ALICE = SubjectRef("custom", "alice")
BOB = SubjectRef("custom", "bob")
CAROL = SubjectRef("custom", "carol")


def _session(ledger: Ledger, ref: SubjectRef) -> SubjectSession:
    return start_session(ledger, issue_sign_in_token(ledger, ref).token)[1]


def test_a_denied_benefit_gives_a_notice_with_reasons_changes_and_a_dispute_deadline(
    ledger: Ledger,
) -> None:
    made = decide_with_receipt(ledger, ALICE, "deposit_free_rental")
    (notice,) = own_notices(ledger, _session(ledger, ALICE))
    assert (notice.kind, notice.entitlement, notice.outcome, notice.decision_id) == (
        "adverse",
        "deposit_free_rental",
        "denied",
        made.decision_id,
    )
    assert notice.dispute_by == NOW + DISPUTE_WINDOW_DAYS * DAY_US
    body = notice.body
    assert [r["code"] for r in body["reasons"]] == [r.code for r in made.decision.reasons] != []
    assert body["what_would_change_it"] == [c.text for c in made.decision.changes] != []
    assert format_time(notice.dispute_by) in body["how_to_dispute"]
    assert made.decision_id in body["how_to_dispute"]


def test_a_pending_restriction_gives_its_notice_and_another_when_it_takes_effect(
    ledger: Ledger,
) -> None:
    first = decide_subject(ledger, CAROL, "credit_limit_review")
    assert first.outcome == "pending" and first.notice is not None
    session = _session(ledger, CAROL)
    (pending,) = own_notices(ledger, session)
    assert pending.outcome == "pending"
    assert pending.body["effective_at"] == format_time(first.notice.effective_at)
    assert pending.body["legal_basis"] == first.legal_basis
    clock_of(ledger).advance(first.notice.effective_at - NOW)
    assert decide_subject(ledger, CAROL, "credit_limit_review").outcome == "restricted"
    outcomes = [n.outcome for n in own_notices(ledger, _session(ledger, CAROL))]
    assert outcomes == ["pending", "restricted"]


def test_no_duplicate_notice_while_one_is_current_and_a_new_one_after_its_deadline(
    ledger: Ledger,
) -> None:
    for _ in range(3):
        decide_subject(ledger, ALICE, "deposit_free_rental")
    decide_subject(ledger, ALICE, "preferred_loan_rate")  # another entitlement: its own notice
    decide_subject(ledger, ALICE, "deposit_free_rental", as_of=NOW - DAY_US)  # past: no notice
    notices = own_notices(ledger, _session(ledger, ALICE))
    assert [n.entitlement for n in notices] == ["deposit_free_rental", "preferred_loan_rate"]
    clock_of(ledger).advance(DISPUTE_WINDOW_DAYS * DAY_US)
    decide_subject(ledger, ALICE, "deposit_free_rental")
    notices = own_notices(ledger, _session(ledger, ALICE))
    assert [n.entitlement for n in notices][-1] == "deposit_free_rental" and len(notices) == 3


def test_outcomes_that_are_not_adverse_give_no_notice(ledger: Ledger) -> None:
    assert decide_subject(ledger, ALICE, "rental_suspension").outcome == "not_restricted"
    set_override(ledger, BOB, "deposit_free_rental", outcome="granted", reason="checked by hand")
    assert decide_subject(ledger, BOB, "deposit_free_rental").outcome == "granted"
    assert [n.kind for n in own_notices(ledger, _session(ledger, ALICE))] == []
    assert [n.kind for n in own_notices(ledger, _session(ledger, BOB))] == ["override"]


def test_the_outbox_pages_every_notice_once_in_order_and_logs_who_read_it(
    ledger: Ledger,
) -> None:
    for ref in (ALICE, BOB, CAROL):
        decide_subject(ledger, ref, "deposit_free_rental")
        decide_subject(ledger, ref, "preferred_loan_rate")
    seen, cursor = [], 0
    while True:
        page = outbox(ledger, after=cursor, limit=4)
        seen += [(i.notice.seq, str(i.subject), i.notice.entitlement) for i in page.items]
        cursor = page.next_after
        if not page.more:
            break
    assert [s for s, *_ in seen] == list(range(1, 7))
    assert {subject for _, subject, _ in seen} == {str(ALICE), str(BOB), str(CAROL)}
    # At least once: asking again from an older cursor gives the same notices again, in order.
    again = outbox(ledger, after=2, limit=100)
    assert [i.notice.seq for i in again.items] == [3, 4, 5, 6] and not again.more
    assert outbox(ledger, after=6).items == () and outbox(ledger, after=6).next_after == 6
    # A new notice appears after the cursor a consumer holds.
    set_override(ledger, ALICE, "deposit_free_rental", outcome="granted", reason="by hand")
    (late,) = outbox(ledger, after=cursor).items
    assert late.notice.seq == 7 and late.notice.kind == "override"
    accesses = ledger.store.accesses(resolve(ledger, ALICE).key)
    assert any(a.action == "notices outbox" for a in accesses)


def test_the_notice_uses_the_time_of_the_decision(ledger: Ledger) -> None:
    clock_of(ledger).advance(parse_time("2026-07-02T00:00:00Z") - NOW)
    decide_subject(ledger, BOB, "deposit_free_rental")
    (notice,) = own_notices(ledger, _session(ledger, BOB))
    assert notice.issued_at == parse_time("2026-07-02T00:00:00Z")
