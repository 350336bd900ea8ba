"""What the safeguard linter reports: codes, severities, diagnostics, and policy elements.

Each code has a severity (an error refuses the policy; a warning needs a
written justification) and the principle or law behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from credence.policy.load import dotted
from credence.policy.model import (
    Policy,
    RuleSeverity,
)
from credence.types import parse_duration

Path = tuple[str | int, ...]
_DAY = 86_400
MIN_NOTICE_DAYS = 7
LONGEST_RETENTION = parse_duration("10y")
SEVERITY_WINDOWS = {
    RuleSeverity.MINOR: parse_duration("90d"),
    RuleSeverity.GENERAL: parse_duration("1y"),
    RuleSeverity.SERIOUS: parse_duration("3y"),
}


class Level(StrEnum):
    """An error refuses the policy; a warning needs a written justification."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    """A lint code: its severity, what it means, and the principle or law behind it."""

    name: str
    level: Level
    summary: str
    law: str


CODES: dict[str, Code] = {
    c.name: c
    for c in (
        Code(
            "protected.category",
            Level.ERROR,
            "concerns political opinion, religion, ethnicity or origin, health, sex life, "
            "union membership, biometric identity, or lawful speech and assembly",
            "GDPR Art. 9; ICCPR Art. 18, 19, 21, 22, 26",
        ),
        Code(
            "protected.proxy",
            Level.ERROR,
            "uses a known proxy for protected categories (social-media content, "
            "location traces, browsing)",
            "GDPR Art. 9 (inferred data); ICCPR Art. 17, 19",
        ),
        Code(
            "protected.sensitive",
            Level.ERROR,
            "declares an attribute `sensitive: true`",
            "GDPR Art. 9",
        ),
        Code(
            "conduct.others",
            Level.ERROR,
            "depends on, or applies to, relatives, friends or associates",
            "ICCPR Art. 17, 23; CRC Art. 2(2); EU AI Act Art. 5(1)(c)",
        ),
        Code(
            "surveillance.input",
            Level.ERROR,
            "ingests cameras, face recognition, location tracking or message monitoring",
            "EU AI Act Art. 5(1)(h); ICCPR Art. 17; GDPR Art. 5(1)(c)",
        ),
        Code(
            "purpose.unrelated",
            Level.ERROR,
            "can be triggered by records of a context neither its own nor declared related",
            "EU AI Act Art. 5(1)(c)(i); GDPR Art. 5(1)(b)",
        ),
        Code(
            "redemption.no_expiry",
            Level.ERROR,
            "a rule that can lower a score has no expires_after",
            "FCRA §605; GDPR Art. 5(1)(e)",
        ),
        Code(
            "redemption.too_long",
            Level.ERROR,
            "a negative record counts longer than its severity or the policy's "
            "max_retention allows",
            "FCRA §605; GDPR Art. 5(1)(e)",
        ),
        Code(
            "process.no_legal_basis",
            Level.ERROR,
            "a restriction names no legal basis",
            "EU Charter Art. 52(1); GDPR Art. 6",
        ),
        Code(
            "process.notice_too_short",
            Level.ERROR,
            f"a restriction gives less than {MIN_NOTICE_DAYS} days' notice, or none",
            "FCRA §615; GDPR Art. 22(3)",
        ),
        Code(
            "process.no_max_duration",
            Level.ERROR,
            "a restriction has no max_duration",
            "EU AI Act Art. 5(1)(c)(ii); EU Charter Art. 52(1)",
        ),
        Code(
            "process.duration_too_long",
            Level.ERROR,
            "a restriction may last longer than the policy's max_retention",
            "EU AI Act Art. 5(1)(c)(ii); EU Charter Art. 52(1)",
        ),
        Code(
            "process.single_minor",
            Level.ERROR,
            "a restriction can be triggered by a single minor record",
            "EU AI Act Art. 5(1)(c)(ii) (proportionality)",
        ),
        Code(
            "process.restricts_everyone",
            Level.ERROR,
            "a restriction holds for a subject with no records at all",
            "EU AI Act Art. 5(1)(c)(ii); presumption of good standing",
        ),
        Code(
            "process.no_reason",
            Level.WARNING,
            "a restriction or list of persons has no plain-language reason",
            "GDPR Art. 22(3); FCRA §615",
        ),
        Code(
            "list.public_person",
            Level.ERROR,
            "a list that can hold persons is public",
            "ICCPR Art. 17 (honour and reputation); GDPR Art. 5(1)(c)",
        ),
        Code(
            "protected.characteristic",
            Level.WARNING,
            "uses a characteristic protected against discrimination (age, sex, "
            "marital status, postcode)",
            "EU Charter Art. 21; ECOA 15 U.S.C. §1691(a)",
        ),
        Code(
            "credit.prohibited_basis",
            Level.ERROR,
            "decides credit by sex or marital status",
            "ECOA 15 U.S.C. §1691(a)(1); Regulation B 12 CFR §1002.6(b)(1), (b)(8)",
        ),
        Code(
            "credit.age",
            Level.ERROR,
            "decides credit by age and gives a bin of applicants aged 62 or more fewer "
            "points than a younger bin",
            "ECOA 15 U.S.C. §1691(b)(3); Regulation B 12 CFR §1002.6(b)(2)(ii)",
        ),
        Code(
            "privacy.private_life",
            Level.WARNING,
            "scores private life or lawful lifestyle choices (purchases, pastimes, donations)",
            "ICCPR Art. 17; GDPR Art. 5(1)(c); EU AI Act Art. 5(1)(c)",
        ),
    )
}


@dataclass(frozen=True)
class Diagnostic:
    """One finding of the linter, located by path (and line when the source is known)."""

    code: str
    message: str
    path: Path
    element: str
    line: int | None = None
    fix: str | None = None
    law: str = ""
    justification: str | None = None
    origin: str = "<policy>"
    level: Level = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", CODES[self.code].level)
        if not self.law:
            object.__setattr__(self, "law", CODES[self.code].law)

    @property
    def is_error(self) -> bool:
        """Whether this finding refuses the policy."""
        return self.level is Level.ERROR

    @property
    def justified(self) -> bool:
        """Whether this is a warning the policy justifies in writing."""
        return self.level is Level.WARNING and self.justification is not None

    @property
    def status(self) -> str:
        """``error``, ``warning``, or ``justified``."""
        return "justified" if self.justified else self.level.value

    def format(self, origin: str | None = None) -> str:
        """``origin:line: severity code: message (fix)`` on one line."""
        origin = origin or self.origin
        where = f"{origin}:{self.line}" if self.line else origin
        text = f"{where}: {self.status} {self.code}: {self.message}"
        if self.justified:
            return f"{text} (justified: {self.justification})"
        return f"{text} ({self.fix})" if self.fix else text

    def to_dict(self) -> dict[str, Any]:
        """The diagnostic as JSON-ready data."""
        return {
            "code": self.code,
            "severity": self.level.value,
            "status": self.status,
            "element": self.element,
            "path": dotted(self.path),
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
            "law": self.law,
            "justification": self.justification,
            "origin": self.origin,
        }


@dataclass(frozen=True)
class Finding:
    """A raw finding before it is located and judged against justifications."""

    code: str
    message: str
    path: Path
    fix: str | None = None
    law: str = ""


@dataclass(frozen=True)
class Element:
    """A named part of a policy the linter and the audit speak about."""

    section: str
    index: int | None
    kind: str
    id: str
    justifications: dict[str, str]

    @property
    def path(self) -> Path:
        """Where the element starts, e.g. ``("rules", 3)``."""
        return (self.section,) if self.index is None else (self.section, self.index)

    @property
    def name(self) -> str:
        """``rule bill_late``."""
        return f"{self.kind} {self.id}"


def elements(policy: Policy) -> list[Element]:
    """Every element of a policy the safeguards judge, in document order."""
    out = [Element("policy", None, "policy", policy.name, policy.justifications)]
    sections: Sequence[tuple[str, str, Sequence[Any]]] = (
        ("dimensions", "dimension", policy.dimensions),
        ("event_types", "event type", policy.event_types),
        ("rules", "rule", policy.rules),
        ("entitlements", "", policy.entitlements),
        ("lists", "list", policy.lists),
    )
    for section, kind, items in sections:
        for index, item in enumerate(items):
            named = kind or str(item.kind.value)
            out.append(Element(section, index, named, item.id, dict(item.justifications)))
    return out
