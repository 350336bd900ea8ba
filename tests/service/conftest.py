"""A ledger for service tests on each backend: the consumer-trust policy and the golden records."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_data import GOLDEN, MASTER, NOW

from credence.clock import FixedClock
from credence.crypto import KeyRing
from credence.ledger import StoredPolicy, open_store
from credence.policy import load_policy
from credence.service.ingest import ingest_files
from credence.service.ledger import Ledger
from credence.service.setup import bundled_policy
from credence.settings import load_settings


@pytest.fixture
def ledger(store_url: str, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger holding alice, bob and carol, its clock fixed at NOW."""
    store = open_store(store_url)
    store.migrate()
    loaded = load_policy(bundled_policy())
    policy = loaded.policy
    store.add_policy(
        StoredPolicy(policy.name, policy.version, loaded.digest, loaded.source, NOW - 10**12)
    )
    settings = load_settings(environ={}, db=store_url, master_key=MASTER.hex())
    opened = Ledger(store=store, keys=KeyRing(MASTER), settings=settings, clock=FixedClock(NOW))
    data = tmp_path / GOLDEN.name
    shutil.copy(GOLDEN, data)
    (report,) = ingest_files(opened, [data])
    assert report.rejected == 0 and report.inserted > 0
    try:
        yield opened
    finally:
        store.close()
