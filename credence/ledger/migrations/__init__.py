"""Alembic migrations for the SQL ledgers, run in code by ``credence.ledger.sql``."""
