"""A small demo ledger for the lab's tests, copied per test so activation can change it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from credence.clock import FixedClock
from credence.service.setup import bundled_policy
from credence.sim.demo import run_demo
from credence.types import parse_time

NOW = parse_time("2026-06-01T00:00:00Z")


@pytest.fixture(scope="session")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("lab-ledger") / "ledger.db"
    run_demo(db, subjects=120, seed=5, clock=FixedClock(NOW))
    return db


@pytest.fixture
def ledger_copy(demo_ledger: Path, tmp_path: Path) -> Path:
    db = tmp_path / "ledger.db"
    shutil.copy(demo_ledger, db)
    shutil.copy(str(demo_ledger) + ".key", str(db) + ".key")
    return db


def candidate(
    tmp_path: Path, *, version: str, edits: list[tuple[str, str]], extra: str = ""
) -> Path:
    """The bundled policy with text replacements, as a new version file."""
    text = bundled_policy().read_text()
    text = text.replace('version: "2026.11.1"', f'version: "{version}"')
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"candidate-{version}.yaml"
    path.write_text(text + extra)
    return path
