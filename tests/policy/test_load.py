"""Loading policies: every problem found at once, each at its line, with a fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from credence.errors import PolicyError, PolicyNotFound
from credence.policy import load_policy, parse_policy
from credence.policy.schema import policy_json_schema

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "policies").glob("*.yaml"))

GOOD = """\
credence: 1
name: small
version: "1"
purpose: Tests.
scale: {base: 500, min: 0, max: 1000}
event_types:
  - id: bill.paid
    context: lending
    attributes: {days_late: integer}
    providers: [bank]
rules:
  - id: late
    type: bill.paid
    when: [{attr: days_late, op: ">", value: 30}]
    points: -10
    expires_after: 1y
    reason: Late bills
tiers:
  - {id: ok, min: 0}
"""


def problems(text: str) -> list[PolicyError]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, origin="p.yaml")
    return info.value.problems  # type: ignore[return-value]


def test_a_good_policy_loads():
    loaded = parse_policy(GOOD)
    assert loaded.policy.rules[0].id == "late" and len(loaded.digest) == 64


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_policy_loads_and_fits_the_published_schema(path):
    loaded = load_policy(path)
    jsonschema.validate(yaml.safe_load(loaded.source), policy_json_schema())


def test_unknown_attribute_points_at_its_line_and_suggests_the_name():
    [problem] = problems(GOOD.replace("attr: days_late", "attr: days_lat"))
    assert problem.line == 14 and problem.path == "p.yaml"
    assert "unknown attribute 'days_lat'" in problem.message
    assert problem.suggestion == "did you mean `days_late`?"


def test_unknown_event_type_suggests_the_closest():
    [problem] = problems(GOOD.replace("    type: bill.paid", "    type: bill.payd"))
    assert problem.line == 13 and problem.suggestion == "did you mean `bill.paid`?"


def test_unknown_key_suggests_the_closest():
    [problem] = problems(GOOD.replace("expires_after: 1y", "expire_after: 1y"))
    assert "unknown key 'expire_after'" in problem.message and problem.line == 16
    assert problem.suggestion == "did you mean `expires_after`?"


def test_a_negative_rule_must_expire():
    [problem] = problems(GOOD.replace("    expires_after: 1y\n", ""))
    assert "no expires_after" in problem.message and problem.line == 15


def test_every_problem_is_reported_at_once():
    text = GOOD.replace("attr: days_late", "attr: nope").replace("min: 0}", "min: 10}")
    found = problems(text)
    assert [p.line for p in found] == [14, 19]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (("expires_after: 1y", "expires_after: 1m"), "expires_after"),
        (("points: -10", "points: lots"), "points"),
        (("credence: 1", "credence: 2"), "credence"),
        (("value: 30}", "value: [30]}"), "single value"),
        (('op: ">"', 'op: "~"'), "op"),
    ],
)
def test_shape_errors_are_located(change, needle):
    found = problems(GOOD.replace(*change))
    assert found and needle in found[0].message and found[0].line is not None


def test_yaml_syntax_errors_carry_the_line():
    with pytest.raises(PolicyError) as info:
        parse_policy(GOOD + "rules: [\n", origin="p.yaml")
    assert info.value.line is not None and "YAML" in info.value.message


def test_missing_file():
    with pytest.raises(PolicyNotFound):
        load_policy(Path("/nonexistent/policy.yaml"))


def test_tiers_must_cover_the_scale_and_descend():
    text = GOOD.replace("  - {id: ok, min: 0}", "  - {id: a, min: 10}\n  - {id: b, min: 20}")
    messages = [p.message for p in problems(text)]
    assert any("strictly decreasing" in m for m in messages)
    assert any("would have no tier" in m for m in messages)


def test_entitlement_references_are_checked():
    text = GOOD + textwrap.dedent(
        """\
        entitlements:
          - id: perk
            kind: benefit
            context: lending
            when: {any: [{tier_at_least: okk}, {dimension: nope, below: 1}, {on_list: vip}]}
        """
    )
    messages = [(p.message, p.suggestion) for p in problems(text)]
    assert (
        "entitlements[0].when.any[0].tier_at_least: unknown tier 'okk'",
        "did you mean `ok`?",
    ) in messages
    assert len(messages) == 3


def test_positive_points_into_a_negative_weight_must_expire():
    text = GOOD.replace(
        "event_types:", "dimensions:\n  - {id: complaints, weight: -1.5}\nevent_types:"
    ).replace(
        "    points: -10\n    expires_after: 1y\n", "    points: 10\n    dimension: complaints\n"
    )
    [problem] = problems(text)
    assert "no expires_after" in problem.message and "weight is -1.5" in problem.message
    assert problem.line == 17
