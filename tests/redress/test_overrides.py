"""Overrides: set by a person, named in every decision they change, stopped at once."""

from __future__ import annotations

import pytest

from credence.errors import (
    EntitlementNotFound,
    OverrideConflict,
    OverrideInvalid,
    OverrideNotFound,
    SubjectNotFound,
)
from credence.service.ledger import Ledger
from credence.service.notices import own_notices
from credence.service.overrides import (
    end_override,
    overrides_in_force,
    own_overrides,
    set_override,
    subject_overrides,
)
from credence.service.scoring import decide_with_receipt
from credence.service.sessions import issue_sign_in_token, start_session
from credence.types import DAY_US, SubjectRef
from tests.service.service_data import NOW, clock_of

ALICE = SubjectRef("custom", "alice")
CAROL = SubjectRef("custom", "carol")
REASON = "the late bill was the utility's billing error, confirmed by phone"


def test_an_override_sets_the_outcome_is_named_and_signed_and_expires_at_once(
    ledger: Ledger,
) -> None:
    before = decide_with_receipt(ledger, ALICE, "deposit_free_rental")
    assert before.decision.outcome == "denied" and before.decision.override is None
    ovr = set_override(
        ledger, ALICE, "deposit_free_rental", outcome="granted", reason=REASON,
        ends_at=NOW + 10 * DAY_US,
    )  # fmt: skip
    assert (ovr.state, ovr.set_by, ovr.subject) == ("in_force", "operator", ALICE)
    during = decide_with_receipt(ledger, ALICE, "deposit_free_rental")
    d = during.decision
    assert (d.outcome, d.allowed, d.override) == ("granted", True, ovr.id)
    assert d.reasons[0].code == "override" and REASON in d.reasons[0].text
    assert during.receipt.body["override"] == ovr.id
    assert during.receipt.body["outcome"] == "granted"
    # Other entitlements and subjects are untouched.
    assert decide_with_receipt(ledger, ALICE, "preferred_loan_rate").decision.override is None
    clock = clock_of(ledger)
    clock.advance(10 * DAY_US - 1)
    assert decide_with_receipt(ledger, ALICE, "deposit_free_rental").decision.outcome == "granted"
    clock.advance(1)  # the end date: the engine's outcome again, at once
    after = decide_with_receipt(ledger, ALICE, "deposit_free_rental").decision
    assert (after.outcome, after.override) == ("denied", None)
    assert [o.state for o in subject_overrides(ledger, ALICE)] == ["expired"]
    assert overrides_in_force(ledger) == []


def test_ending_an_override_early_stops_it_at_once_and_only_once(ledger: Ledger) -> None:
    ovr = set_override(ledger, ALICE, "deposit_free_rental", outcome="granted", reason=REASON)
    assert ovr.ends_at == NOW + 365 * DAY_US  # the longest allowed, by default
    assert [o.id for o in overrides_in_force(ledger)] == [ovr.id]
    ended = end_override(ledger, ovr.id, by="ops-2")
    assert (ended.state, ended.ended_by) == ("ended", "ops-2")
    assert decide_with_receipt(ledger, ALICE, "deposit_free_rental").decision.override is None
    with pytest.raises(OverrideNotFound):
        end_override(ledger, ovr.id)
    with pytest.raises(OverrideNotFound):
        end_override(ledger, "ovr_unknown")


def test_an_override_can_lift_a_restriction_and_its_notice_is_not_issued(ledger: Ledger) -> None:
    ovr = set_override(
        ledger, CAROL, "credit_limit_review", outcome="not_restricted", reason=REASON
    )
    made = decide_with_receipt(ledger, CAROL, "credit_limit_review").decision
    assert (made.outcome, made.override, made.notice_issued) == ("not_restricted", ovr.id, False)
    assert ledger.store.notices(ledger.store.override(ovr.id).subject_key) == []  # type: ignore[union-attr]


def test_an_override_denying_a_benefit_carries_its_reason_code(ledger: Ledger) -> None:
    set_override(ledger, ALICE, "preferred_loan_rate", outcome="denied", reason=REASON)
    made = decide_with_receipt(ledger, ALICE, "preferred_loan_rate").decision
    assert made.outcome == "denied" and made.reasons[0].code == "override"


@pytest.mark.parametrize(
    ("entitlement", "outcome", "reason", "ends_in_days", "error", "match"),
    [
        ("credit_limit_review", "restricted", REASON, 5, OverrideInvalid, "never imposed"),
        ("deposit_free_rental", "pending", REASON, 5, OverrideInvalid, "granted or denied"),
        ("deposit_free_rental", "granted", "   ", 5, OverrideInvalid, "written reason"),
        ("deposit_free_rental", "granted", "x" * 2001, 5, OverrideInvalid, "written reason"),
        ("deposit_free_rental", "granted", REASON, 366, OverrideInvalid, "at most 365 days"),
        ("deposit_free_rental", "granted", REASON, 0, OverrideInvalid, "end after now"),
        ("no_such_thing", "granted", REASON, 5, EntitlementNotFound, "no entitlement"),
    ],
)
def test_an_override_that_cannot_be_set_is_refused_with_a_clear_error(
    ledger: Ledger,
    entitlement: str,
    outcome: str,
    reason: str,
    ends_in_days: int,
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        set_override(
            ledger, ALICE, entitlement, outcome=outcome, reason=reason,
            ends_at=NOW + ends_in_days * DAY_US,
        )  # fmt: skip
    assert subject_overrides(ledger, ALICE) == []


def test_a_second_override_while_one_is_in_force_is_refused(ledger: Ledger) -> None:
    first = set_override(ledger, ALICE, "deposit_free_rental", outcome="granted", reason=REASON)
    with pytest.raises(OverrideConflict, match=first.id):
        set_override(ledger, ALICE, "deposit_free_rental", outcome="denied", reason=REASON)
    with pytest.raises(SubjectNotFound):
        set_override(ledger, SubjectRef("custom", "nobody"), "deposit_free_rental",
                     outcome="granted", reason=REASON)  # fmt: skip


def test_the_subject_sees_its_overrides_and_is_given_notice(ledger: Ledger) -> None:
    ovr = set_override(ledger, ALICE, "deposit_free_rental", outcome="granted", reason=REASON)
    end_override(ledger, ovr.id)
    session = start_session(ledger, issue_sign_in_token(ledger, ALICE).token)[1]
    (seen,) = own_overrides(ledger, session)
    assert (seen.id, seen.reason, seen.state) == (ovr.id, REASON, "ended")
    kinds = [(n.kind, n.body.get("override_id")) for n in own_notices(ledger, session)]
    assert kinds == [("override", ovr.id), ("override", ovr.id)]
