"""Upgrading a 0001 ledger that holds records: revision 0002 chains them and they verify."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from ledger_data import T0, batch

from credence.ledger import open_store
from credence.ledger.sql import SQLStore, alembic_config


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return str(request.getfixturevalue("postgres_url"))


def test_upgrade_from_0001_chains_stored_records(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, SQLStore)
    try:
        with store._write() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
        people, records = batch(25, subjects=4)
        with store._write() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            cursor = raw.cursor()
            mark = "?" if "://" not in url else "%s"
            for n, p in enumerate(people, 1):
                cursor.execute(
                    "INSERT INTO subjects (subject_key, lookup, kind, scheme, sealed_id, "
                    f"wrapped_key, created_at) VALUES ({', '.join([mark] * 7)})",
                    (n, p.lookup, p.kind, p.scheme, p.sealed_id, p.wrapped_key, T0),
                )
            keys = {p.lookup: n for n, p in enumerate(people, 1)}
            for r in records:
                rec = r.record
                cursor.execute(
                    "INSERT INTO records (subject_key, provider, provider_event_id, type, "
                    "occurred_at, attributes, evidence, retracts, content_hash, ingested_at) "
                    f"VALUES ({', '.join([mark] * 10)})",
                    (
                        keys[r.subject_lookup],
                        rec.provider,
                        rec.provider_event_id,
                        rec.type,
                        rec.occurred_at,
                        _json(rec.attributes),
                        rec.evidence,
                        rec.retracts,
                        r.content_hash,
                        T0,
                    ),
                )
        store.migrate()
        store.check_schema()
        report = store.verify()
        assert report.ok and report.head.records == 25 and report.checked_content == 25
        more_people, more = batch(5, subjects=4, offset=25)
        assert store.append(more_people, more, ingested_at=T0).inserted == 5
        assert store.verify().ok
    finally:
        store.close()


def _json(attributes: object) -> str:
    from credence.ledger.sql import encode_attributes

    assert isinstance(attributes, dict)
    return encode_attributes(attributes)


def test_access_rows_logged_before_0004_keep_working(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, SQLStore)
    try:
        with store._write() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0002")
        with store._write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO access_log (subject_key, at, actor, action, purpose) "
                f"VALUES (7, {T0}, 'operator', 'explain', 'explanation')"
            )
        store.migrate()
        store.check_schema()
        (old,) = store.accesses(7)
        assert (old.actor, old.action, old.context, old.consent_id) == (
            "operator",
            "explain",
            None,
            None,
        )
        assert store.parties() == [] and store.consents(7) == []
    finally:
        store.close()
