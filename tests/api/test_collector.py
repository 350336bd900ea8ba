"""A server process freezes what it built before serving; a process that only builds apps does not."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from credence.api.app import create_app
from credence.service.ledger import open_ledger
from tests.api.conftest import build_ledger

# Serves nothing: uvicorn's run reports the frozen count instead.
_SERVE = """
import gc, sys
import uvicorn
uvicorn.Server.run = lambda self, *a, **k: print("frozen", gc.get_freeze_count())
from credence.api.workers import worker_app
from credence.cli.serve import run_server
from credence.settings import load_settings
settings = load_settings({}, db=sys.argv[1], key_file=sys.argv[2])
if sys.argv[3] == "worker":
    import os
    os.environ.update(CREDENCE_DB=sys.argv[1], CREDENCE_KEY_FILE=sys.argv[2])
    worker_app()
    print("frozen", gc.get_freeze_count())
else:
    run_server(settings, host="127.0.0.1", port=0)
"""


def _frozen(tmp_path: Path, how: str) -> int:
    settings = build_ledger(str(tmp_path / "ledger.db"), tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", _SERVE, settings.db, str(settings.resolved_key_file()), how],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout.split("frozen", 1)[1].split()[0])


def test_a_single_server_process_freezes_its_startup_objects(tmp_path: Path) -> None:
    assert _frozen(tmp_path, "single") > 10_000


def test_each_worker_process_freezes_its_startup_objects(tmp_path: Path) -> None:
    assert _frozen(tmp_path, "worker") > 10_000


def test_building_an_app_freezes_nothing(tmp_path: Path) -> None:
    settings = build_ledger(str(tmp_path / "ledger.db"), tmp_path)
    before = gc.get_freeze_count()
    with open_ledger(settings) as ledger:
        create_app(ledger)
    assert gc.get_freeze_count() == before
