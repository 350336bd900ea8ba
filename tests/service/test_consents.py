"""Consent: granted, listed and revoked by the subject; required, alike for every refusal."""

from __future__ import annotations

import pytest

from credence.errors import (
    ConsentInvalid,
    ConsentMissing,
    ConsentNotFound,
    EntitlementNotFound,
    Forbidden,
    PartyNotFound,
)
from credence.service.consents import (
    Scope,
    grant_consent,
    list_consents,
    require_consent,
    revoke_consent,
)
from credence.service.history import list_accesses, list_decisions
from credence.service.ledger import Ledger
from credence.service.parties import Party, PartyKind, add_party
from credence.service.scoring import decide_for_party, decide_subject, score_for_party
from credence.service.sessions import SubjectSession, issue_sign_in_token, start_session
from credence.types import DAY_US, SubjectRef
from tests.service.service_data import NOW, clock_of

ALICE = SubjectRef("custom", "alice")
BOB = SubjectRef("custom", "bob")


def _session(ledger: Ledger, ref: SubjectRef = ALICE) -> SubjectSession:
    return start_session(ledger, issue_sign_in_token(ledger, ref).token)[1]


def _landlord(ledger: Ledger) -> Party:
    return add_party(
        ledger, "landlord-7", kind=PartyKind.RELYING_PARTY, contexts=["rentals", "lending"]
    )


def test_a_consent_gives_a_receipt_and_lasts_90_days_by_default(ledger: Ledger) -> None:
    _landlord(ledger)
    session = _session(ledger)
    receipt = grant_consent(ledger, session, party_name="landlord-7", context="rentals")
    consent = receipt.consent
    assert (consent.party, consent.context, consent.scope) == ("landlord-7", "rentals", "decision")
    assert (consent.granted_at, consent.expires_at) == (NOW, NOW + 90 * DAY_US)
    assert consent.entitlements == () and consent.revoked_at is None
    for part in ("landlord-7", "'rentals'", "decisions", "2026-09-29", "revoke"):
        assert part in receipt.text
    assert list_consents(ledger, session) == [consent]
    assert list_consents(ledger, _session(ledger, BOB)) == []


def test_a_consent_ends_within_a_year(ledger: Ledger) -> None:
    _landlord(ledger)
    session = _session(ledger)
    year = grant_consent(
        ledger, session, party_name="landlord-7", context="rentals", expires_at=NOW + 365 * DAY_US
    )
    assert year.consent.expires_at == NOW + 365 * DAY_US
    for too in (NOW + 365 * DAY_US + 1, NOW, NOW - 1):
        with pytest.raises(ConsentInvalid):
            grant_consent(
                ledger, session, party_name="landlord-7", context="rentals", expires_at=too
            )


def test_a_consent_goes_to_a_relying_party_in_a_context_it_declares(ledger: Ledger) -> None:
    _landlord(ledger)
    add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
    rentals_only = add_party(ledger, "rent-it", kind=PartyKind.RELYING_PARTY, contexts=["rentals"])
    session = _session(ledger)
    with pytest.raises(ConsentInvalid, match="not a relying party"):
        grant_consent(ledger, session, party_name="bank-a", context="lending")
    with pytest.raises(ConsentInvalid, match="does not decide in"):
        grant_consent(ledger, session, party_name=rentals_only.name, context="lending")
    with pytest.raises(PartyNotFound):
        grant_consent(ledger, session, party_name="nobody", context="rentals")
    with pytest.raises(ConsentInvalid, match="not an entitlement of the context"):
        grant_consent(
            ledger,
            session,
            party_name="landlord-7",
            context="rentals",
            entitlements=["preferred_loan_rate"],
        )
    assert list_consents(ledger, session) == []


def test_a_relying_party_decision_needs_consent_and_is_logged(ledger: Ledger) -> None:
    landlord = _landlord(ledger)
    session = _session(ledger)
    with pytest.raises(ConsentMissing):
        decide_for_party(ledger, landlord, ALICE, "deposit_free_rental")
    receipt = grant_consent(
        ledger,
        session,
        party_name="landlord-7",
        context="rentals",
        entitlements=["deposit_free_rental"],
    )
    clock_of(ledger).advance(3)
    made = decide_for_party(ledger, landlord, ALICE, "deposit_free_rental")
    assert made.consent_id == receipt.consent.id and made.party == "landlord-7"
    (access,) = list_accesses(ledger, session)
    assert (access.party, access.action, access.context, access.consent_id) == (
        "landlord-7",
        "decide deposit_free_rental",
        "rentals",
        receipt.consent.id,
    )
    (logged,) = list_decisions(ledger, session)
    assert (logged.id, logged.party, logged.entitlement, logged.outcome, logged.at) == (
        made.decision_id,
        "landlord-7",
        "deposit_free_rental",
        made.decision.outcome,
        NOW + 3,
    )
    assert logged.reasons == tuple(r.code for r in made.decision.reasons)
    # The consent names one entitlement: another of the same context is not covered.
    with pytest.raises(ConsentMissing):
        decide_for_party(ledger, landlord, ALICE, "rental_suspension")
    with pytest.raises(EntitlementNotFound):
        decide_for_party(ledger, landlord, ALICE, "no_such_thing")


def test_consent_missing_is_the_same_for_unknown_and_known_subjects(ledger: Ledger) -> None:
    landlord = _landlord(ledger)
    grant_consent(ledger, _session(ledger, BOB), party_name="landlord-7", context="lending")
    answers = []
    for ref in (ALICE, SubjectRef("custom", "nobody"), SubjectRef("cn.ric", "not-an-id"), BOB):
        with pytest.raises(ConsentMissing) as caught:
            decide_for_party(ledger, landlord, ref, "deposit_free_rental")
        assert caught.value.__cause__ is None
        answers.append((caught.value.status, caught.value.to_dict()))
    assert answers[0][0] == 403
    assert all(answer == answers[0] for answer in answers)
    assert answers[0][1]["error"]["code"] == "consent.missing"


def test_a_revoked_consent_fails_on_the_next_request(ledger: Ledger) -> None:
    landlord = _landlord(ledger)
    session = _session(ledger)
    consent = grant_consent(ledger, session, party_name="landlord-7", context="rentals").consent
    decide_for_party(ledger, landlord, ALICE, "deposit_free_rental")
    clock_of(ledger).advance(1)
    revoked = revoke_consent(ledger, session, consent.id)
    assert revoked.revoked_at == NOW + 1
    assert revoke_consent(ledger, session, consent.id) == revoked  # again: unchanged
    with pytest.raises(ConsentMissing):
        decide_for_party(ledger, landlord, ALICE, "deposit_free_rental")


def test_an_expired_consent_fails(ledger: Ledger) -> None:
    landlord = _landlord(ledger)
    grant_consent(
        ledger,
        _session(ledger),
        party_name="landlord-7",
        context="rentals",
        expires_at=NOW + DAY_US,
    )
    decide_for_party(ledger, landlord, ALICE, "deposit_free_rental")
    clock_of(ledger).advance(DAY_US)
    with pytest.raises(ConsentMissing):
        decide_for_party(ledger, landlord, ALICE, "deposit_free_rental")


def test_a_score_needs_a_decision_and_score_consent(ledger: Ledger) -> None:
    landlord = _landlord(ledger)
    session = _session(ledger)
    grant_consent(ledger, session, party_name="landlord-7", context="rentals")
    with pytest.raises(ConsentMissing):
        score_for_party(ledger, landlord, ALICE, context="rentals")
    clock_of(ledger).advance(1)
    wide = grant_consent(
        ledger, session, party_name="landlord-7", context="rentals", scope=Scope.DECISION_AND_SCORE
    )
    got = score_for_party(ledger, landlord, ALICE, context="rentals")
    assert got.ref == ALICE
    assert list_accesses(ledger, session)[-1].consent_id == wide.consent.id
    row, consent = require_consent(
        ledger, landlord, ALICE, context="rentals", entitlement=None, scope=Scope.DECISION
    )
    assert consent == wide.consent and row.key == session.subject_key  # the latest valid one


def test_a_subject_revokes_only_its_own_consents(ledger: Ledger) -> None:
    _landlord(ledger)
    consent = grant_consent(
        ledger, _session(ledger), party_name="landlord-7", context="rentals"
    ).consent
    with pytest.raises(ConsentNotFound):
        revoke_consent(ledger, _session(ledger, BOB), consent.id)
    with pytest.raises(ConsentNotFound):
        revoke_consent(ledger, _session(ledger, BOB), "cns_missing")


def test_only_relying_parties_ask_for_consent_gated_reads(ledger: Ledger) -> None:
    bank = add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
    reviewer = add_party(ledger, "reviewer-1", kind=PartyKind.REVIEWER)
    with pytest.raises(Forbidden):
        decide_for_party(ledger, bank, ALICE, "deposit_free_rental")
    with pytest.raises(Forbidden):
        require_consent(
            ledger, reviewer, ALICE, context="rentals", entitlement=None, scope=Scope.DECISION
        )
    made = decide_for_party(ledger, reviewer, ALICE, "deposit_free_rental")  # needs none
    assert made.consent_id is None and made.party == "reviewer-1"


def test_operator_reads_are_logged_as_the_operator_party(ledger: Ledger) -> None:
    session = _session(ledger)
    decide_subject(ledger, ALICE, "deposit_free_rental")
    (access,) = list_accesses(ledger, session)
    assert (access.party, access.context, access.consent_id) == (
        ledger.settings.actor,
        "rentals",
        None,
    )
    assert [d.party for d in list_decisions(ledger, session)] == [ledger.settings.actor]
