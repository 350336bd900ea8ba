"""The safeguard linter: what a lawful trust-scoring policy may not contain.

``lint`` checks a loaded policy against the invariants of DESIGN.md that a
policy alone can break: protected categories and their proxies, other
people's conduct, purpose binding, redemption, due process and
proportionality, public lists of persons, and mass-surveillance inputs.
Each finding is a ``Diagnostic`` with a stable code. An error refuses the
policy (``credence init`` and activation call ``lint_errors``); a warning is
accepted once the policy carries a written justification for that code on
the element (``justifications: {code: text}``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from credence.policy.load import SourceMap, dotted
from credence.policy.model import (
    GENERAL_DIMENSION,
    EntitlementCondition,
    EntitlementKind,
    Policy,
    Rule,
    RuleSeverity,
)
from credence.policy.vocabulary import Vocabulary, default_vocabulary
from credence.types import format_duration, parse_duration

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
class _Finding:
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


def lint(
    policy: Policy,
    *,
    source_map: SourceMap | None = None,
    origin: str = "<policy>",
    vocabulary: Vocabulary | None = None,
) -> list[Diagnostic]:
    """Every safeguard finding in a policy, element by element in document order.

    ``source_map`` (from the policy's text) adds line numbers; ``origin`` names the file.
    """
    vocab = vocabulary or default_vocabulary()
    inputs = [*_vocabulary_findings(policy, vocab), *_sensitive_findings(policy)]
    findings = [
        *inputs,
        *_inherited_findings(policy, inputs),
        *_redemption_findings(policy),
        *_entitlement_findings(policy),
        *_list_findings(policy),
    ]
    by_path = {e.path: e for e in elements(policy)}
    diagnostics = []
    for finding in findings:
        element = by_path[_element_path(finding.path)]
        justification = element.justifications.get(finding.code)
        diagnostics.append(
            Diagnostic(
                code=finding.code,
                message=finding.message,
                path=finding.path,
                element=element.name,
                line=source_map.line(finding.path) if source_map else None,
                fix=finding.fix,
                law=finding.law,
                justification=justification if CODES[finding.code].level is Level.WARNING else None,
                origin=origin,
            )
        )
    order = {e.path: i for i, e in enumerate(by_path.values())}
    return sorted(diagnostics, key=lambda d: (order[_element_path(d.path)], d.line or 0))


def lint_errors(
    policy: Policy, *, source_map: SourceMap | None = None, origin: str = "<policy>"
) -> list[Diagnostic]:
    """The findings that refuse a policy; ``credence init`` and activation refuse on any."""
    return [d for d in lint(policy, source_map=source_map, origin=origin) if d.is_error]


_SECTIONS = ("dimensions", "event_types", "rules", "entitlements", "lists")


def _element_path(path: Path) -> Path:
    if path and path[0] in _SECTIONS and len(path) >= 2:
        return path[:2]
    return ("policy",)


# -- protected categories, proxies, other people, surveillance ------------------------------


def _texts(policy: Policy) -> Iterator[tuple[Path, str, bool]]:
    """Every id, name and text that declares meaning: (path, text, is an event type)."""

    def fields(at: Path, item: Any, names: Sequence[str]) -> Iterator[tuple[Path, str]]:
        for name in names:
            value = getattr(item, name)
            if isinstance(value, str):
                yield (*at, name), value
            elif isinstance(value, list):
                yield from (((*at, name, i), str(v)) for i, v in enumerate(value))

    for i, dim in enumerate(policy.dimensions):
        for path, text in fields(("dimensions", i), dim, ("id", "label", "description")):
            yield path, text, False
    for i, event in enumerate(policy.event_types):
        at: Path = ("event_types", i)
        for path, text in fields(at, event, ("id", "label", "description", "context", "providers")):
            yield path, text, True
        for attr, spec in event.attributes.items():
            yield (*at, "attributes", attr), attr, True
            if spec.description:
                yield (*at, "attributes", attr, "description"), spec.description, True
    for i, rule in enumerate(policy.rules):
        at = ("rules", i)
        for path, text in fields(at, rule, ("id", "description", "reason", "per")):
            yield path, text, False
        for c, condition in enumerate(rule.when):
            yield (*at, "when", c, "attr"), condition.attr, False
            values = condition.value if isinstance(condition.value, list) else [condition.value]
            for value in values:
                if isinstance(value, str):
                    yield (*at, "when", c, "value"), value, False
    for i, ent in enumerate(policy.entitlements):
        ent_fields = ("id", "label", "description", "reason", "context", "related_contexts")
        for path, text in fields(("entitlements", i), ent, ent_fields):
            yield path, text, False
    for i, lst in enumerate(policy.lists):
        for path, text in fields(("lists", i), lst, ("id", "label", "description", "reason")):
            yield path, text, False


_FIXES = {
    "protected.category": "remove it: no rule, feature or entitlement may depend on this",
    "protected.proxy": "remove it: this stands in for protected categories",
    "conduct.others": "score only the subject's own conduct, and apply outcomes only to the subject",
    "surveillance.input": "take records only from accountable providers with evidence",
    "protected.characteristic": "remove it, or add `justifications: {protected.characteristic: ...}`",
    "privacy.private_life": "remove it, or add `justifications: {privacy.private_life: ...}`",
}


def _vocabulary_findings(policy: Policy, vocab: Vocabulary) -> list[_Finding]:
    seen: dict[tuple[Path, str], tuple[Path, list[str], str, str]] = {}
    for path, text, is_event in _texts(policy):
        for match in vocab.find(text, event_type=is_event):
            key = (_element_path(path), match.category.name)
            if key not in seen:
                seen[key] = (path, [], match.category.code, match.category.law)
            words = seen[key][1]
            if match.words not in words:
                words.append(match.words)
    categories = {c.name: c for c in vocab.categories}
    findings = []
    for (element_path, name), (path, words, code, law) in seen.items():
        quoted = ", ".join(f"“{w}”" for w in words[:4])
        what = _what(policy, element_path)
        findings.append(
            _Finding(
                code,
                f"{what} concerns {categories[name].label} ({quoted})",
                path,
                _FIXES.get(code),
                law,
            )
        )
    return findings


def _what(policy: Policy, element_path: Path) -> str:
    if len(element_path) < 2:
        return f"policy `{policy.name}`"
    section, index = element_path[0], element_path[1]
    item = getattr(policy, str(section))[index]
    kind = {
        "dimensions": "dimension",
        "event_types": "event type",
        "rules": "rule",
        "lists": "list",
    }.get(str(section)) or str(item.kind.value)
    return f"{kind} `{item.id}`"


def _sensitive_findings(policy: Policy) -> list[_Finding]:
    return [
        _Finding(
            "protected.sensitive",
            f"attribute `{attr}` of event type `{event.id}` is marked sensitive: "
            "it may reveal a protected category",
            ("event_types", i, "attributes", attr),
            "remove the attribute and every rule that uses it",
        )
        for i, event in enumerate(policy.event_types)
        for attr, spec in event.attributes.items()
        if spec.sensitive
    ]


def _inherited_findings(policy: Policy, found: list[_Finding]) -> list[_Finding]:
    """A rule scoring a refused event type is refused for the same reason."""
    refused: dict[str, dict[str, _Finding]] = {}
    own: set[tuple[Path, str]] = set()
    for finding in found:
        element_path = _element_path(finding.path)
        own.add((element_path, finding.code))
        if element_path[0] == "event_types" and CODES[finding.code].level is Level.ERROR:
            event_id = policy.event_types[int(element_path[1])].id
            refused.setdefault(event_id, {}).setdefault(finding.code, finding)
    inherited = []
    for i, rule in enumerate(policy.rules):
        for code, finding in refused.get(rule.type, {}).items():
            if (("rules", i), code) in own:
                continue
            inherited.append(
                _Finding(
                    code,
                    f"rule `{rule.id}` scores records of event type `{rule.type}`, which is "
                    f"refused: {finding.message}",
                    ("rules", i, "type"),
                    "remove the rule with its event type",
                    finding.law,
                )
            )
    return inherited


# -- redemption ------------------------------------------------------------------------------


def _retention(policy: Policy) -> int:
    return parse_duration(policy.max_retention)


def _redemption_findings(policy: Policy) -> list[_Finding]:
    findings = []
    retention = _retention(policy)
    if retention > LONGEST_RETENTION:
        findings.append(
            _Finding(
                "redemption.too_long",
                f"max_retention {policy.max_retention} is longer than the "
                f"{format_duration(LONGEST_RETENTION)} any record may count",
                ("max_retention",),
                "set max_retention to 7y or less",
            )
        )
    for i, rule in enumerate(policy.rules):
        if not rule.can_lower:
            continue
        at: Path = ("rules", i)
        if rule.expires_after is None:
            findings.append(
                _Finding(
                    "redemption.no_expiry",
                    f"rule `{rule.id}` can lower a score but never expires",
                    at,
                    "add e.g. `expires_after: 2y`",
                )
            )
            continue
        expiry = parse_duration(rule.expires_after)
        limit = min(retention, LONGEST_RETENTION)
        if expiry > limit:
            findings.append(
                _Finding(
                    "redemption.too_long",
                    f"rule `{rule.id}` counts for {rule.expires_after}, longer than the "
                    f"policy's max_retention {format_duration(limit)}",
                    (*at, "expires_after"),
                    f"set expires_after to {format_duration(limit)} or less",
                )
            )
        elif rule.severity is not None and expiry > SEVERITY_WINDOWS[rule.severity]:
            window = format_duration(SEVERITY_WINDOWS[rule.severity])
            findings.append(
                _Finding(
                    "redemption.too_long",
                    f"rule `{rule.id}` is {rule.severity.value} but counts for "
                    f"{rule.expires_after}; {rule.severity.value} records expire within {window}",
                    (*at, "expires_after"),
                    f"set expires_after to {window} or less, or reclassify its severity",
                )
            )
    return findings


def implied_severity(rule: Rule) -> RuleSeverity | None:
    """A negative rule's severity: declared, or implied by its expiry (≤90d minor, ≤1y general)."""
    if rule.severity is not None or not rule.can_lower:
        return rule.severity
    if rule.expires_after is None:
        return RuleSeverity.SERIOUS
    expiry = parse_duration(rule.expires_after)
    for severity in (RuleSeverity.MINOR, RuleSeverity.GENERAL):
        if expiry <= SEVERITY_WINDOWS[severity]:
            return severity
    return RuleSeverity.SERIOUS


# -- purpose binding, due process, proportionality ----------------------------------------


def feeding_rules(
    condition: EntitlementCondition, policy: Policy, *, seen: frozenset[str] = frozenset()
) -> list[Rule]:
    """The rules whose records can change whether ``condition`` holds, in policy order."""
    weights = {d.id: d.weight for d in policy.dimensions} | {GENERAL_DIMENSION: 1.0}
    chosen: set[str] = set()

    def visit(cond: EntitlementCondition, seen_lists: frozenset[str]) -> None:
        if cond.dimension is not None:
            chosen.update(r.id for r in policy.rules if _dim(r) == cond.dimension)
        if (
            cond.tier_at_least is not None
            or cond.score_below is not None
            or cond.score_at_least is not None
        ):
            chosen.update(r.id for r in policy.rules if weights.get(_dim(r), 0.0) != 0.0)
        if cond.on_list is not None and cond.on_list not in seen_lists:
            lst = next((x for x in policy.lists if x.id == cond.on_list), None)
            if lst is not None:
                visit(lst.when, seen_lists | {cond.on_list})
        for child in (cond.all or []) + (cond.any or []):
            visit(child, seen_lists)

    visit(condition, seen)
    return [r for r in policy.rules if r.id in chosen]


def _dim(rule: Rule) -> str:
    return rule.dimension or GENERAL_DIMENSION


def _entitlement_findings(policy: Policy) -> list[_Finding]:
    findings: list[_Finding] = []
    retention = _retention(policy)
    contexts = {e.id: e.context for e in policy.event_types}
    for i, ent in enumerate(policy.entitlements):
        at: Path = ("entitlements", i)
        what = f"{ent.kind.value} `{ent.id}`"
        allowed = {ent.context, *ent.related_contexts}
        unrelated: dict[str, list[str]] = {}
        for rule in feeding_rules(ent.when, policy):
            context = contexts.get(rule.type)
            if context is not None and context not in allowed:
                unrelated.setdefault(context, []).append(rule.id)
        if unrelated:
            listed = "; ".join(
                f"{c} ({', '.join(f'`{r}`' for r in rules[:3])}{', …' if len(rules) > 3 else ''})"
                for c, rules in sorted(unrelated.items())
            )
            findings.append(
                _Finding(
                    "purpose.unrelated",
                    f"{what} (context {ent.context}) can be triggered by records of "
                    f"unrelated contexts: {listed}",
                    (*at, "when"),
                    f"test a dimension fed only by {ent.context} records, or declare a "
                    "context in related_contexts only if it truly bears on this one",
                )
            )
        if ent.kind is not EntitlementKind.RESTRICTION:
            continue
        if not (ent.legal_basis or "").strip():
            findings.append(
                _Finding(
                    "process.no_legal_basis",
                    f"{what} names no legal basis",
                    at,
                    "add `legal_basis:` citing the law or contract term that allows it",
                )
            )
        if ent.notice_days is None or ent.notice_days < MIN_NOTICE_DAYS:
            given = (
                "gives no notice"
                if ent.notice_days is None
                else (f"gives {ent.notice_days} days' notice")
            )
            findings.append(
                _Finding(
                    "process.notice_too_short",
                    f"{what} {given}; the subject must have at least {MIN_NOTICE_DAYS} days",
                    (*at, "notice_days") if ent.notice_days is not None else at,
                    f"set `notice_days: {max(MIN_NOTICE_DAYS, 14)}` or more",
                )
            )
        if ent.max_duration is None:
            findings.append(
                _Finding(
                    "process.no_max_duration",
                    f"{what} has no max_duration: it could last indefinitely",
                    at,
                    "add e.g. `max_duration: 1y`",
                )
            )
        elif parse_duration(ent.max_duration) > retention:
            findings.append(
                _Finding(
                    "process.duration_too_long",
                    f"{what} may last {ent.max_duration}, longer than the policy's "
                    f"max_retention {policy.max_retention}",
                    (*at, "max_duration"),
                    f"set max_duration to {policy.max_retention} or less",
                )
            )
        findings += _proportionality(policy, ent.when, at, what)
        if not (ent.reason or "").strip():
            findings.append(
                _Finding(
                    "process.no_reason",
                    f"{what} has no plain-language reason for the subject",
                    at,
                    "add `reason:` saying what the subject did, in plain words",
                )
            )
    return findings


@dataclass(frozen=True)
class _State:
    score: float
    dimensions: dict[str, float]


def _state(policy: Policy, contributions: dict[str, float]) -> _State:
    dims: dict[str, float] = {}
    total = policy.scale.base
    declared = {d.id: d for d in policy.dimensions}
    for dim_id in [*declared, GENERAL_DIMENSION]:
        value = contributions.get(dim_id, 0.0)
        dim = declared.get(dim_id)
        weight = dim.weight if dim else 1.0
        if dim is not None:
            value = max(value, dim.min) if dim.min is not None else value
            value = min(value, dim.max) if dim.max is not None else value
        dims[dim_id] = value
        if weight != 0.0:
            total += weight * value
    if math.isnan(total):
        total = policy.scale.min
    score = min(max(total, policy.scale.min), policy.scale.max)
    return _State(float(math.floor(score + 0.5)), dims)


def _holds(cond: EntitlementCondition, state: _State, policy: Policy, seen: frozenset[str]) -> bool:
    if cond.tier_at_least is not None:
        tier = next((t for t in policy.tiers if t.id == cond.tier_at_least), None)
        return tier is not None and state.score >= tier.min
    if cond.score_below is not None:
        return state.score < cond.score_below
    if cond.score_at_least is not None:
        return state.score >= cond.score_at_least
    if cond.dimension is not None:
        value = state.dimensions.get(cond.dimension, 0.0)
        return value < cond.below if cond.below is not None else value >= (cond.at_least or 0.0)
    if cond.on_list is not None:
        lst = next((x for x in policy.lists if x.id == cond.on_list), None)
        if lst is None or cond.on_list in seen:
            return False
        return _holds(lst.when, state, policy, seen | {cond.on_list})
    if cond.all is not None:
        return all(_holds(c, state, policy, seen) for c in cond.all)
    return any(_holds(c, state, policy, seen) for c in cond.any or [])


def _one_record(rule: Rule) -> float:
    """The most a single record of a negative rule can take away."""
    magnitude = math.inf if rule.per is not None else abs(rule.points)
    if rule.cap is not None:
        magnitude = min(magnitude, abs(rule.cap.points))
    return -magnitude


def _proportionality(
    policy: Policy, cond: EntitlementCondition, at: Path, what: str
) -> list[_Finding]:
    if _holds(cond, _state(policy, {}), policy, frozenset()):
        return [
            _Finding(
                "process.restricts_everyone",
                f"{what} already holds for a subject with no records",
                (*at, "when"),
                "restrict only on adverse records: lower the threshold below the base score",
            )
        ]
    minor = [r for r in policy.rules if implied_severity(r) is RuleSeverity.MINOR]
    for rule in minor:
        state = _state(policy, {_dim(rule): _one_record(rule)})
        if _holds(cond, state, policy, frozenset()):
            return [
                _Finding(
                    "process.single_minor",
                    f"{what} can be triggered by a single minor record (`{rule.id}`)",
                    (*at, "when"),
                    "require repeated or serious conduct, e.g. a lower threshold",
                )
            ]
    return []


# -- lists -------------------------------------------------------------------------------------


def _list_findings(policy: Policy) -> list[_Finding]:
    findings = []
    for i, lst in enumerate(policy.lists):
        persons = "person" in lst.subject_kinds
        if lst.public and persons:
            findings.append(
                _Finding(
                    "list.public_person",
                    f"list `{lst.id}` is public and can hold persons",
                    ("lists", i, "public"),
                    "make it `public: false`, or limit it to `subject_kinds: [organization]`",
                )
            )
        if persons and not (lst.reason or "").strip():
            findings.append(
                _Finding(
                    "process.no_reason",
                    f"list `{lst.id}` can hold persons but has no plain-language reason",
                    ("lists", i),
                    "add `reason:` saying what puts a subject on it",
                )
            )
    return findings
