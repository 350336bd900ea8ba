"""The audit of policies element by element, the lint/audit commands, and the documented table."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from credence.cli.safeguards import register
from credence.policy.audit import AuditRow, Verdict, audit, markdown_table
from credence.policy.lint import CODES
from credence.policy.load import SourceMap, load_policy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "policies"
AS_DESCRIBED = EXAMPLES / "as-described.yaml"


@cache
def _rows() -> dict[str, AuditRow]:
    loaded = load_policy(AS_DESCRIBED)
    return {r.element: r for r in audit(loaded.policy, source_map=SourceMap(loaded.source))}


# What the article describes, and what a lawful platform makes of it.
REFUSED = {
    "dimension online_behaviour": {"protected.proxy"},
    "dimension relationships": {"conduct.others"},
    "event type blood.donated": {"protected.category"},
    "event type jaywalking.detected": {
        "protected.category",
        "surveillance.input",
        "protected.sensitive",
    },
    "event type rally.attended": {"protected.category"},
    "event type social_media.post": {"protected.proxy"},
    "event type church.gathering": {"protected.category"},
    "event type friends.scores_reported": {"conduct.others"},
    "event type camera.sighting": {"surveillance.input", "protected.category"},
    "event type message.flagged": {"surveillance.input"},
    "rule praised_government": {"protected.category"},
    "rule criticised_government": {"protected.category", "redemption.too_long"},
    "rule rally_attended": {"protected.category", "redemption.too_long"},
    "rule anti_government_post": {"protected.category", "protected.proxy"},
    "rule elderly_relatives_neglected": {"conduct.others"},
    "rule friends_low_scores": {"conduct.others"},
    "rule jaywalking": {"surveillance.input", "redemption.too_long"},
    "rule smoking_prohibited_area": {"redemption.too_long"},
    "rule seen_by_camera": {"surveillance.input"},
    "benefit deposit_free_rental": {"purpose.unrelated"},
    "benefit better_loan_rates": {"purpose.unrelated"},
    "benefit hospital_priority": {"protected.category", "purpose.unrelated"},
    "benefit children_school_priority": {"conduct.others", "purpose.unrelated"},
    "restriction travel_ban": {
        "purpose.unrelated",
        "process.notice_too_short",
        "process.no_max_duration",
    },
    "restriction internet_throttled": {
        "process.no_legal_basis",
        "process.single_minor",
        "purpose.unrelated",
    },
    "restriction best_schools_ban": {"conduct.others", "process.no_legal_basis"},
    "restriction public_services_restricted": {"process.restricts_everyone"},
    "list dishonest_persons": {"list.public_person"},
}
NEEDS_JUSTIFICATION = {
    "event type charity.donated": {"privacy.private_life"},
    "rule diapers_bought": {"privacy.private_life"},
    "rule gaming_too_long": {"privacy.private_life"},
    "dimension personal_characteristics": {"protected.characteristic"},
}
ACCEPTED = [
    "dimension credit_history",
    "event type bill.paid",
    "event type court.judgment_unpaid",
    "rule bill_on_time",
    "rule bill_missed",
    "rule judgment_unpaid",
    "rule waste_missorted",
    "rule passageway_blocked",
    "rule storefront_kept_clean",
]


@pytest.mark.parametrize(("element", "codes"), REFUSED.items())
def test_as_described_refuses_unlawful_elements(element: str, codes: set[str]) -> None:
    row = _rows()[element]
    assert row.verdict is Verdict.REFUSED
    assert codes <= set(row.codes)
    assert row.law


@pytest.mark.parametrize(("element", "codes"), NEEDS_JUSTIFICATION.items())
def test_as_described_asks_justification_for_private_life(element: str, codes: set[str]) -> None:
    row = _rows()[element]
    assert row.verdict is Verdict.NEEDS_JUSTIFICATION
    assert set(row.codes) == codes


@pytest.mark.parametrize("element", ACCEPTED)
def test_as_described_keeps_a_lawful_subset(element: str) -> None:
    row = _rows()[element]
    assert (row.verdict, row.codes, row.law) == (Verdict.ACCEPTED, (), ())


def test_every_entitlement_and_list_of_as_described_is_refused() -> None:
    adverse = [
        r for name, r in _rows().items() if name.split()[0] in ("benefit", "restriction", "list")
    ]
    assert adverse and all(r.verdict is Verdict.REFUSED for r in adverse)


def test_the_audit_names_lines() -> None:
    row = _rows()["rule judgment_unpaid"]
    text = AS_DESCRIBED.read_text(encoding="utf-8").splitlines()
    assert row.line is not None and "id: judgment_unpaid" in text[row.line - 1]


def test_the_documented_audit_table_matches_the_audit() -> None:
    doc = (ROOT / "docs" / "safeguards.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- audit:as-described -->\n(.*?)<!-- /audit:as-described -->", doc, re.DOTALL
    )
    assert match, "docs/safeguards.md lacks the audit markers"
    loaded = load_policy(AS_DESCRIBED)
    assert match.group(1) == markdown_table(
        audit(loaded.policy, source_map=SourceMap(loaded.source))
    )


def test_every_code_is_documented() -> None:
    doc = (ROOT / "docs" / "safeguards.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"`{code}`" in doc, code


# -- commands ----------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", ["business-compliance", "consumer-trust"])
def test_lint_passes_lawful_examples(cli: typer.Typer, name: str) -> None:
    code, out, _ = _run(cli, "lint", str(EXAMPLES / f"{name}.yaml"))
    assert code == 0
    assert "0 error(s)" in out


def test_lint_refuses_as_described_with_located_lines(cli: typer.Typer) -> None:
    code, out, _ = _run(cli, "lint", str(AS_DESCRIBED))
    assert code == 1
    assert re.search(
        r"as-described\.yaml:\d+: error protected\.category: rule `rally_attended`", out
    )


def test_lint_json(cli: typer.Typer) -> None:
    code, out, _ = _run(cli, "lint", str(AS_DESCRIBED), "--format", "json")
    assert code == 1
    found = json.loads(out)
    assert {"code", "severity", "status", "element", "path", "line", "law"} <= set(found[0])
    assert any(d["code"] == "list.public_person" and d["line"] for d in found)


def test_lint_strict_fails_on_unjustified_warnings(cli: typer.Typer, tmp_path: Path) -> None:
    text = (EXAMPLES / "business-compliance.yaml").read_text(encoding="utf-8")
    warned = tmp_path / "p.yaml"
    warned.write_text(text.replace("label: Tax compliance", "label: Tax compliance by age"))
    assert _run(cli, "lint", str(warned))[0] == 0
    assert _run(cli, "lint", str(warned), "--strict")[0] == 1
    justified = tmp_path / "q.yaml"
    justified.write_text(
        text.replace(
            "label: Tax compliance,",
            "label: Tax compliance by age, justifications: "
            "{protected.characteristic: Age of the business registration only},",
        )
    )
    code, out, _ = _run(cli, "lint", str(justified), "--strict")
    assert code == 0
    assert "justified protected.characteristic" in out


def test_lint_on_a_broken_file_prints_one_line(cli: typer.Typer, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("credence: 1\nname: [\n")
    code, out, err = _run(cli, "lint", str(broken))
    assert code == 1
    assert err.startswith("error[policy.invalid]: ") and err.count("\n") == 1
    assert "Traceback" not in out + err


def test_lint_on_a_missing_file_prints_one_line(cli: typer.Typer, tmp_path: Path) -> None:
    code, _, err = _run(cli, "lint", str(tmp_path / "none.yaml"))
    assert code == 1
    assert err.startswith("error[policy.missing]: ")


def test_audit_exit_codes_and_formats(cli: typer.Typer) -> None:
    code, out, _ = _run(cli, "audit", str(AS_DESCRIBED), "--format", "json")
    assert code == 1
    rows = json.loads(out)
    assert {r["verdict"] for r in rows} >= {"refused", "accepted", "needs justification"}
    assert _run(cli, "audit", str(EXAMPLES / "business-compliance.yaml"))[0] == 0
    code, out, _ = _run(cli, "audit", str(AS_DESCRIBED), "--format", "markdown")
    assert out.startswith("| Element | Verdict | Codes | Principle or law |")
