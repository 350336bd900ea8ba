"""Turning outcomes, explanations and decisions into text, tables, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rich.table import Table

from credence.service.results import (
    Access,
    ChainReport,
    Change,
    CompiledPolicy,
    Decision,
    Reason,
    weighted,
)
from credence.service.scoring import AccessLog, SubjectReport, SubjectScore, Withdrawal
from credence.types import Notice, Record, format_date, format_time

if TYPE_CHECKING:
    from pathlib import Path

    from credence.service.ingest import FileReport
    from credence.sim.demo import DemoReport

FORMATS = ("table", "json", "jsonl", "csv")


def score_row(item: SubjectScore) -> dict[str, Any]:
    """The interchange shape of one score (the ``--format jsonl`` line)."""
    o = item.outcome
    return {
        "subject_scheme": item.ref.scheme,
        "subject_id": item.ref.id,
        "score": o.score,
        "raw": o.raw,
        "tier": o.tier,
        "dimensions": dict(o.dimensions),
    }


def jsonl_lines(items: Iterable[SubjectScore]) -> Iterator[str]:
    """One compact JSON object per subject."""
    for item in items:
        yield json.dumps(score_row(item), ensure_ascii=False, separators=(",", ":"))


def csv_lines(items: Iterable[SubjectScore], dimension_ids: Iterable[str]) -> Iterator[str]:
    """A header, then one CSV row per subject, dimensions as ``dim_<id>`` columns."""
    dims = list(dimension_ids)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["subject_scheme", "subject_id", "score", "raw", "tier", *[f"dim_{d}" for d in dims]]
    )
    for item in items:
        row = score_row(item)
        writer.writerow(
            [
                row["subject_scheme"],
                row["subject_id"],
                row["score"],
                repr(row["raw"]),
                row["tier"] or "",
            ]
            + [repr(row["dimensions"][d]) for d in dims]
        )
        yield buffer.getvalue().rstrip("\n")
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue().rstrip("\n")


def score_table(items: Iterable[SubjectScore], dimension_ids: Iterable[str]) -> Table:
    """A Rich table of scores."""
    dims = list(dimension_ids)
    table = Table(show_edge=False, header_style="bold")
    for name in ("subject", "score", "tier", *dims):
        table.add_column(name, justify="right" if name not in ("subject", "tier") else "left")
    for item in items:
        o = item.outcome
        table.add_row(
            str(item.ref), str(o.score), o.tier or "-", *[f"{o.dimensions[d]:.1f}" for d in dims]
        )
    return table


def explanation_text(
    policy: CompiledPolicy, report: SubjectReport, *, max_records: int | None = None
) -> str:
    """A readable account of a subject's score: what counts, why, and what would change it.

    ``max_records`` keeps only the records that weigh most (for summaries); by
    default every counting record is listed.
    """
    ex = report.explanation
    o = ex.outcome
    labels = {d.id: d.label or d.id for d in policy.policy.dimensions}
    lines = [
        f"{report.ref} ({report.kind}) as of {format_time(o.as_of)}",
        f"  score {o.score} (raw {o.raw:.3f}), tier {o.tier or '-'}  "
        f"[scale {policy.min:g}-{policy.max:g}, base {policy.base:g}]",
        "",
        "Dimensions:",
    ]
    for i, dim_id in enumerate(policy.dimension_ids):
        bounds = ""
        if policy.lower[i] is not None or policy.upper[i] is not None:
            low = "" if policy.lower[i] is None else f"{policy.lower[i]:g}"
            high = "" if policy.upper[i] is None else f"{policy.upper[i]:g}"
            bounds = f"  (bounded {low}..{high})"
        lines.append(
            f"  {labels.get(dim_id, dim_id):<28} {o.dimensions[dim_id]:+9.2f}  x{policy.weights[i]:g}{bounds}"
        )
    counting = [c for c in o.contributions if c.value != 0.0]
    records = len({c.record.key for c in counting})
    hits = f", {len(counting)} rule hits" if len(counting) != records else ""  # rule groups
    lines += ["", f"Records counting now ({records} of {o.considered} considered{hits}):"]
    shown = counting
    if max_records is not None and len(counting) > max_records:
        heaviest = sorted(counting, key=lambda c: -abs(weighted(policy, c)))[:max_records]
        shown = [c for c in counting if c in heaviest]
    for c in shown:
        expiry = f"expires {format_date(c.expires_at)}" if c.expires_at else "does not expire"
        clipped = f" (capped from {c.raw:+g})" if c.capped != c.raw else ""
        lines.append(
            f"  {format_date(c.record.occurred_at)}  {c.record.type:<20} {c.rule.id:<22} "
            f"{weighted(policy, c):+8.2f}{clipped}  {expiry}"
        )
    if len(shown) < len(counting):
        lines.append(
            f"  ... the {len(shown)} weighing most; {len(counting) - len(shown)} more not shown"
        )
    stopped = [c for c in o.contributions if c.value == 0.0 and c.expires_at and c.capped]
    if stopped:
        lines.append(f"  ({len(stopped)} older records have expired and no longer count)")
    if report.withdrawn:
        lines += [
            "",
            f"Withdrawn records ({len(report.withdrawn)}; retracted by their provider, "
            "they count at no time):",
        ]
        lines += [_withdrawal_line(w) for w in report.withdrawn]
    if o.lists:
        lines += ["", "On lists: " + ", ".join(sorted(o.lists))]
    lines += ["", "What lowers the score most:"]
    lines += [_factor(r) for r in ex.lowering] or ["  nothing"]
    lines += ["", "What raises it most:"]
    lines += [_factor(r) for r in ex.raising] or ["  nothing"]
    lines += ["", "What would change it:"]
    lines += [f"  - {c.text}" for c in ex.changes] or ["  nothing scheduled"]
    if report.notices:
        lines += ["", "Notices given:"]
        for n in report.notices:
            ends = f", ends {format_date(n.ends_at)}" if n.ends_at else ""
            lines.append(
                f"  {n.entitlement}: issued {format_date(n.issued_at)}, "
                f"effective {format_date(n.effective_at)}{ends}"
            )
    if report.accesses:
        lines += ["", f"Who looked ({len(report.accesses)} accesses):"]
        for a in report.accesses[-5:]:
            lines.append(f"  {format_time(a.at)}  {a.actor}  {a.action}  ({a.purpose})")
    return "\n".join(lines)


def _withdrawal_line(w: Withdrawal) -> str:
    by = ", ".join(f"{r.provider_event_id} ({format_date(r.occurred_at)})" for r in w.retractions)
    if w.record is None:
        return f"  {'':10}  {'(purged since)':<20} {w.provider}/{w.provider_event_id}  retracted by {by}"
    return (
        f"  {format_date(w.record.occurred_at)}  {w.record.type:<20} "
        f"{w.provider}/{w.provider_event_id}  retracted by {by}"
    )


def _factor(reason: Reason) -> str:
    records = "1 record" if reason.records == 1 else f"{reason.records} records"
    return f"  {reason.code}: {reason.text} ({reason.points:+.1f}, {records})"


def demo_text(report: DemoReport, *, base_url: str = "http://127.0.0.1:8000") -> str:
    """The demo's summary: what was built, the tier counts, three explanations, the links."""
    lines = [
        f"Built {report.db}: {report.subjects} SYNTHETIC subjects, {report.records} SYNTHETIC records "
        "(generated, not real people), policy consumer-trust.",
    ]
    if report.rejected:
        lines.append(
            f"  {report.rejected} generated rows were rejected (see the .rejects.jsonl file)"
        )
    lines += ["", "Subjects per tier:"]
    total = max(1, sum(n for _, n in report.tiers))
    for tier, n in report.tiers:
        lines.append(f"  {tier:<10} {n:6d}  {'#' * round(40 * n / total)}")
    for why, example in report.examples:
        lines += ["", f"--- Example: {why} " + "-" * 40]
        lines.append(explanation_text(report.policy, example, max_records=8))
    lines += [
        "",
        f"Try: credence explain --db {report.db} {report.examples[0][1].ref}",
        f"     credence decide --db {report.db} {report.examples[-1][1].ref} deposit_free_rental",
    ]
    cast = report.cast
    if cast is not None:
        parties = ", ".join(f"{name} ({kind.replace('_', ' ')})" for name, kind in cast.parties)
        lines += [
            "",
            f"Demo parties: {parties}.",
            f"Demo subject {cast.subject}: consent {cast.consent_id} to acme-rentals, "
            f"decisions {'; '.join(cast.decisions)}, {cast.notices} notice(s), "
            f"an open dispute of {cast.dispute}.",
            "",
            "Open in a browser (each link signs in; valid for a day):",
            f"  the subject's own pages:  {base_url}/sign-in?token={cast.subject_token}",
            f"  the operator's console:   {base_url}/console/sign-in?token={cast.operator_token}",
            f"  the public register:      {base_url}/register",
        ]
    return "\n".join(lines)


def decision_dict(decision: Decision) -> dict[str, Any]:
    """A decision as JSON: answer, reason codes with texts, what would change it."""
    d = decision
    body: dict[str, Any] = {
        "entitlement": d.entitlement,
        "kind": d.kind,
        "context": d.context,
        "as_of": format_time(d.as_of),
        "outcome": d.outcome,
        "allowed": d.allowed,
        "score": d.score,
        "tier": d.tier,
        "reason_codes": [r.code for r in d.reasons],
        "reasons": [
            {"code": r.code, "text": r.text, "points": round(r.points, 6)} for r in d.reasons
        ],
        "what_would_change_it": [c.text for c in d.changes],
        "changes": [change_dict(c) for c in d.changes],
    }
    if d.kind == "restriction":
        body["legal_basis"] = d.legal_basis
        body["reason"] = d.reason
    if d.notice is not None:
        body["notice"] = {
            "issued_at": format_time(d.notice.issued_at),
            "effective_at": format_time(d.notice.effective_at),
            "ends_at": format_time(d.notice.ends_at) if d.notice.ends_at else None,
            "issued_now": d.notice_issued,
            "given_before": not d.notice_needed,
        }
    # disputes
    if d.hold is not None:
        body["hold"] = {
            "outcome": d.hold.outcome,
            "disputes": list(d.hold.disputes),
            "until": format_time(d.hold.until),
        }
    if d.statements:
        body["statements"] = [
            {"dispute": s.dispute, "record": f"{s.provider}:{s.provider_event_id}", "text": s.text}
            for s in d.statements
        ]
    return body


def change_dict(change: Change) -> dict[str, Any]:
    """One "what would change it" claim as JSON, with the fields that make it checkable.

    An expiry gives when the record stops counting and the score just before
    and at that moment; a gap gives the least whole points, where they count
    (``dimension``) and what they reach (``measure``, ``target``, ``level``);
    ``points`` is null when no number of points would.
    """
    c = change
    if c.kind == "expiry":
        assert c.at is not None and c.record is not None
        return {
            "kind": c.kind,
            "text": c.text,
            "at": format_time(c.at),
            "record": {"provider": c.record[0], "provider_event_id": c.record[1]},
            "score_before": c.before,
            "score_after": c.after,
            "points": c.points,
        }
    return {
        "kind": c.kind,
        "text": c.text,
        "points": c.points,
        "dimension": c.dimension,
        "measure": c.measure,
        "target": c.target,
        "level": c.level,
    }


def decision_text(decision: Decision) -> str:
    """A decision for people: the answer first, then why, then what would change it."""
    d = decision
    headline = {
        "granted": "GRANTED",
        "denied": "DENIED",
        "restricted": "RESTRICTED",
        "pending": "PENDING (notice period running)",
        "not_restricted": "NOT RESTRICTED",
        "held": "HELD (a dispute it rests on is open)",
    }[d.outcome]
    lines = [
        f"{d.entitlement} ({d.kind}, context {d.context}): {headline}",
        f"  score {d.score}, tier {d.tier or '-'}, as of {format_time(d.as_of)}",
    ]
    if d.kind == "restriction" and d.condition_holds:
        lines.append(f"  reason: {d.reason or '-'}; legal basis: {d.legal_basis or '-'}")
    if d.notice is not None:
        if d.notice_issued:
            issued = "notice issued now"
        elif d.notice_needed:
            issued = "no notice given by then; with one issued then"
        else:
            issued = f"notice issued {format_date(d.notice.issued_at)}"
        lines.append(f"  {issued}, it takes effect {format_date(d.notice.effective_at)}")
    if d.hold is not None:  # disputes
        lines.append(
            f"  {d.hold.outcome} is held until {format_date(d.hold.until)} at the latest, "
            f"while {', '.join(d.hold.disputes)} is open"
        )
    lines += [f"  the subject's statement ({s.dispute}): {s.text}" for s in d.statements]
    if d.reasons:
        lines.append("  key factors:")
        lines += [f"    {r.code}: {r.text} ({r.points:+.1f})" for r in d.reasons]
    if d.changes:
        lines.append("  what would change it:")
        lines += [f"    - {c.text}" for c in d.changes]
    return "\n".join(lines)


# --- JSON: the shapes documented in docs/cli.md are a contract -------------------------


def _record_ref(record: Record) -> dict[str, Any]:
    return {
        "provider": record.provider,
        "provider_event_id": record.provider_event_id,
        "type": record.type,
        "occurred_at": format_time(record.occurred_at),
    }


def _reason_dict(reason: Reason) -> dict[str, Any]:
    return {
        "code": reason.code,
        "text": reason.text,
        "points": round(reason.points, 6),
        "records": reason.records,
    }


def _change_dict(change: Change) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "text": change.text,
        "points": round(change.points, 6) if change.points is not None else None,
        "at": format_time(change.at) if change.at is not None else None,
    }


def _notice_dict(notice: Notice) -> dict[str, Any]:
    return {
        "entitlement": notice.entitlement,
        "issued_at": format_time(notice.issued_at),
        "effective_at": format_time(notice.effective_at),
        "ends_at": format_time(notice.ends_at) if notice.ends_at else None,
    }


def access_dict(access: Access) -> dict[str, Any]:
    """One access-log entry: who, when, what they did, and why."""
    return {
        "at": format_time(access.at),
        "actor": access.actor,
        "action": access.action,
        "purpose": access.purpose,
    }


def _withdrawal_dict(w: Withdrawal) -> dict[str, Any]:
    record = _record_ref(w.record) if w.record is not None else None
    return {
        "provider": w.provider,
        "provider_event_id": w.provider_event_id,
        "record": record,
        "retracted_by": [_record_ref(r) for r in w.retractions],
    }


def explanation_dict(policy: CompiledPolicy, report: SubjectReport) -> dict[str, Any]:
    """``credence explain --json``: the same account as the text, field by field."""
    ex = report.explanation
    o = ex.outcome
    labels = {d.id: d.label or d.id for d in policy.policy.dimensions}
    dimensions = [
        {
            "id": dim_id,
            "label": labels.get(dim_id, dim_id),
            "value": o.dimensions[dim_id],
            "weight": policy.weights[i],
            "min": policy.lower[i],
            "max": policy.upper[i],
        }
        for i, dim_id in enumerate(policy.dimension_ids)
    ]
    counting = [
        _record_ref(c.record)
        | {
            "rule": c.rule.id,
            "points": round(weighted(policy, c), 6),
            "raw": c.raw,
            "capped": c.capped,
            "expires_at": format_time(c.expires_at) if c.expires_at else None,
        }
        for c in o.contributions
        if c.value != 0.0
    ]
    return {
        "subject": {"scheme": report.ref.scheme, "id": report.ref.id, "kind": report.kind},
        "as_of": format_time(o.as_of),
        "score": o.score,
        "raw": o.raw,
        "tier": o.tier,
        "scale": {"base": policy.base, "min": policy.min, "max": policy.max},
        "dimensions": dimensions,
        "considered": o.considered,
        "counting": counting,
        "expired": sum(c.expired for c in o.contributions),
        "withdrawn": [_withdrawal_dict(w) for w in report.withdrawn],
        "lists": sorted(o.lists),
        "lowering": [_reason_dict(r) for r in ex.lowering],
        "raising": [_reason_dict(r) for r in ex.raising],
        "changes": [_change_dict(c) for c in ex.changes],
        "notices": [_notice_dict(n) for n in report.notices],
        "accesses": [access_dict(a) for a in report.accesses],
    }


def ingest_dict(reports: Iterable[FileReport]) -> dict[str, Any]:
    """``credence ingest --json``: totals, then one entry per file with its rejects file."""
    reports = list(reports)
    counts = ("rows", "inserted", "unchanged", "rejected")
    files: list[dict[str, Any]] = [
        {"path": str(r.path)}
        | {key: getattr(r, key) for key in counts}
        | {"rejects_path": str(r.rejects_path) if r.rejects_path is not None else None}
        for r in reports
    ]
    totals = {key: sum(getattr(r, key) for r in reports) for key in counts}
    rejects = [str(r.rejects_path) for r in reports if r.rejects_path is not None]
    return {**totals, "rejects_paths": rejects, "files": files}


def verify_dict(report: ChainReport, *, checkpoint: Path | None) -> dict[str, Any]:
    """``credence verify --json``: the head recomputed, what was checked, the checkpoint."""
    head = report.head
    return {
        "ok": report.ok,
        "records": head.records,
        "seq": head.seq,
        "head": head.chain_hash.hex(),
        "content_hashes_checked": report.checked_content,
        "tombstones": report.tombstones,
        "checkpoint": str(checkpoint) if checkpoint is not None else None,
    }


def access_log_dict(log: AccessLog) -> dict[str, Any]:
    """``credence access-log --json``: the subject, then every access, oldest first."""
    return {
        "subject": {"scheme": log.ref.scheme, "id": log.ref.id, "kind": log.kind},
        "accesses": [access_dict(a) for a in log.accesses],
    }


def access_log_text(log: AccessLog) -> str:
    """The access log for people: one line per access, oldest first."""
    lines = [f"{log.ref} ({log.kind}): {len(log.accesses)} accesses to their data"]
    for a in log.accesses:
        lines.append(f"  {format_time(a.at)}  {a.actor:<16} {a.action:<28} ({a.purpose})")
    return "\n".join(lines)
