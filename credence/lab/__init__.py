"""The policy lab: backtests, simulations and fairness audits, before a policy touches anyone.

Its heavy dependencies (matplotlib, fairlearn, pandas) come with the ``lab``
extra and are imported only where they are used: ``require`` names the extra
when one is missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from credence.errors import UsageError


def require(module: str) -> ModuleType:
    """Import a dependency of the lab, or say which extra installs it.

    Raises:
        UsageError: code ``lab.missing_extra`` when the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise UsageError(
            f"the policy lab needs {module.split('.')[0]}, which is not installed",
            code="lab.missing_extra",
            suggestion="pip install 'credence[lab]'",
        ) from e
