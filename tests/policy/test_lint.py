"""The safeguard linter: every code, its line, justifications, and the bundled examples."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from credence.policy.lint import CODES, Level, lint, lint_errors
from credence.policy.load import SourceMap, load_policy, parse_policy
from credence.policy.model import Policy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"

BASE = """\
credence: 1
name: minimal
version: "1"
purpose: Lending decisions from payment records.
scale: {base: 600, min: 300, max: 900}
dimensions:
  - {id: payments, label: Payment history}
event_types:
  - id: bill.paid
    context: lending
    attributes: {days_late: integer}
    providers: [bank]
rules:
  - id: bill_late
    type: bill.paid
    when: [{attr: days_late, op: ">", value: 30}]
    points: -20
    dimension: payments
    expires_after: 1y
    reason: Bills paid more than 30 days late
tiers:
  - {id: good, min: 600}
  - {id: poor, min: 300}
entitlements:
  - id: credit_review
    kind: restriction
    context: lending
    when: {dimension: payments, below: -50}
    notice_days: 14
    max_duration: 1y
    legal_basis: Credit agreement §4
    reason: Repeated late bills
"""

Data = dict[str, Any]


def _data() -> Data:
    return copy.deepcopy(yaml.safe_load(BASE))


def _codes(data: Data) -> list[str]:
    policy = Policy.model_validate(data)  # no reference checks: lint must stand alone
    return [d.code for d in lint(policy)]


def _rule(data: Data) -> Data:
    rule: Data = data["rules"][0]
    return rule


def _restriction(data: Data) -> Data:
    ent: Data = data["entitlements"][0]
    return ent


def _set(getter: Callable[[Data], Data], key: str, value: Any) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        getter(data)[key] = value

    return apply


def _drop(getter: Callable[[Data], Data], key: str) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        del getter(data)[key]

    return apply


def _event(data: Data) -> Data:
    event: Data = data["event_types"][0]
    return event


def _add_list(public: bool) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        data["lists"] = [
            {
                "id": "late_payers",
                "kind": "blacklist",
                "when": {"dimension": "payments", "below": -50},
                "public": public,
                "reason": "Repeated late bills",
            }
        ]

    return apply


def _sensitive(data: Data) -> None:
    _event(data)["attributes"]["days_late"] = {"type": "integer", "sensitive": True}


def _marital_status(data: Data) -> None:
    _event(data)["attributes"]["marital_status"] = "string"
    _rule(data)["when"].append({"attr": "marital_status", "op": "==", "value": "single"})


def _elderly_penalised(data: Data) -> None:
    _event(data)["attributes"]["age"] = "integer"
    band = {"type": "bill.paid", "dimension": "payments", "expires_after": "1y", "group": "age"}
    _rules = data["rules"]
    _rules.append({"id": "age_young", **band, "points": 5, "reason": "Age under 40",
                   "when": [{"attr": "age", "op": "<", "value": 40}]})  # fmt: skip
    _rules.append({"id": "age_old", **band, "points": -5, "reason": "Age 40 or more",
                   "when": [{"attr": "age", "op": ">=", "value": 40}]})  # fmt: skip


def _minor_enough(data: Data) -> None:
    _rule(data).update(points=-60, severity="minor", expires_after="90d")


TRIGGERS: dict[str, Callable[[Data], None]] = {
    "protected.category": _set(_rule, "id", "attended_rally"),
    "protected.proxy": _set(_event, "providers", ["weibo-feed"]),
    "protected.sensitive": _sensitive,
    "conduct.others": _set(_rule, "reason", "Bills of relatives paid late"),
    "surveillance.input": _set(_event, "providers", ["cctv-network"]),
    "purpose.unrelated": _set(_restriction, "context", "housing"),
    "redemption.no_expiry": _drop(_rule, "expires_after"),
    "redemption.too_long": _set(_rule, "expires_after", "8y"),
    "process.no_legal_basis": _drop(_restriction, "legal_basis"),
    "process.notice_too_short": _set(_restriction, "notice_days", 3),
    "process.no_max_duration": _drop(_restriction, "max_duration"),
    "process.duration_too_long": _set(_restriction, "max_duration", "8y"),
    "process.single_minor": _minor_enough,
    "process.restricts_everyone": _set(_restriction, "when", {"score_below": 700}),
    "process.no_reason": _drop(_restriction, "reason"),
    "list.public_person": _add_list(public=True),
    "protected.characteristic": _set(_rule, "description", "Late bills by age band"),
    "privacy.private_life": _set(_rule, "description", "Also counts alcohol purchases"),
    "credit.prohibited_basis": _marital_status,
    "credit.age": _elderly_penalised,
}
# In a credit context the characteristic's own warning stays beside the error.
ALSO: dict[str, set[str]] = {
    "credit.prohibited_basis": {"protected.characteristic"},
    "credit.age": {"protected.characteristic"},
}


def test_the_minimal_policy_is_clean() -> None:
    assert _codes(_data()) == []


def test_every_code_has_a_trigger() -> None:
    assert set(TRIGGERS) == set(CODES)


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_code_is_triggered_by_a_minimal_policy(code: str) -> None:
    data = _data()
    TRIGGERS[code](data)
    assert set(_codes(data)) == {code} | ALSO.get(code, set())  # rules repeat their type's


def test_severity_windows_bound_expiry() -> None:
    data = _data()
    _rule(data).update(severity="minor", expires_after="1y")
    assert _codes(data) == ["redemption.too_long"]
    _rule(data).update(severity="general")
    assert _codes(data) == []


def test_max_retention_above_ten_years_is_refused() -> None:
    data = _data()
    data["max_retention"] = "11y"
    assert _codes(data) == ["redemption.too_long"]


def test_max_retention_lowers_the_limit() -> None:
    data = _data()
    data["max_retention"] = "6w"
    assert "redemption.too_long" in _codes(data)


def test_two_minor_records_may_trigger_a_restriction() -> None:
    data = _data()
    _rule(data).update(points=-30, severity="minor", expires_after="90d")
    assert _codes(data) == []


def test_an_expiry_of_ninety_days_or_less_implies_minor() -> None:
    data = _data()
    _rule(data).update(points=-60, expires_after="60d")
    assert _codes(data) == ["process.single_minor"]


def test_a_capped_per_attribute_rule_counts_its_cap() -> None:
    data = _data()
    _rule(data).update(
        per="days_late", points=-1, expires_after="30d", cap={"points": 40, "per": "month"}
    )
    assert _codes(data) == []
    _rule(data)["cap"] = {"points": 60, "per": "month"}
    assert _codes(data) == ["process.single_minor"]


def test_related_contexts_allow_other_contexts() -> None:
    data = _data()
    _restriction(data).update(context="housing", related_contexts=["lending"])
    assert _codes(data) == []


def test_purpose_follows_lists_recursively() -> None:
    data = _data()
    _add_list(public=False)(data)
    data["lists"].append(
        {"id": "watch", "kind": "blacklist", "when": {"on_list": "late_payers"}, "reason": "x"}
    )
    _restriction(data).update(context="housing", when={"on_list": "watch"})
    assert _codes(data) == ["purpose.unrelated"]


def test_a_score_test_draws_on_every_context() -> None:
    data = _data()
    data["event_types"].append(
        {"id": "rental.returned", "context": "rentals", "providers": ["shop"]}
    )
    data["rules"].append(
        {"id": "returned", "type": "rental.returned", "points": 3, "reason": "Returned"}
    )
    _restriction(data)["when"] = {"score_below": 450}
    diagnostics = lint(Policy.model_validate(data))
    assert [d.code for d in diagnostics] == ["purpose.unrelated"]
    assert "rentals (`returned`)" in diagnostics[0].message


def test_organisation_lists_may_be_public() -> None:
    data = _data()
    _add_list(public=True)(data)
    data["lists"][0]["subject_kinds"] = ["organization"]
    assert _codes(data) == []


def test_a_rule_on_a_refused_event_type_is_refused_too() -> None:
    data = _data()
    _event(data)["label"] = "Bills read from CCTV footage"
    diagnostics = lint(Policy.model_validate(data))
    assert [(d.element, d.code) for d in diagnostics] == [
        ("event type bill.paid", "surveillance.input"),
        ("rule bill_late", "surveillance.input"),
    ]


def test_justification_turns_a_warning_into_justified() -> None:
    data = _data()
    _rule(data)["description"] = "Late bills by age band"
    _rule(data)["justifications"] = {"protected.characteristic": "Age checks legal majority only."}
    [diagnostic] = lint(Policy.model_validate(data))
    assert diagnostic.level is Level.WARNING
    assert diagnostic.justified and diagnostic.status == "justified"
    assert diagnostic.justification == "Age checks legal majority only."
    assert "justified: Age checks legal majority only." in diagnostic.format("p.yaml")


def test_an_error_cannot_be_justified() -> None:
    data = _data()
    _rule(data)["id"] = "attended_rally"
    _rule(data)["justifications"] = {"protected.category": "We really need it."}
    [diagnostic] = lint(Policy.model_validate(data))
    assert diagnostic.is_error and not diagnostic.justified and diagnostic.justification is None


def test_a_justification_for_another_code_does_not_count() -> None:
    data = _data()
    _rule(data)["description"] = "Late bills by age band"
    _rule(data)["justifications"] = {"privacy.private_life": "Not this one."}
    [diagnostic] = lint(Policy.model_validate(data))
    assert not diagnostic.justified


def test_lines_point_at_the_offending_yaml() -> None:
    text = BASE.replace("expires_after: 1y", "expires_after: 9y").replace(
        "notice_days: 14", "notice_days: 2"
    )
    loaded = parse_policy(text)
    lines = text.splitlines()
    found = {d.code: d for d in lint(loaded.policy, source_map=SourceMap(loaded.source))}
    expiry = found["redemption.too_long"]
    notice = found["process.notice_too_short"]
    assert expiry.line is not None and "expires_after: 9y" in lines[expiry.line - 1]
    assert notice.line is not None and "notice_days: 2" in lines[notice.line - 1]
    assert expiry.format("p.yaml").startswith(f"p.yaml:{expiry.line}: error redemption.too_long: ")


def test_lint_errors_keeps_only_errors() -> None:
    data = _data()
    _rule(data)["description"] = "Late bills by age band"
    _restriction(data)["notice_days"] = 1
    assert [d.code for d in lint_errors(Policy.model_validate(data))] == [
        "process.notice_too_short"
    ]


def test_every_code_is_documented_with_its_law() -> None:
    for code in CODES.values():
        assert code.summary and code.law


@pytest.mark.parametrize("name", ["business-compliance", "consumer-trust"])
def test_the_bundled_lawful_examples_pass(name: str) -> None:
    policy = load_policy(EXAMPLES / f"{name}.yaml").policy
    assert [d.format(name) for d in lint(policy) if not d.justified] == []


def test_age_is_lawful_in_credit_when_no_elderly_bin_is_below_a_younger_one() -> None:
    data = _data()
    _elderly_penalised(data)
    data["rules"][-1]["points"] = 5  # 40 or more now gets as much as under 40
    assert "credit.age" not in _codes(data)
    data["rules"][-1]["when"] = [{"attr": "age", "op": ">=", "value": 70}]
    data["rules"][-2]["points"] = 9  # 70 or more now gets fewer points than under 40
    assert "credit.age" in _codes(data)


def test_sex_is_only_a_warning_outside_credit() -> None:
    data = _data()
    _marital_status(data)
    _event(data)["context"] = "housing"
    data["entitlements"][0]["context"] = "housing"
    assert set(_codes(data)) == {"protected.characteristic"}


def _negative_weight_gain(data: Data) -> Data:
    """A dimension that counts against the score, fed by a rule of positive points."""
    data["dimensions"].append({"id": "complaints", "label": "Complaints", "weight": -2})
    rule: Data = {
        "id": "complaint_upheld",
        "type": "bill.paid",
        "points": 5,
        "dimension": "complaints",
        "reason": "Complaints upheld against you",
    }
    data["rules"].append(rule)
    return rule


def test_lint_requires_expiry_for_negative_weight_gain() -> None:
    data = _data()
    _negative_weight_gain(data)
    diagnostics = lint(Policy.model_validate(data))
    assert [(d.element, d.code) for d in diagnostics] == [
        ("rule complaint_upheld", "redemption.no_expiry")
    ]
    message = diagnostics[0].message
    assert "`complaints`" in message and "weight is -2" in message and "lowers the score" in message


def test_negative_weight_gain_passes_once_it_expires() -> None:
    data = _data()
    _negative_weight_gain(data)["expires_after"] = "2y"
    assert _codes(data) == []


def test_positive_points_into_a_positive_weight_need_no_expiry() -> None:
    data = _data()
    _negative_weight_gain(data)
    data["dimensions"][-1]["weight"] = 0.5
    assert _codes(data) == []


def test_a_negative_weight_gain_is_held_to_proportionality() -> None:
    data = _data()
    rule = _negative_weight_gain(data)
    rule.update(points=60, expires_after="60d")  # minor by its expiry; 60 × -2 = -120
    _restriction(data)["when"] = {"score_below": 500}
    assert _codes(data) == ["process.single_minor"]
    rule["points"] = 20  # one record takes 40 off 600: still above 500
    assert _codes(data) == []


def test_a_per_rule_of_positive_points_can_lower_either_way() -> None:
    data = _data()
    _negative_weight_gain(data)
    rule = data["rules"][-1]
    rule.update(per="days_late", points=1)
    diagnostics = lint(Policy.model_validate(data))
    assert [d.code for d in diagnostics] == ["redemption.no_expiry"]
    assert "`days_late` can be negative" in diagnostics[0].message


def test_positive_points_towards_a_restriction_must_expire() -> None:
    """A count that only ever rises, tested by a restriction with at_least, is a permanent mark."""
    data = _data()
    rule = _negative_weight_gain(data)
    data["dimensions"][-1]["weight"] = 0  # it moves no score, only the restriction's count
    _restriction(data)["when"] = {"all": [{"dimension": "complaints", "at_least": 15}]}
    diagnostics = lint(Policy.model_validate(data))
    assert [d.code for d in diagnostics] == ["redemption.no_expiry"]
    assert "restriction `credit_review` applies once `complaints` is at least 15" in (
        diagnostics[0].message
    )
    rule["expires_after"] = "2y"
    assert _codes(data) == []


def test_positive_points_towards_losing_a_benefit_must_expire() -> None:
    data = _data()
    _negative_weight_gain(data)
    data["dimensions"][-1]["weight"] = 1
    data["entitlements"].append(
        {
            "id": "fast_track",
            "kind": "benefit",
            "context": "lending",
            "when": {"dimension": "complaints", "below": 10},
        }
    )
    diagnostics = lint(Policy.model_validate(data))
    assert [d.code for d in diagnostics] == ["redemption.no_expiry"]
    assert "benefit `fast_track` is lost once `complaints` reaches 10" in diagnostics[0].message
