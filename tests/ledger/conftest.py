"""A migrated store for each backend, closed after the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from credence.ledger import Store, open_store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A fresh, migrated ledger of each kind: memory, SQLite, PostgreSQL."""
    opened = open_store(store_url)
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()
