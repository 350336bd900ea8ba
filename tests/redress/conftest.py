"""The service tests' ledger (memory, SQLite, PostgreSQL) for the due-process tests."""

from tests.service.conftest import ledger

__all__ = ["ledger"]
