"""Credence: accountable trust scoring with due process built into the core.

The public API is what ``__all__`` names; everything else may change. Names
are imported on first use, so ``import credence.ledger`` (a ledger worker
process, the CLI) does not pay for the engine and the policy model.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "credence.engine": (
        "CompiledPolicy",
        "Decision",
        "Explanation",
        "Outcome",
        "compile_policy",
        "decide",
        "explain",
        "score",
    ),
    "credence.errors": ("CredenceError",),
    "credence.policy": ("LoadedPolicy", "Policy", "load_policy", "parse_policy"),
    "credence.settings": ("Settings", "load_settings"),
    "credence.types": ("Notice", "Record", "SubjectKind", "SubjectRef", "parse_time"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}

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


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'credence' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
