"""The lab's use cases over an open ledger: a backtest and a fairness audit, written to a directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credence.engine import CompiledPolicy, compile_policy
from credence.lab.backtest import Comparison, backtest
from credence.lab.runs import ledger_records, run_policies, subject_kinds
from credence.policy import load_policy
from credence.service.ledger import Ledger
from credence.service.setup import refuse_unlawful
from credence.types import format_time


@dataclass(frozen=True, slots=True)
class Written:
    """A report and the files it was written to."""

    report: dict[str, Any]
    files: list[Path]


def load_candidate(path: Path) -> CompiledPolicy:
    """A candidate policy file, checked as ``init`` checks one, compiled.

    Raises:
        PolicyError: when it is invalid or breaks a safeguard.
    """
    loaded = load_policy(path)
    refuse_unlawful(loaded)
    return compile_policy(loaded.policy)


def entitlement_kinds(policy: CompiledPolicy) -> list[tuple[str, str]]:
    """``(id, kind)`` of every entitlement of a policy, in order."""
    return [(e.id, e.kind.value) for e in policy.policy.entitlements]


def run_backtest(
    ledger: Ledger,
    candidate: CompiledPolicy,
    *,
    as_of: int,
    out: Path | None = None,
    groups: Path | None = None,
    plots: bool = True,
) -> tuple[dict[str, Any], list[Path]]:
    """Backtest ``candidate`` against the active policy; write the report when ``out`` is given.

    With ``groups``, the report includes the fairness audit of the candidate,
    which needs every subject's outcomes; without, the report comes from SQL
    alone (``credence.lab.summary``), the same report faster.

    Raises:
        PlanError, InputFileError, StoreUnavailable: when the run cannot be made.
        UsageError: code ``lab.missing_extra`` when plots or the audit need the lab extra.
    """
    if groups is None:
        from credence.lab.summary import backtest_report

        report = backtest_report(ledger, candidate, as_of=as_of, scratch=out)
    else:
        report = _audited_backtest(ledger, candidate, as_of=as_of, groups=groups, scratch=out)
    files: list[Path] = []
    if out is not None:
        from credence.lab.report import backtest_markdown, write_report

        draw = None
        if plots:
            from credence.lab.plots import backtest_plots

            draw = backtest_plots
        files = write_report(report, out, markdown=backtest_markdown, plots=draw)
    return report, files


def _audited_backtest(
    ledger: Ledger, candidate: CompiledPolicy, *, as_of: int, groups: Path, scratch: Path | None
) -> dict[str, Any]:
    """A backtest with the fairness audit, which needs every subject's outcomes."""
    comparison: Comparison = backtest(ledger, candidate, as_of=as_of, scratch=scratch)
    from credence.lab.fairness import audit, load_groups

    found = load_groups(ledger, groups)
    fairness = audit(comparison.runs[1].subjects, found, entitlements=entitlement_kinds(candidate))
    fairness["policy"] = comparison.report["candidate"]
    before = audit(
        comparison.runs[0].subjects,
        found,
        entitlements=entitlement_kinds(comparison.runs[0].policy),
    )
    fairness["active"] = {
        e["id"]: {a["attribute"]: a["disparate_impact"] for a in e["attributes"]}
        for e in before["entitlements"]
    }
    comparison.report["fairness"] = fairness
    return comparison.report


def run_audit(
    ledger: Ledger,
    policy: CompiledPolicy,
    *,
    groups: Path,
    as_of: int,
    out: Path | None = None,
) -> Written:
    """The fairness audit of ``policy`` (the active one or a candidate) on the ledger's subjects.

    Raises:
        InputFileError: when the audit file cannot be read.
        UsageError: code ``lab.missing_extra`` without the lab extra.
    """
    from credence.lab.fairness import audit, load_groups
    from credence.lab.runs import union_attributes

    found = load_groups(ledger, groups)
    with ledger_records(ledger, union_attributes([policy]), scratch=out) as source:
        [run] = run_policies([policy], source, as_of=as_of, kinds=subject_kinds(ledger))
    report = audit(run.subjects, found, entitlements=entitlement_kinds(policy))
    report["policy"] = {"name": policy.policy.name, "version": policy.policy.version}
    report["as_of"] = format_time(as_of)
    files: list[Path] = []
    if out is not None:
        from credence.lab.report import fairness_markdown, write_report

        files = write_report(report, out, markdown=fairness_markdown, plots=None)
    return Written(report, files)
