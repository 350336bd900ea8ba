"""A semantic diff of two policy versions: what was added, removed or changed, by id.

Not a text diff: reordering YAML keys or comments changes nothing, while
moving a rule ahead of another of the same event type does (first hit wins),
and is reported as a change of the rule's ``order``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from credence.policy.model import Policy

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
# The parts compared item by item, and the fields of each that matter.
SECTIONS: dict[str, tuple[str, ...]] = {
    "dimensions": ("weight", "min", "max"),
    "event_types": ("context", "attributes", "providers"),
    "rules": (
        "type",
        "when",
        "points",
        "per",
        "dimension",
        "half_life",
        "expires_after",
        "cap",
        "cured_by",
        "min_period",
        "severity",
        "reason",
    ),
    "tiers": ("min",),
    "entitlements": (
        "kind",
        "context",
        "related_contexts",
        "when",
        "notice_days",
        "max_duration",
        "legal_basis",
        "reason",
    ),
    "lists": ("kind", "when", "subject_kinds", "public"),
}
TOP_LEVEL = ("scale", "max_retention", "change_notice_days", "fairness_justification")


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: a whole item added or removed, or one field of it changed."""

    kind: str  # added | removed | changed
    section: str  # rules, tiers, entitlements, ... or "policy" for top-level fields
    id: str
    field: str | None = None
    before: Any = None
    after: Any = None

    def describe(self) -> str:
        """The change in one line."""
        where = f"{self.section} {self.id}" if self.section != "policy" else self.id
        if self.kind == ADDED:
            return f"+ {where}: {render(self.after)}"
        if self.kind == REMOVED:
            return f"- {where}: {render(self.before)}"
        return f"~ {where}.{self.field}: {render(self.before)} -> {render(self.after)}"

    def to_dict(self) -> dict[str, Any]:
        """The change as JSON-ready data."""
        return {
            "kind": self.kind,
            "section": self.section,
            "id": self.id,
            "field": self.field,
            "before": self.before,
            "after": self.after,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return getattr(value, "value", value)


def render(value: Any) -> str:
    """A compact, stable rendering of a field's value."""
    if value is None:
        return "none"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    return str(value)


def _items(policy: Policy, section: str) -> dict[str, Any]:
    return {item.id: item for item in getattr(policy, section)}


def _rule_order(policy: Policy) -> dict[str, int]:
    # A rule's position among the rules of its own event type: what first hit depends on.
    seen: dict[str, int] = {}
    order = {}
    for rule in policy.rules:
        order[rule.id] = seen.get(rule.type, 0)
        seen[rule.type] = order[rule.id] + 1
    return order


def diff(a: Policy, b: Policy) -> list[Change]:
    """Every semantic difference from ``a`` to ``b``, section by section in policy order."""
    changes: list[Change] = []
    for name in TOP_LEVEL:
        before, after = _plain(getattr(a, name)), _plain(getattr(b, name))
        if before != after:
            changes.append(Change(CHANGED, "policy", name, name, before, after))
    for section, fields in SECTIONS.items():
        old, new = _items(a, section), _items(b, section)
        for item_id, item in old.items():
            if item_id not in new:
                changes.append(Change(REMOVED, section, item_id, before=_plain(item)))
        for item_id, item in new.items():
            if item_id not in old:
                changes.append(Change(ADDED, section, item_id, after=_plain(item)))
                continue
            for name in fields:
                before, after = _plain(getattr(old[item_id], name)), _plain(getattr(item, name))
                if before != after:
                    changes.append(Change(CHANGED, section, item_id, name, before, after))
        if section == "rules":
            first, second = _rule_order(a), _rule_order(b)
            for rule_id, position in second.items():
                if rule_id in first and first[rule_id] != position:
                    changes.append(
                        Change(CHANGED, "rules", rule_id, "order", first[rule_id], position)
                    )
    return changes


def summary(changes: Sequence[Change]) -> dict[str, int]:
    """How many items were added, removed and changed."""
    return {
        ADDED: sum(c.kind == ADDED for c in changes),
        REMOVED: sum(c.kind == REMOVED for c in changes),
        CHANGED: len({(c.section, c.id) for c in changes if c.kind == CHANGED}),
    }
