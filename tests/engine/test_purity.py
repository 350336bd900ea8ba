"""The engine is pure: it reaches for no database, web framework, file system or clock."""

from __future__ import annotations

import ast
from pathlib import Path

import credence.engine

ENGINE = Path(credence.engine.__file__).parent
ALLOWED_STDLIB = {
    "__future__",
    "bisect",
    "collections",
    "dataclasses",
    "functools",
    "heapq",
    "json",
    "math",
    "typing",
    "enum",
    "re",
}
ALLOWED_CREDENCE = ("credence.engine", "credence.policy", "credence.types", "credence.errors")
FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("time", "time"),
    ("os", "environ"),
    ("time", "time_ns"),
}


def imported_modules(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_engine_imports_only_pure_modules():
    offenders = []
    for file in sorted(ENGINE.glob("*.py")):
        for name in imported_modules(ast.parse(file.read_text())):
            top = name.split(".")[0]
            if top == "credence":
                if not name.startswith(ALLOWED_CREDENCE):
                    offenders.append(f"{file.name}: {name}")
            elif top not in ALLOWED_STDLIB:
                offenders.append(f"{file.name}: {name}")
    assert offenders == []


def test_engine_never_reads_the_clock_or_environment():
    offenders = []
    for file in sorted(ENGINE.glob("*.py")):
        for node in ast.walk(ast.parse(file.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in FORBIDDEN_CALLS
            ):
                offenders.append(f"{file.name}:{node.lineno} {node.value.id}.{node.attr}")
    assert offenders == []


def test_the_checker_catches_an_impure_module(tmp_path):
    """A control: the same walk flags a module that opens a database and reads the clock."""
    source = "import sqlite3\nfrom datetime import datetime\nx = datetime.now()\n"
    tree = ast.parse(source)
    assert "sqlite3" in imported_modules(tree)
    calls = [
        (n.value.id, n.attr)
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
    ]
    assert ("datetime", "now") in calls
