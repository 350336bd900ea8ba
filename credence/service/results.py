"""The engine's results as the service hands them out, for the edges that render them.

``cli``, ``api`` and ``web`` import the service only (tests/test_architecture.py);
the values a use case returns are the engine's frozen dataclasses, named here
so an edge can type and render them without reaching into the engine.
"""

from __future__ import annotations

from credence.engine import Decision, Explanation, Outcome, Reason
from credence.engine.compiled import CompiledPolicy
from credence.engine.decisions import Hold, Statement
from credence.engine.reasons import Change, weighted
from credence.ledger import Access, StoredPolicy
from credence.ledger.chain import ChainReport

__all__ = [
    "Access",
    "ChainReport",
    "Change",
    "CompiledPolicy",
    "Decision",
    "Explanation",
    "Hold",
    "Outcome",
    "Reason",
    "Statement",
    "StoredPolicy",
    "weighted",
]
