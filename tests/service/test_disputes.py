"""Disputes: the state machine, the clock at its edges, held decisions, and a dropped record
that never comes back (resend, rebuild, purge, backup restore)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credence.engine import disputes as rules
from credence.errors import (
    DisputeInvalid,
    DisputeNotFound,
    DisputeStateError,
    Forbidden,
)
from credence.service import disputes
from credence.service.disputes import (
    add_information,
    answer_dispute,
    file_dispute,
    open_disputes,
    own_disputes,
    provider_disputes,
    resolve_dispute,
    sweep,
)
from credence.service.ingest import ingest_files
from credence.service.ledger import Ledger
from credence.service.parties import Party, PartyKind, add_party
from credence.service.scoring import decide_subject, explain_subject, score_all, score_subject
from credence.service.sessions import SubjectSession, issue_sign_in_token, start_session
from credence.types import DAY_US, SubjectRef, parse_time
from tests.service.service_data import NOW, clock_of

ALICE = SubjectRef("custom", "alice")
BOB = SubjectRef("custom", "bob")
A7 = "rent-it:a7"  # a damaged, late rental return: -25 in contract_fulfilment


def _session(ledger: Ledger, ref: SubjectRef = ALICE) -> SubjectSession:
    return start_session(ledger, issue_sign_in_token(ledger, ref).token)[1]


def _parties(ledger: Ledger) -> tuple[Party, Party, Party]:
    rent_it = add_party(ledger, "rent-it", kind=PartyKind.PROVIDER)
    bank = add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
    reviewer = add_party(ledger, "reviewer-1", kind=PartyKind.REVIEWER)
    return rent_it, bank, reviewer


def _send(ledger: Ledger, tmp_path: Path, *records: dict[str, object], name: str = "more") -> int:
    path = tmp_path / f"{name}.jsonl"
    base = {"subject_scheme": "custom", "subject_id": "alice", "subject_kind": "person"}
    path.write_text("".join(json.dumps({**base, **r}) + "\n" for r in records))
    (report,) = ingest_files(ledger, [path])
    assert report.rejected == 0
    return report.inserted


def _damaged(event_id: str, at: str = "2026-06-01T00:00:00Z") -> dict[str, object]:
    return {
        "provider": "rent-it",
        "provider_event_id": event_id,
        "type": "rental.returned",
        "occurred_at": at,
        "attributes": {"days_late": 5, "damaged": True},
    }


def _score(ledger: Ledger, ref: SubjectRef = ALICE, as_of: int | None = None) -> int:
    return score_subject(ledger, ref, as_of=as_of).outcome.score


def _keys(ledger: Ledger, ref: SubjectRef = ALICE) -> set[tuple[str, str]]:
    outcome = score_subject(ledger, ref).outcome
    return {c.record.key for c in outcome.contributions}


# --- the state machine -------------------------------------------------------------
def test_filing_opens_a_dispute_with_a_30_day_deadline_and_a_chained_event(
    ledger: Ledger,
) -> None:
    session = _session(ledger)
    view = file_dispute(
        ledger, session, A7, "  The item was not damaged  ", "https://example.org/photo.jpg"
    )
    assert (view.state, view.record, view.statement) == ("open", A7, "The item was not damaged")
    assert (view.filed_at, view.deadline, view.days_left) == (NOW, NOW + 30 * DAY_US, 30)
    assert view.resolution is None and not view.extended
    assert own_disputes(ledger, session) == [view]
    kinds = [e.kind for e in ledger.store.events(session.subject_key)]
    assert kinds == ["dispute.filed"]
    payload = json.loads(ledger.store.events(session.subject_key)[0].payload or "{}")
    assert payload["dispute"] == view.id and "damaged" not in json.dumps(payload)
    assert ledger.store.verify().ok


@pytest.mark.parametrize(
    ("record", "statement", "evidence", "words"),
    [
        ("rent-it:nope", "wrong", None, "no record"),
        ("a7", "wrong", None, "not a record id"),
        (A7, "   ", None, "empty"),
        (A7, "wrong", "ftp://example.org/x", "http"),
        ("bank-a:b20", "not mine", None, "no record"),  # bob's record
    ],
)
def test_a_dispute_that_cannot_be_filed_is_refused_and_nothing_is_kept(
    ledger: Ledger, record: str, statement: str, evidence: str | None, words: str
) -> None:
    session = _session(ledger)
    with pytest.raises(DisputeInvalid, match=words):
        file_dispute(ledger, session, record, statement, evidence)
    assert own_disputes(ledger, session) == []
    assert ledger.store.events(session.subject_key) == []


def test_every_transition_and_every_illegal_one(ledger: Ledger) -> None:
    rent_it, bank, reviewer = _parties(ledger)
    session = _session(ledger)
    view = file_dispute(ledger, session, A7, "not damaged")
    with pytest.raises(DisputeStateError, match="still open"):
        file_dispute(ledger, session, A7, "something else")
    view = add_information(ledger, session, view.id, "the shop receipt", "https://x.example/r")
    assert view.state == "open" and view.extended
    with pytest.raises(DisputeNotFound):
        answer_dispute(ledger, bank, view.id, "verified")  # not bank-a's record
    with pytest.raises(DisputeInvalid, match="not an answer"):
        answer_dispute(ledger, rent_it, view.id, "maybe")
    with pytest.raises(DisputeInvalid, match="correcting record"):
        answer_dispute(ledger, rent_it, view.id, "corrected")
    view = answer_dispute(ledger, rent_it, view.id, "verified")
    assert (view.answer, view.state) == ("verified", "open")
    with pytest.raises(DisputeStateError, match="answered already"):
        answer_dispute(ledger, rent_it, view.id, "retracted")
    with pytest.raises(Forbidden):
        resolve_dispute(ledger, rent_it, view.id, "upheld", "I say so")
    with pytest.raises(DisputeInvalid, match="not an outcome"):
        resolve_dispute(ledger, reviewer, view.id, "maybe", "why")
    with pytest.raises(DisputeInvalid, match="reason"):
        resolve_dispute(ledger, reviewer, view.id, "rejected", " ")
    view = resolve_dispute(ledger, reviewer, view.id, "rejected", "the provider's photos")
    assert (view.state, view.resolution, view.reason, view.days_left) == (
        "rejected",
        "rejected",
        "the provider's photos",
        0,
    )
    for step in (
        lambda: add_information(ledger, session, view.id, "more"),
        lambda: answer_dispute(ledger, rent_it, view.id, "retracted"),
        lambda: resolve_dispute(ledger, reviewer, view.id, "upheld", "changed my mind"),
    ):
        with pytest.raises(DisputeStateError, match="it is rejected") as caught:
            step()
        assert caught.value.status == 409 and caught.value.details["state"] == "rejected"
    kinds = [e.kind for e in ledger.store.events(session.subject_key)]
    assert kinds == ["dispute.filed", "dispute.information", "dispute.answered", "dispute.resolved"]
    assert ledger.store.verify().ok


def test_the_transition_table_refuses_everything_it_does_not_list() -> None:
    actions = (rules.ADD_INFORMATION, rules.ANSWER, rules.UPHOLD, rules.REJECT)
    for state in rules.STATES:
        for action in (*actions, rules.TERMINATE, rules.LAPSE):
            if (state, action) in rules.TRANSITIONS:
                assert rules.transition(state, action) == rules.TRANSITIONS[(state, action)]
            else:
                with pytest.raises(DisputeStateError):
                    rules.transition(state, action)
    assert {s for (s, _a) in rules.TRANSITIONS} == {rules.OPEN}


def test_a_record_is_disputed_again_only_with_new_information(ledger: Ledger) -> None:
    _rent_it, _bank, reviewer = _parties(ledger)
    session = _session(ledger)
    first = file_dispute(ledger, session, A7, "Not damaged", "https://example.org/a")
    resolve_dispute(ledger, reviewer, first.id, "rejected", "photos show damage")
    with pytest.raises(DisputeInvalid, match="nothing new"):
        file_dispute(ledger, session, A7, "  not   DAMAGED ")
    with pytest.raises(DisputeInvalid, match="nothing new"):
        file_dispute(ledger, session, A7, "not damaged", "https://example.org/a")
    again = file_dispute(ledger, session, A7, "not damaged", "https://example.org/new-photo")
    assert again.state == "open" and again.id != first.id


def test_a_provider_sees_only_disputes_of_its_own_records_and_each_read_is_logged(
    ledger: Ledger,
) -> None:
    rent_it, bank, _reviewer = _parties(ledger)
    session = _session(ledger)
    view = file_dispute(ledger, session, A7, "not damaged")
    assert [v.id for v in provider_disputes(ledger, rent_it)] == [view.id]
    assert provider_disputes(ledger, bank) == []
    accesses = ledger.store.accesses(session.subject_key)
    assert [(a.actor, a.action) for a in accesses][-1] == ("rent-it", "dispute read")
    reviewer = add_party(ledger, "relier", kind=PartyKind.RELYING_PARTY, contexts=["rentals"])
    with pytest.raises(Forbidden):
        provider_disputes(ledger, reviewer)


def test_a_correction_names_a_record_the_provider_sent_of_the_same_subject(
    ledger: Ledger, tmp_path: Path
) -> None:
    rent_it, _bank, _reviewer = _parties(ledger)
    view = file_dispute(ledger, _session(ledger), A7, "it was on time")
    with pytest.raises(DisputeInvalid, match="sent no record"):
        answer_dispute(ledger, rent_it, view.id, "corrected", "a7-fix")
    fix = {**_damaged("a7-fix", "2026-02-01T00:00:00Z"), "retracts": "a7"}
    _send(ledger, tmp_path, fix)
    answered = answer_dispute(ledger, rent_it, view.id, "corrected", "a7-fix")
    assert (answered.answer, answered.answer_record) == ("corrected", "a7-fix")


# --- the clock -----------------------------------------------------------------------
def test_the_30th_day_is_the_last_day_open_and_the_deadline_lapses_it(ledger: Ledger) -> None:
    session = _session(ledger)
    before = _score(ledger, as_of=NOW)
    view = file_dispute(ledger, session, A7, "not damaged")
    clock = clock_of(ledger)
    clock.advance(30 * DAY_US - 1)
    (still,) = own_disputes(ledger, _session(ledger))
    assert (still.state, still.days_left) == ("open", 1)
    assert _score(ledger, as_of=NOW) == before  # an open dispute does not change the score
    clock.advance(1)
    (lapsed,) = own_disputes(ledger, _session(ledger))
    assert (lapsed.state, lapsed.resolution, lapsed.resolved_at) == (
        "lapsed",
        "lapsed",
        view.deadline,
    )
    assert _score(ledger, as_of=NOW) == before + 25  # dropped before any sweep
    assert open_disputes(ledger) == []
    with pytest.raises(DisputeStateError, match="lapsed"):
        add_information(ledger, _session(ledger), view.id, "late")
    # the sweep writes it down once, with a chained event; a second sweep writes nothing
    assert [v.id for v in sweep(ledger)] == [view.id]
    assert sweep(ledger) == []
    assert ledger.store.dispute(view.id).state == "lapsed"  # type: ignore[union-attr]
    assert [e.kind for e in ledger.store.events(session.subject_key)][-1] == "dispute.lapsed"
    assert _score(ledger, as_of=NOW) == before + 25


def test_information_within_30_days_extends_once_by_15_and_later_not(ledger: Ledger) -> None:
    session = _session(ledger)
    view = file_dispute(ledger, session, A7, "not damaged")
    clock = clock_of(ledger)
    clock.advance(30 * DAY_US - 1)  # the last moment of the first 30 days
    view = add_information(ledger, _session(ledger), view.id, "a witness")
    assert view.extended and view.deadline == NOW + 45 * DAY_US
    view = add_information(ledger, _session(ledger), view.id, "another")
    assert view.deadline == NOW + 45 * DAY_US  # once only
    clock.advance(15 * DAY_US)  # 1 µs before the extended deadline
    (still,) = own_disputes(ledger, _session(ledger))
    assert (still.state, still.days_left) == ("open", 1)
    clock.advance(1)
    (lapsed,) = own_disputes(ledger, _session(ledger))
    assert lapsed.state == "lapsed"


def test_information_on_the_30th_day_boundary_does_not_extend() -> None:
    filed = parse_time("2026-07-01T09:00:00Z")
    assert rules.extends(filed, at=filed + 30 * DAY_US - 1, extended=False)
    assert not rules.extends(filed, at=filed + 30 * DAY_US, extended=False)
    assert not rules.extends(filed, at=filed, extended=True)


@pytest.mark.parametrize(
    ("start", "days", "end"),
    [
        ("2026-07-03T10:00:00Z", 5, "2026-07-10T10:00:00Z"),  # Friday -> next Friday
        ("2026-07-04T10:00:00Z", 1, "2026-07-06T10:00:00Z"),  # Saturday + 1 -> Monday
        ("2026-07-05T23:59:59Z", 5, "2026-07-10T23:59:59Z"),  # Sunday + 5 -> Friday
        ("2026-07-06T00:00:00Z", 5, "2026-07-13T00:00:00Z"),  # Monday -> next Monday
        ("2026-07-09T12:00:00Z", 2, "2026-07-13T12:00:00Z"),  # Thursday + 2 over a weekend
        ("2026-07-09T12:00:00Z", 0, "2026-07-09T12:00:00Z"),
    ],
)
def test_business_days_skip_weekends(start: str, days: int, end: str) -> None:
    assert rules.add_business_days(parse_time(start), days) == parse_time(end)


def test_frivolous_is_for_the_first_5_business_days_only(ledger: Ledger) -> None:
    # NOW is Wednesday 2026-07-01: 5 business days end on Wednesday 2026-07-08.
    _rent_it, _bank, reviewer = _parties(ledger)
    session = _session(ledger)
    late = file_dispute(ledger, session, A7, "not damaged")
    assert late.frivolous_until == parse_time("2026-07-08T00:00:00Z")
    assert late.provider_due == late.frivolous_until
    clock = clock_of(ledger)
    clock.advance(7 * DAY_US)
    with pytest.raises(DisputeStateError, match="5 business days"):
        resolve_dispute(ledger, reviewer, late.id, "frivolous", "a copy of an old dispute")
    clock.advance(-1)
    ended = resolve_dispute(ledger, reviewer, late.id, "frivolous", "a copy of an old dispute")
    assert ended.state == "frivolous"
    assert A7.split(":") == list(next(iter(k for k in _keys(ledger) if k == ("rent-it", "a7"))))


def test_the_review_queue_is_open_disputes_by_deadline_with_days_left(
    ledger: Ledger, tmp_path: Path
) -> None:
    _rent_it, _bank, reviewer = _parties(ledger)
    _send(ledger, tmp_path, _damaged("a9"))
    session = _session(ledger)
    first = file_dispute(ledger, session, A7, "not damaged")
    clock_of(ledger).advance(2 * DAY_US)
    second = file_dispute(ledger, _session(ledger), "rent-it:a9", "never rented")
    add_information(ledger, _session(ledger), first.id, "receipt")  # first now ends later
    queue = open_disputes(ledger, party=reviewer)
    assert [(v.id, v.days_left) for v in queue] == [(second.id, 30), (first.id, 43)]
    with pytest.raises(Forbidden):
        open_disputes(ledger, party=_parties_provider(ledger))


def _parties_provider(ledger: Ledger) -> Party:
    return add_party(ledger, "city-utilities", kind=PartyKind.PROVIDER)


# --- what a dispute does to scores and decisions --------------------------------------
def test_upheld_drops_the_record_for_every_as_of_and_online_batch_agree(ledger: Ledger) -> None:
    _rent_it, _bank, reviewer = _parties(ledger)
    session = _session(ledger)
    past = parse_time("2026-03-01T00:00:00Z")
    before_now, before_past = _score(ledger), _score(ledger, as_of=past)
    view = file_dispute(ledger, session, A7, "not damaged")
    resolve_dispute(ledger, reviewer, view.id, "upheld", "the provider could not show damage")
    assert _score(ledger) == before_now + 25
    assert _score(ledger, as_of=past) == before_past + 25
    assert ("rent-it", "a7") not in _keys(ledger)
    everyone = {str(s.ref): s.outcome.score for s in score_all(ledger)}
    assert everyone["custom:alice"] == before_now + 25


def test_rejected_keeps_the_record_and_shows_the_statement_with_the_decision(
    ledger: Ledger,
) -> None:
    _rent_it, _bank, reviewer = _parties(ledger)
    session = _session(ledger)
    before = _score(ledger)
    view = file_dispute(ledger, session, A7, "The item was not damaged")
    resolve_dispute(ledger, reviewer, view.id, "rejected", "photos show damage")
    assert _score(ledger) == before
    decision = decide_subject(ledger, ALICE, "deposit_free_rental")
    assert [(s.dispute, s.text) for s in decision.statements] == [
        (view.id, "The item was not damaged")
    ]
    assert decide_subject(ledger, BOB, "deposit_free_rental").statements == ()


def test_an_adverse_decision_resting_on_an_open_dispute_is_held_until_its_deadline(
    ledger: Ledger, tmp_path: Path
) -> None:
    _rent_it, _bank, reviewer = _parties(ledger)
    _send(ledger, tmp_path, _damaged("a9"))  # contract_fulfilment now -50: suspension
    assert decide_subject(ledger, ALICE, "rental_suspension", as_of=NOW).outcome == "pending"
    session = _session(ledger)
    view = file_dispute(ledger, session, "rent-it:a9", "I never rented that")
    held = decide_subject(ledger, ALICE, "rental_suspension")
    assert held.outcome == "held" and held.allowed
    assert held.hold is not None
    assert (held.hold.outcome, held.hold.disputes, held.hold.until) == (
        "pending",
        (view.id,),
        view.deadline,
    )
    assert score_subject(ledger, ALICE).outcome.score == _score(ledger)  # the score counts it
    # disputing a record the outcome does not rest on holds nothing
    other = decide_subject(ledger, ALICE, "deposit_free_rental")
    assert other.outcome == "denied" and other.hold is None
    resolve_dispute(ledger, reviewer, view.id, "rejected", "the rental contract is signed")
    assert decide_subject(ledger, ALICE, "rental_suspension").outcome == "pending"


def test_a_hold_needs_the_outcome_to_turn_without_every_open_disputed_record(
    ledger: Ledger,
) -> None:
    # alice is at 619, short of "good" (650): a7 (-25) alone is not enough, a7 and a4 are
    session = _session(ledger)
    a7 = file_dispute(ledger, session, A7, "not damaged")
    assert decide_subject(ledger, ALICE, "deposit_free_rental").outcome == "denied"
    a4 = file_dispute(ledger, session, "city-utilities:a4", "paid on time")
    decision = decide_subject(ledger, ALICE, "deposit_free_rental")
    assert decision.outcome == "held" and decision.hold is not None
    assert decision.hold.disputes == tuple(sorted((a7.id, a4.id)))
    assert decision.hold.until == max(a7.deadline, a4.deadline)


def test_a_lapsed_record_never_reappears_after_a_resend(ledger: Ledger, tmp_path: Path) -> None:
    session = _session(ledger)
    before = _score(ledger, as_of=NOW)
    file_dispute(ledger, session, A7, "not damaged")
    clock_of(ledger).advance(30 * DAY_US)
    assert _score(ledger, as_of=NOW) == before + 25
    golden = [
        json.loads(line)
        for line in Path(__file__)
        .parent.parent.joinpath("data/golden-consumer.jsonl")
        .read_text()
        .splitlines()
    ]
    (a7,) = [r for r in golden if r["provider_event_id"] == "a7"]
    assert _send(ledger, tmp_path, a7) == 0  # the resend changes nothing
    assert _score(ledger, as_of=NOW) == before + 25
    assert ("rent-it", "a7") not in _keys(ledger)


def test_a_dropped_record_stays_dropped_after_a_purge(ledger: Ledger) -> None:
    _rent_it, _bank, reviewer = _parties(ledger)
    session = _session(ledger)
    before = _score(ledger)
    view = file_dispute(ledger, session, A7, "not damaged")
    resolve_dispute(ledger, reviewer, view.id, "upheld", "no evidence of damage")
    ledger.store.purge([("city-utilities", "a5")], at=NOW)
    assert ("rent-it", "a7") not in _keys(ledger)
    assert _score(ledger) == before + 25 + 3
    assert ledger.store.verify().ok


def test_subject_report_and_own_views_leave_the_dropped_record_out(ledger: Ledger) -> None:
    from credence.service.subject_views import own_score

    _rent_it, _bank, reviewer = _parties(ledger)
    session = _session(ledger)
    view = file_dispute(ledger, session, A7, "not damaged")
    resolve_dispute(ledger, reviewer, view.id, "upheld", "no evidence")
    keys = {c.record.key for c in own_score(ledger, session).outcome.contributions}
    assert ("rent-it", "a7") not in keys
    report = explain_subject(ledger, ALICE)
    assert ("rent-it", "a7") not in {c.record.key for c in report.explanation.outcome.contributions}


def test_struck_keys_count_a_lapsed_dispute_from_its_deadline() -> None:
    from credence.ledger import DisputeRow

    row = DisputeRow("d", 1, "p", "e", "s", None, filed_at=0, deadline=10)
    assert disputes.struck_keys([row], now=9) == frozenset()
    assert disputes.struck_keys([row], now=10) == {("p", "e")}
    rejected = DisputeRow("r", 1, "p", "f", "s", None, filed_at=0, deadline=10, state="rejected")
    assert disputes.struck_keys([rejected], now=99) == frozenset()
