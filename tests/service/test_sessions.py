"""Subjects sign in with an operator-issued token, once, for a session that expires."""

from __future__ import annotations

import pytest
from service_data import NOW, clock_of

from credence.errors import AuthenticationFailed, SubjectNotFound, UsageError
from credence.service.ledger import Ledger
from credence.service.parties import PartyKind, add_party, create_key
from credence.service.sessions import (
    authenticate_session,
    end_session,
    issue_sign_in_token,
    start_session,
)
from credence.types import MICROS, SubjectRef

ALICE = SubjectRef("custom", "alice")


def test_a_sign_in_token_is_exchanged_once_for_a_session(ledger: Ledger) -> None:
    issued = issue_sign_in_token(ledger, ALICE)
    assert issued.subject == ALICE and issued.expires_at == NOW + 15 * 60 * MICROS
    assert issued.token.startswith("csign_")
    token, session = start_session(ledger, issued.token)
    assert session.subject == ALICE and session.kind == "person"
    assert session.expires_at == NOW + ledger.settings.session_minutes * 60 * MICROS
    assert authenticate_session(ledger, token) == session
    with pytest.raises(AuthenticationFailed):
        start_session(ledger, issued.token)  # single use


def test_a_sign_in_token_expires(ledger: Ledger) -> None:
    issued = issue_sign_in_token(ledger, ALICE, ttl_us=60 * MICROS)
    clock_of(ledger).advance(60 * MICROS)
    with pytest.raises(AuthenticationFailed):
        start_session(ledger, issued.token)
    with pytest.raises(UsageError):
        issue_sign_in_token(ledger, ALICE, ttl_us=0)


def test_a_sign_in_token_names_a_stored_subject(ledger: Ledger) -> None:
    with pytest.raises(SubjectNotFound):
        issue_sign_in_token(ledger, SubjectRef("custom", "nobody"))


def test_a_session_expires_after_the_setting(ledger: Ledger) -> None:
    token, _ = start_session(ledger, issue_sign_in_token(ledger, ALICE).token)
    clock_of(ledger).advance(ledger.settings.session_minutes * 60 * MICROS - 1)
    authenticate_session(ledger, token)
    clock_of(ledger).advance(1)
    with pytest.raises(AuthenticationFailed):
        authenticate_session(ledger, token)


def test_an_ended_session_fails(ledger: Ledger) -> None:
    token, _ = start_session(ledger, issue_sign_in_token(ledger, ALICE).token)
    end_session(ledger, token)
    with pytest.raises(AuthenticationFailed):
        authenticate_session(ledger, token)
    with pytest.raises(AuthenticationFailed):
        end_session(ledger, token)


def test_a_party_key_is_not_a_session(ledger: Ledger) -> None:
    """A relying party's credential cannot act as a subject (and so cannot grant consents)."""
    add_party(ledger, "landlord-7", kind=PartyKind.RELYING_PARTY, contexts=["rentals"])
    key = create_key(ledger, "landlord-7")
    for token in (key.token, key.token.replace("cred_", "csess_", 1)):
        with pytest.raises(AuthenticationFailed):
            authenticate_session(ledger, token)
