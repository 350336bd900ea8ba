"""A subject's score over time, and the download of everything held about them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st

from credence.engine import score
from credence.service.disputes import scoring_records
from credence.service.ledger import Ledger
from credence.service.sessions import authenticate_session, issue_sign_in_token, start_session
from credence.service.subject_data import export_subject_data
from credence.service.subject_views import month_ends, own_records, own_score, score_history
from credence.types import MICROS, SubjectRef

ALICE = SubjectRef("custom", "alice")
MOMENTS = st.integers(min_value=946_684_800 * MICROS, max_value=4_102_444_800 * MICROS)


@given(MOMENTS, st.integers(min_value=2, max_value=120))
def test_month_ends_are_the_last_microsecond_of_each_month_then_now(now: int, months: int) -> None:
    ends = month_ends(now, months=months)
    assert len(ends) == months and ends[-1] == now and ends == sorted(ends)
    for end in ends[:-1]:
        after = datetime.fromtimestamp((end + 1) / MICROS, tz=UTC)
        assert after.day == 1 and after.hour == after.minute == after.second == 0
    for end, following in itertools.pairwise(ends[:-1]):
        assert (following - end) // (86_400 * MICROS) in range(27, 32)
    start_of_month = datetime.fromtimestamp((ends[-2] + 1) / MICROS, tz=UTC)
    here = datetime.fromtimestamp(now / MICROS, tz=UTC)
    assert (start_of_month.year, start_of_month.month) == (here.year, here.month)


def _session(ledger: Ledger):  # type: ignore[no-untyped-def]
    token, _ = start_session(ledger, issue_sign_in_token(ledger, ALICE).token)
    return authenticate_session(ledger, token)


def test_each_point_is_the_engines_score_as_of_that_month_end(ledger: Ledger) -> None:
    session = _session(ledger)
    history = score_history(ledger, session, months=24)
    assert len(history.points) == 24
    records = scoring_records(ledger, session.subject_key)
    for point in history.points:
        expected = score(ledger.policy_at(point.at), records, as_of=point.at, subject_kind="person")
        assert (point.score, point.tier) == (expected.score, expected.tier)
    assert history.points[-1].score == own_score(ledger, session).outcome.score
    assert len({p.score for p in history.points}) > 1  # the golden records move it
    assert [t for t, _m in history.tiers] == list(ledger.policy.tier_ids)


def test_the_export_holds_every_stored_record_and_is_json(ledger: Ledger) -> None:
    session = _session(ledger)
    data = export_subject_data(ledger, session)
    assert orjson.loads(orjson.dumps(data)) == data
    stored = ledger.store.records(session.subject_key)
    assert [r["provider_event_id"] for r in data["records"]] == [
        r.provider_event_id for r in stored
    ]
    counting = {v.provider_event_id for v in own_records(ledger, session) if v.counting}
    assert {r["provider_event_id"] for r in data["records"] if r["counting"]} == counting
    assert data["subject"] == {
        "scheme": "custom",
        "id": "alice",
        "kind": "person",
        "first_seen": data["subject"]["first_seen"],
    }
    assert ledger.store.accesses(session.subject_key) == []  # reading one's own is no access
