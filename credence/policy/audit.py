"""The audit: a policy explained element by element, accepted or refused, and why.

One row per dimension, event type, rule, entitlement and list (and the
policy itself when a finding is about the whole policy), with the lint codes
found on it and the principle or law behind each. It is how the
``as-described`` example shows, rule by rule, what a lawful platform refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from credence.policy.diagnostics import Diagnostic, Level, elements
from credence.policy.lint import lint
from credence.policy.load import SourceMap
from credence.policy.model import Policy


class Verdict(StrEnum):
    """What the platform does with an element."""

    ACCEPTED = "accepted"
    JUSTIFIED = "accepted (justified)"
    NEEDS_JUSTIFICATION = "needs justification"
    REFUSED = "refused"


@dataclass(frozen=True)
class AuditRow:
    """One policy element and the platform's verdict on it."""

    element: str
    verdict: Verdict
    codes: tuple[str, ...]
    law: tuple[str, ...]
    line: int | None
    diagnostics: tuple[Diagnostic, ...]

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        return {
            "element": self.element,
            "verdict": self.verdict.value,
            "codes": list(self.codes),
            "law": list(self.law),
            "line": self.line,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }


def audit(policy: Policy, *, source_map: SourceMap | None = None) -> list[AuditRow]:
    """One row per element of ``policy``, in document order.

    The policy row appears only when a finding concerns the policy as a whole.
    """
    diagnostics = lint(policy, source_map=source_map)
    rows = []
    for element in elements(policy):
        found = tuple(d for d in diagnostics if d.element == element.name)
        if element.section == "policy" and not found:
            continue
        line = source_map.line(element.path) if source_map and element.index is not None else None
        rows.append(
            AuditRow(
                element=element.name,
                verdict=_verdict(found),
                codes=tuple(dict.fromkeys(d.code for d in found)),
                law=tuple(dict.fromkeys(part for d in found for part in _laws(d.law))),
                line=line,
                diagnostics=found,
            )
        )
    return rows


def _verdict(found: tuple[Diagnostic, ...]) -> Verdict:
    if any(d.level is Level.ERROR for d in found):
        return Verdict.REFUSED
    if any(not d.justified for d in found):
        return Verdict.NEEDS_JUSTIFICATION
    return Verdict.JUSTIFIED if found else Verdict.ACCEPTED


def _laws(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def refused(rows: list[AuditRow]) -> bool:
    """Whether any element is refused."""
    return any(row.verdict is Verdict.REFUSED for row in rows)


def markdown_table(rows: list[AuditRow]) -> str:
    """The audit as a Markdown table (what docs/safeguards.md embeds)."""
    out = ["| Element | Verdict | Codes | Principle or law |", "|---|---|---|---|"]
    for row in rows:
        codes = ", ".join(f"`{c}`" for c in row.codes) or "—"
        law = "; ".join(row.law) or "—"
        out.append(f"| `{row.element}` | {row.verdict.value} | {codes} | {law} |")
    return "\n".join(out) + "\n"
