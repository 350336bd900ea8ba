"""The layering of STYLE.md, enforced: which part of Credence may import which.

Imports flow one way: ``types, errors`` ← ``policy`` ← ``engine`` ← ``service``
← ``api, web, cli, sim``; ``ledger``, ``ingest`` and ``batch`` are used by
``service``, never by ``engine``; ``web`` never touches ``ledger``. The table
below is the whole rule: a part may import itself and the parts it lists,
nothing else of Credence. Every import counts, including those inside
functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import credence

PACKAGE = Path(credence.__file__).parent

# The base every part may use: plain values, the error tree, the clock, settings, keys.
BASE = {"types", "errors", "clock", "settings", "crypto", "canonical", "text", "extras"}

ALLOWED: dict[str, set[str]] = {
    "types": {"errors"},
    "errors": set(),
    "clock": set(),
    "settings": {"errors"},
    "crypto": {"errors"},
    "canonical": {"types"},  # a record's canonical form and content hash
    "text": set(),  # what may be printed: control and bidirectional characters refused
    "extras": {"errors"},  # which optional extra a feature needs
    "policy": BASE,
    "engine": BASE | {"policy"},
    "ledger": BASE,
    "signing": BASE | {"ledger"},  # signs the ledger's chain head
    "receipt": BASE,  # signed decision receipts: their format, signing and checking
    "ingest": BASE | {"policy"},
    "batch": BASE | {"policy", "engine"},  # runs the engine's batch plan
    "service": BASE | {"policy", "engine", "ledger", "ingest", "batch", "signing", "receipt"},
    "sim": BASE | {"policy", "engine", "service"},
    # The edges: the service, and the policy tools (lint, audit, schema) that need no ledger.
    # The analyst's lab runs batch plans side by side over the service's ledger.
    "lab": BASE | {"policy", "engine", "service", "batch"},
    # sim: `credence demo`; lab: backtests; api: `credence serve` runs the HTTP service
    "cli": BASE | {"policy", "service", "sim", "lab", "api"},
    # api: the app factory mounts the web pages on the same app
    "api": BASE | {"policy", "service", "web"},
    "web": BASE | {"policy", "service"},
}
FACADE = {"__init__"}  # credence/__init__.py: the public API, re-exporting every layer


def part_of(path: Path, root: Path = PACKAGE) -> str:
    """The layer a source file belongs to: its first path part under the package."""
    return path.relative_to(root).parts[0].removesuffix(".py")


def credence_imports(tree: ast.AST, *, package: str) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a Credence module, relative ones resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("credence")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module == "credence":
                # `from credence import x`: each name is a part of its own
                found += [(node.lineno, f"credence.{a.name}") for a in node.names]
            elif module.startswith("credence."):
                found.append((node.lineno, module))
    return found


def violations(root: Path = PACKAGE) -> list[str]:
    """Every import the table does not allow, as ``file:line part -> part``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        part = part_of(path, root)
        if part in FACADE:
            continue
        relative = path.relative_to(root)
        package = ".".join(("credence", *relative.parent.parts))
        allowed = ALLOWED.get(part)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, module in credence_imports(tree, package=package):
            target = module.split(".")[1]
            if target == part:
                continue
            if allowed is None or target not in allowed:
                found.append(f"{relative}:{line} {part} -> {target}")
    return found


def test_every_part_imports_only_what_the_layering_allows() -> None:
    assert violations() == []


def test_every_part_of_the_package_is_in_the_table() -> None:
    parts = {part_of(p) for p in PACKAGE.rglob("*.py")} - FACADE
    assert parts - set(ALLOWED) == set()


def test_web_never_touches_the_ledger_and_the_engine_no_adapter() -> None:
    assert "ledger" not in ALLOWED["web"]
    for adapter in ("ledger", "ingest", "batch", "service"):
        assert adapter not in ALLOWED["engine"]
    for edge in ("cli", "api", "web"):  # edges reach the core only through the service
        assert ALLOWED[edge] - BASE <= {"policy", "service", "sim", "lab", "api", "web"}
        assert not ALLOWED[edge] & {"engine", "ledger", "ingest", "batch", "signing"}


def test_the_checker_catches_each_kind_of_forbidden_import(tmp_path: Path) -> None:
    """A control: a fake package with one import of each forbidden shape."""
    root = tmp_path / "credence"
    (root / "engine").mkdir(parents=True)
    (root / "cli").mkdir()
    (root / "engine" / "bad.py").write_text(
        "from credence.ledger import Store\nimport credence.service.ledger\n"
    )
    (root / "cli" / "bad.py").write_text(
        "def f():\n    from credence.engine import score\n"
        "from credence import ledger\nfrom ..service import scoring\nfrom . import common\n"
    )
    assert sorted(violations(root)) == [
        "cli/bad.py:2 cli -> engine",
        "cli/bad.py:3 cli -> ledger",
        "engine/bad.py:1 engine -> ledger",
        "engine/bad.py:2 engine -> service",
    ]
