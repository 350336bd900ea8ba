"""The contract of units of work and of the per-subject logs and access model, every backend.

Collected by ``test_contract.py`` beside ``contract.py``.
"""

from __future__ import annotations

import pytest
from ledger_data import T0, batch, record, subject

from credence.ledger import (
    Access,
    ConsentRow,
    DecisionRow,
    KeyRow,
    PartyRow,
    SessionRow,
    SignInRow,
    Store,
)
from credence.types import Notice

__all__ = [
    "test_a_nested_unit_of_work_joins_the_outer_one",
    "test_access_log_keeps_context_and_consent",
    "test_an_append_inside_a_failed_unit_of_work_leaves_no_record",
    "test_consents_round_trip_and_revoke_once",
    "test_decisions_round_trip_per_subject",
    "test_outside_a_unit_of_work_each_call_commits_on_its_own",
    "test_parties_and_keys_round_trip",
    "test_sessions_end_once",
    "test_sign_in_tokens_are_used_once",
    "test_subject_by_key",
    "test_unit_of_work_commits_and_reads_see_its_writes",
    "test_unit_of_work_rolls_back_a_notice_an_access_and_a_consent",
]


class Boom(Exception):
    """Raised inside a unit of work to abort it."""


def _consent(subject_key: int, consent_id: str = "c1", **changes: object) -> ConsentRow:
    values: dict[str, object] = {
        "id": consent_id,
        "subject_key": subject_key,
        "party": "landlord-7",
        "context": "housing",
        "entitlements": ("deposit_free_rental",),
        "scope": "decision",
        "granted_at": T0,
        "expires_at": T0 + 90,
    }
    values.update(changes)
    return ConsentRow(**values)  # type: ignore[arg-type]


def _subject_key(store: Store) -> int:
    people, records = batch(4, subjects=2)
    store.append(people, records, ingested_at=T0)
    first, *_ = store.subjects()  # read whole: a stream left open holds a cursor
    return first.key


def test_unit_of_work_rolls_back_a_notice_an_access_and_a_consent(store: Store) -> None:
    key = _subject_key(store)
    with pytest.raises(Boom), store.transaction():
        store.add_notice(key, Notice("rental_suspension", T0, T0 + 10, None))
        store.log_access(Access(key, T0, "landlord-7", "decide", "housing", "housing", "c1"))
        store.add_consent(_consent(key))
        store.add_decision(DecisionRow("d1", key, "landlord-7", "x", "deny", ("r",), T0, T0))
        store.add_party(PartyRow("landlord-7", "relying_party", ("housing",), T0))
        assert store.consent("c1") is not None  # seen inside the unit
        raise Boom
    assert store.notices(key) == []
    assert store.accesses(key) == []
    assert store.consent("c1") is None and store.consents(key) == []
    assert store.decisions(key) == []
    assert store.party("landlord-7") is None
    # The store is usable afterwards.
    store.add_consent(_consent(key))
    assert store.consents(key) == [_consent(key)]


def test_unit_of_work_commits_and_reads_see_its_writes(store: Store) -> None:
    key = _subject_key(store)
    with store.transaction():
        store.add_consent(_consent(key))
        assert store.consents(key) == [_consent(key)]
        assert store.revoke_consent("c1", at=T0 + 1)
        assert store.consent("c1") == _consent(key, revoked_at=T0 + 1)
        store.log_access(Access(key, T0, "operator", "read", "review"))
    assert store.consent("c1") == _consent(key, revoked_at=T0 + 1)
    assert [a.action for a in store.accesses(key)] == ["read"]


def test_a_nested_unit_of_work_joins_the_outer_one(store: Store) -> None:
    key = _subject_key(store)
    with pytest.raises(Boom), store.transaction():
        with store.transaction():
            store.add_notice(key, Notice("rental_suspension", T0, T0, None))
        assert store.notices(key) != []  # the inner block did not commit on its own
        raise Boom
    assert store.notices(key) == []
    with store.transaction(), store.transaction():
        store.add_notice(key, Notice("rental_suspension", T0, T0, None))
    assert len(store.notices(key)) == 1


def test_outside_a_unit_of_work_each_call_commits_on_its_own(store: Store) -> None:
    key = _subject_key(store)
    store.add_notice(key, Notice("rental_suspension", T0, T0, None))
    with pytest.raises(Boom), store.transaction():
        store.add_consent(_consent(key))
        raise Boom
    assert len(store.notices(key)) == 1  # written before the failed unit: kept
    assert store.consents(key) == []


def test_an_append_inside_a_failed_unit_of_work_leaves_no_record(store: Store) -> None:
    _subject_key(store)
    head, counts = store.chain_head(), store.counts()
    bob = subject("bob")
    with pytest.raises(Boom), store.transaction():
        assert store.append([bob], [record(bob.lookup, "b1")], ingested_at=T0).inserted == 1
        assert store.find_subjects([bob.lookup]) != {}
        raise Boom
    assert store.chain_head() == head and store.counts() == counts
    assert store.find_subjects([bob.lookup]) == {}
    assert store.append([bob], [record(bob.lookup, "b1")], ingested_at=T0).inserted == 1
    assert store.verify().ok


def test_parties_and_keys_round_trip(store: Store) -> None:
    landlord = PartyRow("landlord-7", "relying_party", ("housing", "lending"), T0)
    bank = PartyRow("bank-a", "provider", (), T0 + 1)
    assert store.add_party(landlord)
    assert store.add_party(bank)
    assert not store.add_party(PartyRow("bank-a", "reviewer", (), T0 + 2))  # name taken
    assert store.party("bank-a") == bank
    assert store.party("nobody") is None
    assert store.parties() == [bank, landlord]
    first = KeyRow("k1", "landlord-7", b"\x01" * 32, T0)
    second = KeyRow("k2", "bank-a", b"\x02" * 32, T0 + 1)
    store.add_key(first)
    store.add_key(second)
    assert store.key("k1") == first
    assert store.key("missing") is None
    assert store.keys() == [first, second]
    assert store.keys("bank-a") == [second]
    assert store.revoke_key("k1", at=T0 + 5)
    assert not store.revoke_key("k1", at=T0 + 6)  # revoked once, at the first time
    assert not store.revoke_key("missing", at=T0 + 6)
    assert store.key("k1") == KeyRow("k1", "landlord-7", b"\x01" * 32, T0, T0 + 5)


def test_sign_in_tokens_are_used_once(store: Store) -> None:
    key = _subject_key(store)
    token = SignInRow("t1", key, b"\x03" * 32, T0, T0 + 900)
    store.add_sign_in(token)
    assert store.sign_in("t1") == token
    assert store.sign_in("t2") is None
    assert store.use_sign_in("t1", at=T0 + 1)
    assert not store.use_sign_in("t1", at=T0 + 2)
    assert not store.use_sign_in("t2", at=T0 + 2)
    assert store.sign_in("t1") == SignInRow("t1", key, b"\x03" * 32, T0, T0 + 900, T0 + 1)


def test_sessions_end_once(store: Store) -> None:
    key = _subject_key(store)
    session = SessionRow("s1", key, b"\x04" * 32, T0, T0 + 3600)
    store.add_session(session)
    assert store.session("s1") == session
    assert store.session("s2") is None
    assert store.end_session("s1", at=T0 + 7)
    assert not store.end_session("s1", at=T0 + 8)
    ended = store.session("s1")
    assert ended is not None and ended.ended_at == T0 + 7


def test_consents_round_trip_and_revoke_once(store: Store) -> None:
    key = _subject_key(store)
    other = key + 1
    later = _consent(key, "c2", granted_at=T0 + 5, entitlements=(), scope="decision+score")
    store.add_consent(later)
    store.add_consent(_consent(key))
    store.add_consent(_consent(other, "c3"))
    assert store.consents(key) == [_consent(key), later]
    assert store.consents(999_999) == []
    assert store.consent("c2") == later
    assert store.revoke_consent("c2", at=T0 + 9)
    assert not store.revoke_consent("c2", at=T0 + 10)
    assert not store.revoke_consent("missing", at=T0 + 10)
    revoked = store.consent("c2")
    assert revoked is not None and revoked.revoked_at == T0 + 9
    assert [c.id for c in store.consents(other)] == ["c3"]


def test_decisions_round_trip_per_subject(store: Store) -> None:
    key = _subject_key(store)
    second = DecisionRow("d2", key, "landlord-7", "deposit_free_rental", "allow", (), T0, T0 + 2)
    first = DecisionRow(
        "d1", key, "operator", "rental_suspension", "deny", ("bill_late", "x"), T0 - 9, T0 + 1
    )
    store.add_decision(second)
    store.add_decision(first)
    store.add_decision(DecisionRow("d3", key + 1, "operator", "x", "allow", (), T0, T0))
    assert store.decisions(key) == [first, second]
    assert store.decisions(999_999) == []


def test_access_log_keeps_context_and_consent(store: Store) -> None:
    key = _subject_key(store)
    with_consent = Access(key, T0 + 2, "landlord-7", "decide", "housing", "housing", "c1")
    operator = Access(key, T0 + 1, "operator", "explain", "explanation")
    store.log_access(with_consent)
    store.log_access(operator)
    assert store.accesses(key) == [operator, with_consent]
    assert (operator.context, operator.consent_id, with_consent.party) == (
        None,
        None,
        "landlord-7",
    )


def test_subject_by_key(store: Store) -> None:
    alice = subject("alice")
    store.append([alice], [record(alice.lookup, "a1")], ingested_at=T0)
    row = store.find_subjects([alice.lookup])[alice.lookup]
    assert store.subject(row.key) == row
    assert store.subject(row.key + 1_000) is None
