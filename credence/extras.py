"""Optional parts of Credence (pip extras), and the one error a missing one raises.

PostgreSQL, the batch engine and Spark each need packages that a plain
``pip install credence`` leaves out. Code that needs one imports it through
``require`` (or translates the ``ImportError`` with ``missing``), so a user
without it is told which extra to install instead of seeing a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from credence.errors import MissingExtra

EXTRAS = {  # what each extra installs
    "postgres": "the psycopg driver",
    "batch": "DuckDB and the ADBC drivers",
    "spark": "PySpark",
}


def missing(extra: str, error: ImportError, *, needed_for: str) -> MissingExtra:
    """The error for ``needed_for`` when importing a module of ``extra`` failed."""
    module = error.name or str(error)
    return MissingExtra(
        f"{needed_for} needs the `{extra}` extra ({EXTRAS[extra]}), which is not installed: "
        f"no module {module!r}",
        suggestion=f"pip install 'credence[{extra}]'",
        details={"extra": extra, "module": module},
    )


def require(extra: str, module: str, *, needed_for: str) -> ModuleType:
    """Import ``module`` of ``extra``.

    Raises:
        MissingExtra: naming the extra to install, when the module cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise missing(extra, e, needed_for=needed_for) from e
