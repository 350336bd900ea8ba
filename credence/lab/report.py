"""Writing lab reports: ``report.json`` (the numbers), ``report.md`` (for people) and the plots.

Each output file appears whole: it is written under a temporary name in the
output directory and renamed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(name, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def write_report(
    report: dict[str, Any],
    out: Path,
    *,
    markdown: Callable[[dict[str, Any]], str],
    plots: Callable[[dict[str, Any], Path], list[Path]] | None,
) -> list[Path]:
    """``report.json``, ``report.md`` and the plots into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if plots is not None:
        written += plots(report, out)
    write_text(out / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    write_text(out / "report.md", markdown(report))
    return [out / "report.md", out / "report.json", *written]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def backtest_markdown(report: dict[str, Any]) -> str:
    """The backtest report for people: every table of report.json, and the plots."""
    a, c = report["active"], report["candidate"]
    change = report["score_change"]
    harmed = report["harmed"]
    lines = [
        f"# Backtest: {c['name']} {c['version']} against {a['name']} {a['version']}",
        "",
        f"{report['subjects']} subjects scored as of {report['as_of']} under both policies.",
        "",
        f"**{harmed['subjects']} subjects would be newly adversely affected**: "
        f"{harmed['by_entitlement']} lose a benefit or gain a restriction, "
        f"{harmed['tier_lowered']} drop a tier.",
        "",
        "## Tier migration",
        "",
        "Rows: tier under the active policy; columns: tier under the candidate.",
        "",
    ]
    mig = report["migration"]
    lines += _table(
        ["active \\ candidate", *mig["columns"]],
        [[row, *counts] for row, counts in zip(mig["rows"], mig["counts"], strict=True)],
    )
    lines += ["", "![Tier migration](migration.svg)", "", "## Tier distribution", ""]
    before = dict((t, n) for t, n in report["tiers"]["before"])
    after = dict((t, n) for t, n in report["tiers"]["after"])
    tiers = list(dict.fromkeys([*before, *after]))
    lines += _table(
        ["tier", "active", "candidate"], [[t, before.get(t, 0), after.get(t, 0)] for t in tiers]
    )
    lines += [
        "",
        "![Tier distribution](tiers.svg)",
        "",
        "## Score changes",
        "",
        f"Mean {change['mean']:+.2f}, median {change['median']:+.1f}, "
        f"from {change['min']:+d} to {change['max']:+d}: {change['raised']} raised, "
        f"{change['lowered']} lowered, {change['unchanged']} unchanged.",
        "",
        "![Score changes](score-change.svg)",
        "",
        "## Entitlements",
        "",
    ]
    rows = []
    for e in report["entitlements"]:
        rows.append(
            [
                e["id"],
                e["kind_after"] if e["kind_after"] != "absent" else e["kind_before"],
                _counts(e["before"]),
                _counts(e["after"]),
                e["newly_adverse"],
                e["newly_favourable"],
            ]
        )
    lines += _table(
        ["entitlement", "kind", "active", "candidate", "newly adverse", "newly favourable"], rows
    )
    lines += [
        "",
        "## Rules",
        "",
        "Each rule's total contribution over every subject, in dimension points after caps, "
        "expiry and decay, before dimension bounds.",
        "",
    ]
    lines += _table(
        ["rule", "active", "candidate", "change"],
        [
            [r["id"], _num(r["before"]), _num(r["after"]), f"{r['change']:+,.1f}"]
            for r in report["rules"]
        ],
    )
    if "fairness" in report:
        lines += ["", *fairness_sections(report["fairness"])]
    return "\n".join(lines) + "\n"


def fairness_sections(report: dict[str, Any], *, level: str = "##") -> list[str]:
    """The fairness audit as Markdown sections."""
    lines = [
        f"{level} Fairness audit",
        "",
        f"{report['subjects']} subjects of `{report['source']}` matched "
        f"({report['unmatched']} rows unmatched). Impact ratio: a group's favourable rate "
        f"over the most favoured group's; under {report['four_fifths']} fails the "
        "four-fifths rule.",
        "",
    ]
    for ent in report["entitlements"]:
        for attr in ent["attributes"]:
            verdict = "passes" if attr["passes_four_fifths"] else "**fails**"
            lines += [
                f"{level}# {ent['id']} ({ent['kind']}) by {attr['attribute']}",
                "",
                f"Disparate impact {attr['disparate_impact']:.2f} ({verdict} the four-fifths "
                f"rule); demographic parity difference "
                f"{attr['demographic_parity_difference']:.3f}"
                + (
                    f"; equalised odds difference {attr['equalized_odds_difference']:.3f}"
                    if "equalized_odds_difference" in attr
                    else ""
                )
                + ".",
                "",
            ]
            header = ["group", "size", "selection rate", "favourable rate", "impact ratio"]
            labelled = any("false_positive_rate" in g for g in attr["groups"])
            if labelled:
                header += ["false positive rate", "false negative rate"]
            rows = []
            for g in attr["groups"]:
                row = [
                    g["group"] + (" ⚠ under " + str(report["small_group"]) if g["small"] else ""),
                    g["size"],
                    f"{g['selection_rate']:.3f}",
                    f"{g['favourable_rate']:.3f}",
                    f"{g['impact_ratio']:.2f}",
                ]
                if labelled:
                    row += [
                        f"{g.get('false_positive_rate', float('nan')):.3f}",
                        f"{g.get('false_negative_rate', float('nan')):.3f}",
                    ]
                rows.append(row)
            lines += _table(header, rows) + [""]
    if report["warnings"]:
        lines += [f"{level}# Warnings", "", *[f"- {w}" for w in report["warnings"]], ""]
    return lines


def fairness_markdown(report: dict[str, Any]) -> str:
    """A stand-alone fairness audit report."""
    policy = report.get("policy", {})
    title = f"# Fairness audit: {policy.get('name', '')} {policy.get('version', '')}".rstrip()
    return "\n".join([title, "", *fairness_sections(report)]) + "\n"
