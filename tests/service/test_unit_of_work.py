"""A use case commits whole or not at all: consent check, read, access log, notice, decision."""

from __future__ import annotations

import pytest

from credence.engine import Decision
from credence.service import scoring
from credence.service.consents import grant_consent
from credence.service.ledger import Ledger
from credence.service.parties import PartyKind, add_party
from credence.service.sessions import issue_sign_in_token, start_session
from credence.service.subjects import resolve
from credence.types import SubjectRef

CAROL = SubjectRef("custom", "carol")  # at NOW, credit_limit_review is pending: a notice is due


class Boom(Exception):
    """Fails the last step of a decision."""


def test_a_decision_that_fails_at_its_last_step_leaves_nothing(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    lender = add_party(ledger, "lender-3", kind=PartyKind.RELYING_PARTY, contexts=["lending"])
    session = start_session(ledger, issue_sign_in_token(ledger, CAROL).token)[1]
    grant_consent(ledger, session, party_name="lender-3", context="lending")
    key = resolve(ledger, CAROL).key

    def failing(ledger: Ledger, subject_key: int, decision: Decision, **_: object) -> str:
        raise Boom

    with monkeypatch.context() as patch:
        patch.setattr(scoring, "log_decision", failing)
        with pytest.raises(Boom):
            scoring.decide_for_party(ledger, lender, CAROL, "credit_limit_review")
    assert ledger.store.accesses(key) == []
    assert ledger.store.notices(key) == []
    assert ledger.store.decisions(key) == []
    assert ledger.store.subject_notices(key) == []
    # The same decision, not failing, writes all three: the check above could fail.
    made = scoring.decide_for_party(ledger, lender, CAROL, "credit_limit_review")
    assert made.decision.notice_issued
    assert len(ledger.store.accesses(key)) == 1
    assert len(ledger.store.notices(key)) == 1
    assert [d.id for d in ledger.store.decisions(key)] == [made.decision_id]
