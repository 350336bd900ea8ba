"""Runs the shared store contract (contract.py, contract_logs.py) against every backend."""

from __future__ import annotations

from contract import *  # noqa: F403
from contract_disputes import *  # noqa: F403
from contract_logs import *  # noqa: F403
from contract_redress import *  # noqa: F403
