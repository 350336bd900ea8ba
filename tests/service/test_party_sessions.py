"""Parties sign in to the console: a signed session bound to an API key, ended by revoking it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credence.errors import AuthenticationFailed, PartyNotFound, UsageError
from credence.service.ledger import Ledger
from credence.service.parties import PartyKind, add_party, create_key, revoke_key, rotate_key
from credence.service.party_sessions import (
    authenticate_party_session,
    issue_party_sign_in_token,
    signed_payload,
    signed_value,
    start_party_session,
)
from credence.types import MICROS
from tests.service.service_data import NOW, clock_of


def _operator(ledger: Ledger) -> str:
    add_party(ledger, "ops", kind=PartyKind.OPERATOR)
    return create_key(ledger, "ops").token


def test_an_api_key_starts_a_session_that_lasts_session_minutes(ledger: Ledger) -> None:
    key = _operator(ledger)
    token, session = start_party_session(ledger, api_key=key)
    assert session.party.name == "ops" and session.party.kind is PartyKind.OPERATOR
    assert session.expires_at == NOW + ledger.settings.session_minutes * 60 * MICROS
    assert authenticate_party_session(ledger, token) == session
    clock_of(ledger).advance(ledger.settings.session_minutes * 60 * MICROS)
    with pytest.raises(AuthenticationFailed):
        authenticate_party_session(ledger, token)


def test_a_sign_in_token_starts_a_session_until_it_expires(ledger: Ledger) -> None:
    _operator(ledger)
    link = issue_party_sign_in_token(ledger, "ops", ttl_us=60 * MICROS)
    assert link.expires_at == NOW + 60 * MICROS
    token, session = start_party_session(ledger, sign_in_token=link.token)
    assert session.party.name == "ops"
    with pytest.raises(AuthenticationFailed):
        start_party_session(ledger, api_key=link.token)  # a sign-in token is no API key
    with pytest.raises(AuthenticationFailed):
        start_party_session(ledger, sign_in_token=token)  # nor is a session a sign-in token
    clock_of(ledger).advance(60 * MICROS)
    with pytest.raises(AuthenticationFailed):
        start_party_session(ledger, sign_in_token=link.token)


def test_revoking_or_rotating_the_key_ends_its_sessions_and_links(ledger: Ledger) -> None:
    _operator(ledger)
    (first,) = [k for k in _keys(ledger)]
    link = issue_party_sign_in_token(ledger, "ops")
    token, _ = start_party_session(ledger, sign_in_token=link.token)
    rotated = rotate_key(ledger, first)
    for stale in (
        lambda: authenticate_party_session(ledger, token),
        lambda: start_party_session(ledger, sign_in_token=link.token),
    ):
        with pytest.raises(AuthenticationFailed):
            stale()
    fresh, _ = start_party_session(ledger, api_key=rotated.token)
    revoke_key(ledger, rotated.key_id)
    with pytest.raises(AuthenticationFailed):
        authenticate_party_session(ledger, fresh)


def _keys(ledger: Ledger) -> list[str]:
    from credence.service.parties import list_keys

    return [k.key_id for k in list_keys(ledger, party_name="ops") if k.revoked_at is None]


def test_a_link_needs_a_registered_party_with_an_active_key(ledger: Ledger) -> None:
    with pytest.raises(PartyNotFound):
        issue_party_sign_in_token(ledger, "nobody")
    add_party(ledger, "keyless", kind=PartyKind.REVIEWER)
    with pytest.raises(UsageError, match="no active API key"):
        issue_party_sign_in_token(ledger, "keyless")
    _operator(ledger)
    with pytest.raises(UsageError):
        issue_party_sign_in_token(ledger, "ops", ttl_us=0)
    with pytest.raises(UsageError):
        start_party_session(ledger)


def test_a_signed_value_is_bound_to_its_purpose_and_its_ledger(ledger: Ledger) -> None:
    value = signed_value(ledger, "csrf", {"n": "1"})
    assert signed_payload(ledger, "csrf", value) == {"n": "1"}
    assert signed_payload(ledger, "party-session", value) is None
    body, _, mac = value.partition(".")
    assert signed_payload(ledger, "csrf", body + "." + mac[::-1]) is None
    assert signed_payload(ledger, "csrf", "eyJuIjoiMiJ9." + mac) is None


@given(st.text(max_size=300))
def test_no_text_is_taken_for_a_signed_value(text: str) -> None:
    from credence.clock import FixedClock
    from credence.crypto import KeyRing
    from credence.settings import load_settings
    from tests.service.service_data import MASTER

    class _Store:  # signed values read no store
        pass

    ledger = Ledger(
        store=_Store(),  # type: ignore[arg-type]
        keys=KeyRing(MASTER),
        settings=load_settings({}),
        clock=FixedClock(NOW),
    )
    assert signed_payload(ledger, "csrf", text) is None
    with pytest.raises(AuthenticationFailed):
        authenticate_party_session(ledger, text)
