"""Lint findings for credit decisions: the US rules for empirically derived scoring systems.

In a credit context (an event type whose context names lending, credit, a loan
or a mortgage), the Equal Credit Opportunity Act forbids scoring on sex or
marital status, which elsewhere are only warnings (``protected.characteristic``),
and allows age only as Regulation B §1002.6(b)(2)(ii) says: in an empirically
derived system, the age of an elderly applicant (62 or older, §1002.2(o)) may
not be assigned a negative factor or value, that is, no bin holding applicants
aged 62 or more may get fewer points than a bin of younger applicants.
National origin is refused in every context (``protected.category``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from credence.policy.diagnostics import Finding
from credence.policy.model import Condition, Policy, Rule
from credence.policy.vocabulary import tokens

CREDIT_CONTEXT_WORDS = frozenset({"lending", "credit", "loan", "loans", "mortgage", "mortgages"})
PROHIBITED_WORDS = frozenset(
    {"sex", "gender", "marital", "married", "unmarried", "divorced", "widowed", "spouse"}
)
AGE_WORDS = frozenset({"age", "aged"})
ELDERLY = 62
PROHIBITED_LAW = "ECOA 15 U.S.C. §1691(a)(1); Regulation B 12 CFR §1002.6(b)(1), (b)(8)"
AGE_LAW = "ECOA 15 U.S.C. §1691(b)(3); Regulation B 12 CFR §1002.6(b)(2)(ii), §1002.2(o)"


def is_credit_context(context: str) -> bool:
    """Whether a context is one where credit is decided."""
    return bool(CREDIT_CONTEXT_WORDS & set(tokens(context)))


def fair_lending_findings(policy: Policy) -> list[Finding]:
    """``credit.prohibited_basis`` and ``credit.age`` findings, in document order."""
    credit_types = {e.id: e for e in policy.event_types if is_credit_context(e.context)}
    findings: list[Finding] = []
    for i, event in enumerate(policy.event_types):
        if event.id not in credit_types:
            continue
        for attr in event.attributes:
            if PROHIBITED_WORDS & set(tokens(attr)):
                findings.append(
                    Finding(
                        "credit.prohibited_basis",
                        f"event type `{event.id}` decides credit and carries `{attr}`, "
                        "which holds sex or marital status",
                        ("event_types", i, "attributes", attr),
                        "remove the attribute and every rule that uses it",
                        PROHIBITED_LAW,
                    )
                )
    for i, rule in enumerate(policy.rules):
        if rule.type not in credit_types:
            continue
        for c, condition in enumerate(rule.when):
            if PROHIBITED_WORDS & set(tokens(condition.attr)):
                findings.append(
                    Finding(
                        "credit.prohibited_basis",
                        f"rule `{rule.id}` decides credit by `{condition.attr}`, "
                        "which holds sex or marital status",
                        ("rules", i, "when", c, "attr"),
                        "remove the rule",
                        PROHIBITED_LAW,
                    )
                )
    findings += _age_findings(policy, set(credit_types))
    return findings


def _age_findings(policy: Policy, credit_types: set[str]) -> Iterator[Finding]:
    # One characteristic: the rules of one type and group that bin an age attribute.
    bins: dict[tuple[str, str | None, str], list[tuple[int, Rule, float, float]]] = {}
    for i, rule in enumerate(policy.rules):
        if rule.type not in credit_types:
            continue
        for attr in {c.attr for c in rule.when if AGE_WORDS & set(tokens(c.attr))}:
            span = _span([c for c in rule.when if c.attr == attr])
            if span is not None:
                bins.setdefault((rule.type, rule.group, attr), []).append((i, rule, *span))
    for (_, _, attr), members in bins.items():
        younger = [m for m in members if m[3] <= ELDERLY]
        if not younger:
            continue
        best = max(younger, key=lambda m: m[1].points)
        for i, rule, low, high in members:
            if high <= ELDERLY or rule.points >= best[1].points:
                continue
            yield Finding(
                "credit.age",
                f"rule `{rule.id}` gives applicants with {attr} in {_show(low, high)} "
                f"{rule.points:g} points, fewer than the {best[1].points:g} of rule "
                f"`{best[1].id}` ({attr} in {_show(best[2], best[3])}): a bin of applicants "
                f"aged {ELDERLY} or more may not get fewer points than a younger bin",
                ("rules", i, "points"),
                f"merge the bins, or give rule `{rule.id}` at least {best[1].points:g} points",
                AGE_LAW,
            )


def _span(conditions: list[Condition]) -> tuple[float, float] | None:
    """The ages ``[low, high)`` a rule's conditions on one attribute admit; None if not a range."""
    low, high = -math.inf, math.inf
    for condition in conditions:
        value = condition.value
        if condition.op == "absent":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            if condition.op == "in" and isinstance(value, list) and value:
                numbers = [v for v in value if isinstance(v, int | float)]
                if not numbers:
                    return None
                low, high = max(low, min(numbers)), min(high, max(numbers) + 1)
                continue
            return None
        v = float(value)
        if condition.op in (">=",):
            low = max(low, v)
        elif condition.op == ">":
            low = max(low, math.floor(v) + 1)  # ages are whole years
        elif condition.op == "<":
            high = min(high, v)
        elif condition.op == "<=":
            high = min(high, math.floor(v) + 1)
        elif condition.op == "==":
            low, high = max(low, v), min(high, v + 1)
        else:
            return None
    return (low, high) if low < high else None


def _show(low: float, high: float) -> str:
    def end(value: float) -> str:
        return "inf" if value > 1e300 else "-inf" if value < -1e300 else f"{value:g}"

    return f"[{end(low)}, {end(high)})"
