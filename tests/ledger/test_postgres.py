"""PostgreSQL specifics: addresses, errors a user can act on, the migrated schema, bulk append."""

from __future__ import annotations

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from ledger_data import T0, batch, record

from credence.errors import StoreNotInitialised, StoreUnavailable
from credence.ledger import open_store, schema
from credence.ledger.postgres import PostgresStore, _sample

SECRET = "s3cret-pw-9"


def test_unreachable_server_names_host_and_port_and_hides_the_password() -> None:
    with pytest.raises(StoreUnavailable) as caught:
        PostgresStore(f"postgresql://someone:{SECRET}@127.0.0.1:1/ledger", connect_timeout=2)
    text = caught.value.one_line()
    assert "cannot reach PostgreSQL at 127.0.0.1:1" in text
    assert SECRET not in text


def test_a_url_that_is_not_postgres_is_refused() -> None:
    with pytest.raises(StoreUnavailable, match="not postgresql"):
        PostgresStore(f"mysql://root:{SECRET}@db/ledger")


def test_missing_database(postgres_server: str) -> None:
    url = postgres_server.rsplit("/", 1)[0] + "/credence_no_such_db"
    with pytest.raises(StoreUnavailable, match='"credence_no_such_db" does not exist') as caught:
        open_store(url)
    assert "createdb credence_no_such_db" in caught.value.one_line()


def test_authentication_failure_is_explained(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    try:
        refused = psycopg.OperationalError(
            'connection failed: FATAL:  password authentication failed for user "bob"'
        )
        error = store._translate(refused)
    finally:
        store.close()
    assert isinstance(error, StoreUnavailable)
    assert "refused the login" in error.message


def test_postgres_and_postgresql_plus_psycopg_urls_are_accepted(postgres_url: str) -> None:
    for scheme in ("postgres://", "postgresql+psycopg://"):
        store = open_store(postgres_url.replace("postgresql://", scheme, 1))
        try:
            with pytest.raises(StoreNotInitialised) as caught:
                store.check_schema()
            assert "credence init --db postgresql://" in caught.value.one_line()
        finally:
            store.close()


def test_migrated_schema_matches_the_tables_in_code(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    try:
        store.migrate()
        with store._engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []
    finally:
        store.close()


def test_dropped_table_reads_as_not_initialised(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    try:
        store.migrate()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("DROP TABLE records")
        with pytest.raises(StoreNotInitialised) as caught:
            store.records(1)
        assert "credence init --db" in caught.value.one_line()
    finally:
        store.close()


def test_stored_keys_the_sample_misses_are_still_unchanged_or_conflicts(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    try:
        store.migrate()
        people, records = batch(100, subjects=7)
        keys = [new.record.key for new in records]
        assert keys[50] not in _sample(keys) and keys[70] not in _sample(keys)
        changed = record(records[70].subject_lookup, "e70", attributes={"days_late": 99})
        store.append(people, [records[50], changed], ingested_at=T0)
        result = store.append(people, records, ingested_at=T0 + 1)
        # The guess that all were new failed at the unique key; nothing of it was kept.
        assert (result.inserted, result.unchanged, result.conflicts) == (98, [50], [70])
        assert store.counts() == {"subjects": 7, "records": 100}
        report = store.verify()
        assert report.ok and report.head.records == 100, report.problem
    finally:
        store.close()


def test_a_resend_of_new_and_stored_records_in_one_batch_writes_only_the_new(
    postgres_url: str,
) -> None:
    store = PostgresStore(postgres_url)
    try:
        store.migrate()
        people, records = batch(3_000, subjects=40)
        assert store.append(people, records[1_000:2_000], ingested_at=T0).inserted == 1_000
        result = store.append(people, records, ingested_at=T0 + 1)
        assert result.inserted == 2_000 and result.unchanged == list(range(1_000, 2_000))
        assert store.verify().ok
        with psycopg.connect(postgres_url) as conn:
            assert conn.execute("SELECT count(DISTINCT seq), max(seq) FROM records").fetchone() == (
                3_000,
                3_000,
            )
    finally:
        store.close()
