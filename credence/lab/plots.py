"""The lab's plots, drawn with matplotlib (Agg, no display) as PNG and SVG side by side.

Every function takes the JSON-ready report a backtest or simulation wrote,
so a plot can be redrawn from ``report.json`` alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from credence.lab import require

FORMATS = ("png", "svg")


def _pyplot() -> Any:
    matplotlib = require("matplotlib")
    matplotlib.use("Agg", force=True)
    return require("matplotlib.pyplot")


def _save(figure: Any, out: Path, stem: str) -> list[Path]:
    plt = _pyplot()
    written = []
    figure.tight_layout()
    for fmt in FORMATS:
        path = out / f"{stem}.{fmt}"
        # A fixed date keeps SVG output byte-stable for a given report.
        metadata = {"Date": None} if fmt == "svg" else {}
        figure.savefig(path, format=fmt, dpi=120, metadata=metadata)
        written.append(path)
    plt.close(figure)
    return written


def score_change_histogram(report: dict[str, Any], out: Path) -> list[Path]:
    """Histogram of each subject's score change, candidate minus active."""
    plt = _pyplot()
    hist = report["score_change"]["histogram"]
    figure, axes = plt.subplots(figsize=(7, 4))
    edges, counts = hist["edges"], hist["counts"]
    if counts:
        widths = [edges[i + 1] - edges[i] for i in range(len(counts))]
        axes.bar(edges[:-1], counts, width=widths, align="edge", color="#4c72b0", edgecolor="white")
    axes.axvline(0, color="#333333", linewidth=1)
    axes.set_xlabel("score change (candidate − active)")
    axes.set_ylabel("subjects")
    axes.set_title(f"Score changes, {report['subjects']} subjects")
    return _save(figure, out, "score-change")


def migration_heatmap(report: dict[str, Any], out: Path) -> list[Path]:
    """The tier migration matrix as a heat map: rows the active tier, columns the candidate's."""
    plt = _pyplot()
    migration = report["migration"]
    rows, columns, counts = migration["rows"], migration["columns"], migration["counts"]
    figure, axes = plt.subplots(figsize=(1.2 * len(columns) + 3, 0.8 * len(rows) + 2))
    image = axes.imshow(counts, cmap="Blues", aspect="auto")
    axes.set_xticks(range(len(columns)), labels=columns)
    axes.set_yticks(range(len(rows)), labels=rows)
    axes.set_xlabel("tier under the candidate")
    axes.set_ylabel("tier under the active policy")
    peak = max((max(r) for r in counts if r), default=0)
    for i, row in enumerate(counts):
        for j, value in enumerate(row):
            colour = "white" if peak and value > peak / 2 else "black"
            axes.text(j, i, str(value), ha="center", va="center", color=colour)
    figure.colorbar(image, ax=axes, label="subjects")
    axes.set_title("Tier migration")
    return _save(figure, out, "migration")


def tier_distribution(report: dict[str, Any], out: Path) -> list[Path]:
    """Subjects per tier under the active policy and the candidate, side by side."""
    plt = _pyplot()
    before = dict((t, c) for t, c in report["tiers"]["before"])
    after = dict((t, c) for t, c in report["tiers"]["after"])
    tiers = list(dict.fromkeys([*before, *after]))
    figure, axes = plt.subplots(figsize=(7, 4))
    xs = range(len(tiers))
    axes.bar([x - 0.2 for x in xs], [before.get(t, 0) for t in tiers], 0.4, label="active")
    axes.bar([x + 0.2 for x in xs], [after.get(t, 0) for t in tiers], 0.4, label="candidate")
    axes.set_xticks(list(xs), labels=tiers)
    axes.set_ylabel("subjects")
    axes.set_title("Tier distribution before and after")
    axes.legend()
    return _save(figure, out, "tiers")


def backtest_plots(report: dict[str, Any], out: Path) -> list[Path]:
    """Every backtest plot, PNG and SVG, into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    return [
        *score_change_histogram(report, out),
        *migration_heatmap(report, out),
        *tier_distribution(report, out),
    ]


def simulation_plots(report: dict[str, Any], out: Path) -> list[Path]:
    """Tiers over time (stacked) and the share under each restriction, PNG and SVG."""
    plt = _pyplot()
    out.mkdir(parents=True, exist_ok=True)
    months = [m["month"] for m in report["months"]]
    tiers = report["tiers"]
    figure, axes = plt.subplots(figsize=(8, 4))
    stacks = [[m["tiers"].get(t, 0) for m in report["months"]] for t in tiers]
    # Lowest tier at the bottom of the stack, the legend in tier order beside it.
    axes.stackplot(months, stacks[::-1], labels=tiers[::-1])
    axes.set_xlabel("month")
    axes.set_ylabel("subjects")
    axes.set_title("Tiers over time")
    handles, labels = axes.get_legend_handles_labels()
    axes.legend(
        handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small"
    )
    written = _save(figure, out, "tiers-over-time")
    figure, axes = plt.subplots(figsize=(8, 4))
    for ent in report["restrictions"]:
        axes.plot(months, [m["restricted"].get(ent, 0.0) for m in report["months"]], label=ent)
    axes.set_xlabel("month")
    axes.set_ylabel("share of subjects restricted")
    axes.set_title("Restrictions over time")
    if report["restrictions"]:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    written += _save(figure, out, "restrictions")
    return written
