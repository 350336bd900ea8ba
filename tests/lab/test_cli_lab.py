"""The lab's commands, end to end through the installed ``credence`` command."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.lab.conftest import candidate

pytest.importorskip("fairlearn")
CREDENCE = shutil.which("credence")
pytestmark = pytest.mark.skipif(CREDENCE is None, reason="the credence command is not installed")


def run(db: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CREDENCE_DB": str(db), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [CREDENCE or "credence", *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert (proc.returncode == 0) == ok, proc.stderr + proc.stdout
    return proc


def test_propose_diff_backtest_audit_and_activate(ledger_copy: Path, tmp_path: Path) -> None:
    stricter = [("when: {tier_at_least: good}", "when: {tier_at_least: excellent}")]
    path = candidate(tmp_path, version="2026.12.1", edits=stricter)
    assert "proposed" in run(ledger_copy, "policy", "propose", str(path)).stdout
    listed = json.loads(run(ledger_copy, "policy", "list", "--json").stdout)
    assert [(v["version"], v["status"]) for v in listed] == [
        ("2026.11.1", "in effect"),
        ("2026.12.1", "proposed"),
    ]
    diffed = json.loads(
        run(ledger_copy, "policy", "diff", "2026.11.1", "2026.12.1", "--json").stdout
    )
    assert diffed["summary"] == {"added": 0, "removed": 0, "changed": 1}

    # An audit file keyed by subject reference, with a label; one row names nobody.
    groups = tmp_path / "groups.csv"
    with groups.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["subject", "region", "label"])
        for i in range(1, 121):
            writer.writerow(
                [
                    f"custom:synthetic-person-{i:05d}",
                    "north" if i % 3 else "south",
                    "repaid" if i % 4 else "defaulted",
                ]
            )
        writer.writerow(["custom:nobody-at-all", "north", "repaid"])

    out = tmp_path / "report"
    proc = run(
        ledger_copy,
        "backtest",
        "2026.12.1",
        "--out",
        str(out),
        "--groups",
        str(groups),
        "--as-of",
        "2026-06-01",
    )
    assert "newly adversely affected" in proc.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["report.md", "report.json"]
        + [
            f"{stem}.{ext}"
            for stem in ("score-change", "migration", "tiers")
            for ext in ("png", "svg")
        ]
    )
    report = json.loads((out / "report.json").read_text())
    assert sum(map(sum, report["migration"]["counts"])) == report["subjects"] == 120
    deposit = next(e for e in report["entitlements"] if e["id"] == "deposit_free_rental")
    assert deposit["newly_adverse"] > 0 and deposit["newly_favourable"] == 0
    assert report["harmed"]["by_entitlement"] == deposit["newly_adverse"]
    assert report["fairness"]["subjects"] == 120 and report["fairness"]["unmatched"] == 1
    assert (out / "migration.png").read_bytes().startswith(b"\x89PNG")
    assert "<svg" in (out / "tiers.svg").read_text()
    text = (out / "report.md").read_text()
    assert "## Tier migration" in text and "## Fairness audit" in text

    audited = json.loads(
        run(ledger_copy, "audit-fairness", "--groups", str(groups), "--json").stdout
    )
    regions = audited["entitlements"][0]["attributes"][0]
    assert {g["group"] for g in regions["groups"]} == {"north", "south"}
    assert all("false_positive_rate" in g for g in regions["groups"])

    # Unaudited and unjustified: refused. A kinder version with a justification goes at once.
    proc = run(ledger_copy, "policy", "activate", "2026.12.1", ok=False)
    assert "policy.unfair" in proc.stderr
    kinder = candidate(
        tmp_path,
        version="2026.12.2",
        edits=[("when: {tier_at_least: good}", "when: {tier_at_least: fair}")],
        extra="\nfairness_justification: Board review 2026-05-20.\n",
    )
    run(ledger_copy, "policy", "propose", str(kinder))
    proc = run(ledger_copy, "policy", "activate", "2026.12.2", "--groups", str(groups))
    assert "takes effect now; 0 subjects worse off, 0 notices given" in proc.stdout
    listed = json.loads(run(ledger_copy, "policy", "list", "--json").stdout)
    assert {v["version"]: v["status"] for v in listed}["2026.12.2"] == "in effect"


def test_a_missing_audit_column_is_a_located_error(ledger_copy: Path, tmp_path: Path) -> None:
    groups = tmp_path / "groups.csv"
    groups.write_text("who,region\ncustom:x,north\n")
    proc = run(ledger_copy, "audit-fairness", "--groups", str(groups), ok=False)
    assert "input.invalid" in proc.stderr and "subject" in proc.stderr
    assert "Traceback" not in proc.stderr
