"""Purge: records past expiry plus grace become tombstones, and no score changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from safeguard_data import POLICY_TEXT, T0, fill, new_record, opened, subject

from credence.engine import Outcome, compile_policy, score
from credence.ledger import Store, StoredPolicy, open_store
from credence.policy import parse_policy
from credence.service import safeguards
from credence.types import DAY_US, Record


def _purge(url: str, *, now: int, **options: Any) -> safeguards.PurgeReport:
    with opened(url, now=now) as ledger:
        return safeguards.purge(ledger, **options)


POLICY = compile_policy(parse_policy(POLICY_TEXT).policy)
GRACE = 30 * DAY_US


def _scores(store: Store, as_of: int) -> dict[int, tuple[object, ...]]:
    def key(o: Outcome) -> tuple[object, ...]:
        return (
            o.score,
            round(o.raw, 9),
            o.tier,
            {k: round(v, 9) for k, v in o.dimensions.items()},
            o.lists,
        )

    return {
        row.key: key(score(POLICY, records, as_of=as_of, subject_kind=row.kind))
        for row, records in store.subjects_with_records()
    }


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return str(request.getfixturevalue("postgres_url"))


def test_scores_agree_before_and_after_purge_for_every_subject(url: str) -> None:
    store = open_store(url)
    try:
        store.migrate()
        store.add_policy(StoredPolicy("purge-test", "1", "d", POLICY_TEXT, T0))
        fill(store, seed=11, subjects=40, records=1_500)
        now = T0 + 800 * DAY_US
        checks = [now, now + DAY_US, now + 100 * DAY_US, now + 400 * DAY_US, now + 3_000 * DAY_US]
        before = {t: _scores(store, t) for t in checks}
        counts = store.counts()
        report = _purge(url, now=now, grace_us=GRACE)
        assert report.purged > 300  # most of 700 days of short-lived records
        assert store.counts() == counts  # tombstones are still counted
        assert store.verify().ok
        for t in checks:
            assert _scores(store, t) == before[t], t
        again = _purge(url, now=now, grace_us=GRACE)
        assert again.purged == 0
    finally:
        store.close()


def test_what_is_kept_and_what_goes(tmp_path: Path) -> None:
    url = str(tmp_path / "ledger.db")
    store = open_store(url)
    store.migrate()
    store.add_policy(StoredPolicy("purge-test", "1", "d", POLICY_TEXT, T0))
    who = subject("alice")
    day = DAY_US

    def rec(pid: str, kind: str, at: int, retracts: str | None = None, **attrs: object) -> Record:
        return Record("bank-a", pid, kind, at, attrs, retracts, "sha256:beef")

    made = [
        rec("late-old", "bill.paid", T0, days_late=60, amount=1.0),  # 180d: goes
        rec("late-new", "bill.paid", T0 + 300 * day, days_late=60, amount=1.0),  # still counts
        rec("verified", "identity.verified", T0),  # positive, no expiry: never purged
        rec("ontime-jan", "bill.paid", T0 + 10 * day, days_late=0, amount=1.0),  # capped month
        rec("default", "loan.defaulted", T0 + 100 * day),  # cured at +130d (min period 30d)
        rec("settle", "debt.settled", T0 + 105 * day),  # a cure stays while it could matter
        rec("retracted", "bill.paid", T0 + day, days_late=60, amount=2.0),
        rec("withdraw", "bill.paid", T0 + 2 * day, "retracted"),
    ]
    store.append([who], [new_record(who, r) for r in made], ingested_at=T0)
    now = T0 + 250 * day
    _purge(url, now=now, grace_us=GRACE)
    (row,) = store.find_subjects([who.lookup]).values()
    left = {r.provider_event_id for r in store.records(row.key)}
    # on-time Jan: month ends T0+31d, +90d expiry +30d grace < 250d: goes.
    # default: cured at 130d, +30d grace < 250d: goes. settle: 105d + 1y (what it cures) > 250d: kept.
    assert left == {"late-new", "verified", "settle"}
    assert store.counts()["records"] == len(made)
    store.close()


def test_purge_refuses_a_future_as_of(tmp_path: Path) -> None:
    url = str(tmp_path / "ledger.db")
    store = open_store(url)
    store.migrate()
    store.add_policy(StoredPolicy("purge-test", "1", "d", POLICY_TEXT, T0))
    store.close()
    from credence.errors import UsageError

    with pytest.raises(UsageError, match="future"):
        _purge(url, now=T0, as_of=T0 + DAY_US)
