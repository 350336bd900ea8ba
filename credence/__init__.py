"""Credence: accountable trust scoring with due process built into the core.

The public API is what ``__all__`` names; everything else may change.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from credence.engine import (
    CompiledPolicy,
    Decision,
    Explanation,
    Outcome,
    compile_policy,
    decide,
    explain,
    score,
)
from credence.errors import CredenceError
from credence.policy import LoadedPolicy, Policy, load_policy, parse_policy
from credence.settings import Settings, load_settings
from credence.types import Notice, Record, SubjectKind, SubjectRef, parse_time

try:
    __version__ = version("credence")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "CompiledPolicy",
    "CredenceError",
    "Decision",
    "Explanation",
    "LoadedPolicy",
    "Notice",
    "Outcome",
    "Policy",
    "Record",
    "Settings",
    "SubjectKind",
    "SubjectRef",
    "__version__",
    "compile_policy",
    "decide",
    "explain",
    "load_policy",
    "load_settings",
    "parse_policy",
    "parse_time",
    "score",
]
