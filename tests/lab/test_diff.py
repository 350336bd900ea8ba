"""The semantic diff names what changed by id, not by text."""

from __future__ import annotations

from credence.policy import parse_policy
from credence.policy.diff import ADDED, CHANGED, REMOVED, diff, summary
from credence.policy.model import Policy
from credence.service.setup import bundled_policy


def bundled(edits: list[tuple[str, str]] = (), extra: str = "") -> Policy:  # type: ignore[assignment]
    text = bundled_policy().read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return parse_policy(text + extra).policy


def test_a_policy_differs_from_itself_in_nothing_not_even_after_reformatting() -> None:
    assert diff(bundled(), bundled()) == []
    reformatted = bundled([("# Every benefit", "#   Every benefit")])
    assert diff(bundled(), reformatted) == []


def test_points_caps_expiries_tiers_and_entitlement_conditions_are_named() -> None:
    changed = bundled(
        [
            ("    points: 4\n", "    points: 5\n"),
            ("cap: {points: 40, per: year}", "cap: {points: 30, per: year}"),
            ("when: {tier_at_least: good}", "when: {tier_at_least: excellent}"),
            ("{id: good, min: 650,", "{id: good, min: 660,"),
        ],
        extra="\nchange_notice_days: 45\n",
    )
    found = {
        (c.kind, c.section, c.id, c.field): (c.before, c.after) for c in diff(bundled(), changed)
    }
    assert found[(CHANGED, "rules", "bill_on_time", "points")] == (4.0, 5.0)
    assert found[(CHANGED, "rules", "bill_on_time", "cap")] == (
        {"points": 40.0, "per": "year"},
        {"points": 30.0, "per": "year"},
    )
    assert found[(CHANGED, "entitlements", "deposit_free_rental", "when")] == (
        {"tier_at_least": "good"},
        {"tier_at_least": "excellent"},
    )
    assert found[(CHANGED, "tiers", "good", "min")] == (650.0, 660.0)
    assert found[(CHANGED, "policy", "change_notice_days", "change_notice_days")] == (30, 45)
    assert len(found) == 5
    assert summary(diff(bundled(), changed)) == {ADDED: 0, REMOVED: 0, CHANGED: 4}


def test_added_removed_and_reordered_rules() -> None:
    base = bundled()
    data = base.model_dump(mode="json", exclude_none=True)
    rules = data["rules"]
    first_bill = [r for r in rules if r["type"] == "bill.paid"]
    # Swap the first two bill.paid rules: first hit changes, so the order is a change.
    i, j = rules.index(first_bill[0]), rules.index(first_bill[1])
    rules[i], rules[j] = rules[j], rules[i]
    removed = rules.pop(next(k for k, r in enumerate(rules) if r["id"] == "rent_late"))
    rules.append({**removed, "id": "rent_very_late"})
    other = Policy.model_validate(data)
    changes = diff(base, other)
    kinds = {(c.kind, c.id, c.field) for c in changes}
    assert (REMOVED, "rent_late", None) in kinds
    assert (ADDED, "rent_very_late", None) in kinds
    assert (CHANGED, first_bill[0]["id"], "order") in kinds
    assert (CHANGED, first_bill[1]["id"], "order") in kinds
    assert all(c.describe() for c in changes)
