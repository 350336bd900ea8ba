"""Runs the shared store contract (contract.py) against memory, SQLite and PostgreSQL."""

from __future__ import annotations

from contract import *  # noqa: F403
