"""Parties and API keys: registration rules, keys shown once, stored as hashes, revoked at once."""

from __future__ import annotations

import pytest
from service_data import NOW, clock_of

from credence.errors import (
    ApiKeyNotFound,
    AuthenticationFailed,
    PartyExists,
    PartyInvalid,
    PartyNotFound,
    UsageError,
)
from credence.service import tokens
from credence.service.ledger import Ledger
from credence.service.parties import (
    Party,
    PartyKind,
    add_party,
    authenticate,
    create_key,
    get_party,
    list_keys,
    list_parties,
    revoke_key,
    rotate_key,
)


def test_add_list_and_get_parties(ledger: Ledger) -> None:
    bank = add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
    landlord = add_party(
        ledger, "landlord-7", kind=PartyKind.RELYING_PARTY, contexts=["rentals", "rentals"]
    )
    assert landlord == Party("landlord-7", PartyKind.RELYING_PARTY, ("rentals",), NOW)
    assert list_parties(ledger) == [bank, landlord]
    assert get_party(ledger, "bank-a") == bank
    with pytest.raises(PartyNotFound):
        get_party(ledger, "nobody")


def test_a_party_name_is_registered_once(ledger: Ledger) -> None:
    add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
    with pytest.raises(PartyExists):
        add_party(ledger, "bank-a", kind=PartyKind.REVIEWER)
    assert [p.kind for p in list_parties(ledger)] == [PartyKind.PROVIDER]


def test_a_relying_party_declares_a_context_the_policy_decides_in(ledger: Ledger) -> None:
    with pytest.raises(PartyInvalid, match="at least one context"):
        add_party(ledger, "landlord-7", kind=PartyKind.RELYING_PARTY)
    with pytest.raises(PartyInvalid, match="no context 'housing'") as caught:
        add_party(ledger, "landlord-7", kind=PartyKind.RELYING_PARTY, contexts=["housing"])
    assert "lending, rentals" in (caught.value.suggestion or "")
    with pytest.raises(PartyInvalid, match="only a relying party"):
        add_party(ledger, "bank-a", kind=PartyKind.PROVIDER, contexts=["lending"])
    with pytest.raises(PartyInvalid, match="not allowed"):
        add_party(ledger, "bad name!", kind=PartyKind.REVIEWER)
    assert list_parties(ledger) == []


def test_a_key_authenticates_its_party_and_is_stored_only_as_a_hash(ledger: Ledger) -> None:
    party = add_party(ledger, "landlord-7", kind=PartyKind.RELYING_PARTY, contexts=["rentals"])
    issued = create_key(ledger, "landlord-7")
    assert issued.token.startswith(f"cred_{issued.key_id}_")
    secret = issued.token.split("_", 2)[2]  # the secret may hold "_" itself
    assert len(secret) == 43  # 256 random bits, url-safe base64
    assert authenticate(ledger, issued.token) == party
    stored = ledger.store.key(issued.key_id)
    assert stored is not None and stored.secret_hash == tokens.digest(secret)
    assert secret.encode() not in stored.secret_hash
    (info,) = list_keys(ledger)
    assert (info.key_id, info.party, info.revoked_at) == (issued.key_id, "landlord-7", None)
    assert not hasattr(info, "token")
    assert create_key(ledger, "landlord-7").token != issued.token


def test_keys_are_compared_in_constant_time(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
    issued = create_key(ledger, "bank-a")
    seen: list[tuple[bytes, bytes]] = []
    real = tokens.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    authenticate(ledger, issued.token)
    assert len(seen) == 1


def test_a_revoked_key_fails_at_once(ledger: Ledger) -> None:
    add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
    issued = create_key(ledger, "bank-a")
    other = create_key(ledger, "bank-a")
    clock_of(ledger).advance(5)
    info = revoke_key(ledger, issued.key_id)
    assert info.revoked_at == NOW + 5
    with pytest.raises(AuthenticationFailed):
        authenticate(ledger, issued.token)
    assert authenticate(ledger, other.token).name == "bank-a"
    assert revoke_key(ledger, issued.key_id).revoked_at == NOW + 5  # again: unchanged
    with pytest.raises(ApiKeyNotFound):
        revoke_key(ledger, "0123456789abcdef")


def test_unknown_malformed_and_altered_keys_fail_alike(ledger: Ledger) -> None:
    add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
    issued = create_key(ledger, "bank-a")
    altered = issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")
    unknown = tokens.new_token(tokens.API_KEY).token
    messages = set()
    for token in (altered, unknown, "", "cred_xyz", "Bearer " + issued.token, issued.token + "x"):
        with pytest.raises(AuthenticationFailed) as caught:
            authenticate(ledger, token)
        messages.add(caught.value.one_line())
    assert len(messages) == 1


def test_rotate_key_issues_a_new_key_and_revokes_the_old_together(ledger: Ledger) -> None:
    add_party(ledger, "landlord-7", kind=PartyKind.RELYING_PARTY, contexts=["rentals"])
    old = create_key(ledger, "landlord-7")
    clock_of(ledger).advance(1)
    new = rotate_key(ledger, old.key_id)
    assert new.party == "landlord-7" and new.key_id != old.key_id
    with pytest.raises(AuthenticationFailed):
        authenticate(ledger, old.token)
    assert authenticate(ledger, new.token).name == "landlord-7"
    with pytest.raises(UsageError, match="revoked already"):
        rotate_key(ledger, old.key_id)
    assert [k.key_id for k in list_keys(ledger, party_name="landlord-7")] == [
        old.key_id,
        new.key_id,
    ]


def test_a_key_needs_a_registered_party(ledger: Ledger) -> None:
    with pytest.raises(PartyNotFound):
        create_key(ledger, "nobody")
    with pytest.raises(PartyNotFound):
        list_keys(ledger, party_name="nobody")
    assert list_keys(ledger) == []
