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

from collections.abc import Iterator, Sequence
from typing import Any

from credence.policy.diagnostics import (
    CODES,
    LONGEST_RETENTION,
    SEVERITY_WINDOWS,
    Diagnostic,
    Finding,
    Level,
    Path,
    elements,
)
from credence.policy.fair_lending import fair_lending_findings
from credence.policy.load import SourceMap
from credence.policy.model import Policy, Rule
from credence.policy.purpose import entitlement_findings, retention
from credence.policy.vocabulary import Vocabulary, default_vocabulary
from credence.types import format_duration, parse_duration

__all__ = ["CODES", "Diagnostic", "Level", "lint", "lint_errors"]


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
        *entitlement_findings(policy),
        *_list_findings(policy),
        *fair_lending_findings(policy),
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
        for path, text in fields(at, rule, ("id", "description", "reason", "per", "group")):
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


def _vocabulary_findings(policy: Policy, vocab: Vocabulary) -> list[Finding]:
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
            Finding(
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


def _sensitive_findings(policy: Policy) -> list[Finding]:
    return [
        Finding(
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


def _inherited_findings(policy: Policy, found: list[Finding]) -> list[Finding]:
    """A rule scoring a refused event type is refused for the same reason."""
    refused: dict[str, dict[str, Finding]] = {}  # first error per code, attributes apart
    own: set[tuple[Path, str]] = set()
    for finding in found:
        element_path = _element_path(finding.path)
        own.add((element_path, finding.code))
        if element_path[0] == "event_types" and CODES[finding.code].level is Level.ERROR:
            event_id = policy.event_types[int(element_path[1])].id
            key = finding.code
            if _attribute(finding.path) is not None:
                key = f"{finding.code} {_attribute(finding.path)}"
            refused.setdefault(event_id, {}).setdefault(key, finding)
    inherited = []
    for i, rule in enumerate(policy.rules):
        for finding in refused.get(rule.type, {}).values():
            code = finding.code
            if (("rules", i), code) in own or not _reads(rule, finding.path):
                continue
            inherited.append(
                Finding(
                    code,
                    f"rule `{rule.id}` scores records of event type `{rule.type}`, which is "
                    f"refused: {finding.message}",
                    ("rules", i, "type"),
                    "remove the rule with its event type",
                    finding.law,
                )
            )
    return inherited


def _attribute(path: Path) -> str | None:
    """The attribute a finding on an event type is about, if it is about one."""
    if len(path) >= 4 and path[2] == "attributes":
        return str(path[3])
    return None


def _reads(rule: Rule, path: Path) -> bool:
    """Whether a rule depends on what an event-type finding is about.

    A finding on one attribute (a scorecard's characteristic) refuses the
    rules that read it, not every rule of the type; any other finding on the
    event type refuses them all.
    """
    attr = _attribute(path)
    return attr is None or rule.per == attr or any(c.attr == attr for c in rule.when)


# -- redemption ------------------------------------------------------------------------------


def _redemption_findings(policy: Policy) -> list[Finding]:
    findings = []
    longest = retention(policy)
    if longest > LONGEST_RETENTION:
        findings.append(
            Finding(
                "redemption.too_long",
                f"max_retention {policy.max_retention} is longer than the "
                f"{format_duration(LONGEST_RETENTION)} any record may count",
                ("max_retention",),
                "set max_retention to 7y or less",
            )
        )
    for i, rule in enumerate(policy.rules):
        lowers = policy.lowers_because(rule)
        if lowers is None:
            continue
        at: Path = ("rules", i)
        if rule.expires_after is None:
            findings.append(
                Finding(
                    "redemption.no_expiry",
                    f"rule `{rule.id}` can lower a score ({lowers}) but never expires",
                    at,
                    "add e.g. `expires_after: 2y`",
                )
            )
            continue
        expiry = parse_duration(rule.expires_after)
        limit = min(longest, LONGEST_RETENTION)
        if expiry > limit:
            findings.append(
                Finding(
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
                Finding(
                    "redemption.too_long",
                    f"rule `{rule.id}` is {rule.severity.value} but counts for "
                    f"{rule.expires_after}; {rule.severity.value} records expire within {window}",
                    (*at, "expires_after"),
                    f"set expires_after to {window} or less, or reclassify its severity",
                )
            )
    return findings


# -- lists -------------------------------------------------------------------------------------


def _list_findings(policy: Policy) -> list[Finding]:
    findings = []
    for i, lst in enumerate(policy.lists):
        persons = "person" in lst.subject_kinds
        if lst.public and persons:
            findings.append(
                Finding(
                    "list.public_person",
                    f"list `{lst.id}` is public and can hold persons",
                    ("lists", i, "public"),
                    "make it `public: false`, or limit it to `subject_kinds: [organization]`",
                )
            )
        if persons and not (lst.reason or "").strip():
            findings.append(
                Finding(
                    "process.no_reason",
                    f"list `{lst.id}` can hold persons but has no plain-language reason",
                    ("lists", i),
                    "add `reason:` saying what puts a subject on it",
                )
            )
    return findings
