"""The policy format, version 1, as pydantic models.

These models check shape and types; cross-references (a rule's event type, a
condition's attribute, a tier named in an entitlement) are checked by
``credence.policy.check`` so every problem can be reported with its line.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from credence.types import parse_duration

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_.\-]*$", min_length=1, max_length=100),
]


def _check_duration(text: str) -> str:
    parse_duration(text)  # raises ValueError with a readable message
    return text


Duration = Annotated[
    str,
    StringConstraints(pattern=r"^\s*\d+\s*[dwy]\s*$"),
    AfterValidator(_check_duration),
    Field(description="A whole number of days, weeks or 365-day years: 90d, 12w, 2y."),
]
Scalar = str | bool | int | float
Justifications = Annotated[
    dict[str, str],
    Field(
        default_factory=dict,
        description="Written reasons, by lint code, why a warning of `credence lint` is accepted.",
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttrType(StrEnum):
    """Types an event attribute may have; an integer is also a valid number."""

    INTEGER = "integer"
    NUMBER = "number"
    STRING = "string"
    BOOLEAN = "boolean"


def _attribute_shorthand(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


class AttributeSpec(_Model):
    """One declared attribute of an event type."""

    type: AttrType
    description: str | None = None
    sensitive: bool = Field(
        default=False,
        description="Set by a provider when the attribute may reveal a protected category.",
    )


class Scale(_Model):
    """The score scale: every score is clamped to [min, max]; a subject starts at base."""

    base: float
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if not self.min <= self.base <= self.max:
            raise ValueError(f"need min <= base <= max, got {self.min}, {self.base}, {self.max}")
        return self


class Dimension(_Model):
    """A named part of the score (Sesame-style field), weighted and optionally bounded."""

    id: Identifier
    label: str | None = None
    description: str | None = None
    weight: float = 1.0
    min: float | None = None
    max: float | None = None
    justifications: Justifications

    @model_validator(mode="after")
    def _bounds(self) -> Dimension:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"dimension min {self.min} is above its max {self.max}")
        return self


class EventType(_Model):
    """A kind of behaviour record, its context (purpose) and its declared attributes."""

    id: Identifier
    context: Identifier
    label: str | None = None
    description: str | None = None
    attributes: dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")],
        Annotated[
            AttributeSpec,
            BeforeValidator(_attribute_shorthand, json_schema_input_type=AttrType | AttributeSpec),
        ],
    ] = Field(default_factory=dict)
    providers: list[Identifier] = Field(min_length=1)
    justifications: Justifications


Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "absent"]


class Condition(_Model):
    """One predicate on a record attribute; false when the attribute is absent.

    ``absent`` is the one test that holds on a missing attribute (a
    scorecard's "missing" bin); it takes no value.
    """

    attr: str
    op: Op
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op == "absent":
            if self.value is not None:
                raise ValueError("operator 'absent' takes no value")
            return self
        if self.value is None:
            raise ValueError(f"operator {self.op!r} needs a value")
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"operator {self.op!r} needs a list value, e.g. [a, b]")
        if self.op not in ("in", "not_in") and isinstance(self.value, list):
            raise ValueError(f"operator {self.op!r} needs a single value, not a list")
        return self


class CapPeriod(StrEnum):
    """Calendar periods (UTC) a cap is taken over."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class Cap(_Model):
    """At most |points| of a rule's raw points count in each calendar period."""

    points: float = Field(description="|points| bounds the period's total, for either sign.")
    per: CapPeriod

    @model_validator(mode="after")
    def _nonzero(self) -> Cap:
        if self.points == 0:
            raise ValueError("a cap of 0 points would disable the rule; remove the rule instead")
        return self


class RuleSeverity(StrEnum):
    """How grave the conduct behind a negative rule is; each has a longest expiry."""

    MINOR = "minor"
    GENERAL = "general"
    SERIOUS = "serious"


class Rule(_Model):
    """Points for records of one type whose conditions all hold (first match wins per group)."""

    id: Identifier
    type: str
    group: Identifier | None = Field(
        default=None,
        description="Rules of one type and group form a first-hit chain; a record "
        "contributes the sum over its type's groups (a scorecard's characteristics).",
    )
    when: list[Condition] = Field(default_factory=list)
    points: float
    per: str | None = Field(default=None, description="Multiply points by this numeric attribute.")
    dimension: str | None = None
    half_life: Duration | None = None
    expires_after: Duration | None = None
    cap: Cap | None = None
    reason: str = Field(min_length=1, description="Plain-language text shown to the subject.")
    description: str | None = None
    severity: RuleSeverity | None = None
    cured_by: str | None = Field(
        default=None,
        description="An event type whose record, once it arrives, ends this rule's records' effect early.",
    )
    min_period: Duration | None = Field(
        default=None,
        description="With cured_by: a record counts at least this long even when cured sooner.",
    )
    justifications: Justifications

    @property
    def can_be_negative(self) -> bool:
        """Whether a record under this rule can add negative points to its dimension.

        A ``per`` attribute is any number, so ``points × attribute`` can be negative
        whatever the sign of ``points``. Whether that lowers the *score* depends on the
        dimension's weight: ask ``Policy.can_lower``.
        """
        return self.points < 0 or self.per is not None


class Tier(_Model):
    """A named band of scores; a subject is in the first tier whose min it reaches."""

    id: Identifier
    min: float
    label: str | None = None
    description: str | None = None


class EntitlementCondition(_Model):
    """One test over a subject's outcome, or ``all``/``any`` of nested tests."""

    tier_at_least: str | None = None
    score_below: float | None = None
    score_at_least: float | None = None
    dimension: str | None = None
    below: float | None = None
    at_least: float | None = None
    on_list: str | None = None
    all: list[EntitlementCondition] | None = None
    any: list[EntitlementCondition] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> EntitlementCondition:
        forms = [
            name
            for name in ("tier_at_least", "score_below", "score_at_least", "on_list", "all", "any")
            if getattr(self, name) is not None
        ]
        if self.dimension is not None:
            if (self.below is None) == (self.at_least is None):
                raise ValueError("a dimension test needs exactly one of below or at_least")
            forms.append("dimension")
        elif self.below is not None or self.at_least is not None:
            raise ValueError("below/at_least need a dimension, e.g. {dimension: x, below: -20}")
        if len(forms) != 1:
            raise ValueError(
                "a condition needs exactly one of tier_at_least, score_below, score_at_least, "
                "dimension, on_list, all, any" + (f"; got {', '.join(forms)}" if forms else "")
            )
        for group in (self.all, self.any):
            if group is not None and not group:
                raise ValueError("all/any need at least one condition")
        return self


class EntitlementKind(StrEnum):
    """A benefit is granted while its condition holds; a restriction is adverse."""

    BENEFIT = "benefit"
    RESTRICTION = "restriction"


class Entitlement(_Model):
    """A benefit or restriction in one context, with its condition and due process."""

    id: Identifier
    kind: EntitlementKind
    context: Identifier
    related_contexts: list[Identifier] = Field(default_factory=list)
    when: EntitlementCondition
    label: str | None = None
    description: str | None = None
    reason: str | None = None
    notice_days: int | None = Field(default=None, ge=0)
    max_duration: Duration | None = None
    legal_basis: str | None = None
    justifications: Justifications


class ListKind(StrEnum):
    """A redlist marks good standing; a blacklist marks adverse standing."""

    REDLIST = "redlist"
    BLACKLIST = "blacklist"


_BOTH_KINDS: tuple[Literal["person", "organization"], ...] = ("person", "organization")


class SubjectList(_Model):
    """A list whose membership is a condition over the subject's outcome, as of t."""

    id: Identifier
    kind: ListKind
    when: EntitlementCondition
    label: str | None = None
    description: str | None = None
    subject_kinds: list[Literal["person", "organization"]] = Field(
        default_factory=lambda: list(_BOTH_KINDS)
    )
    public: bool = False
    reason: str | None = None
    justifications: Justifications


class Policy(_Model):
    """A complete, versioned scoring policy (format version 1)."""

    credence: Literal[1] = Field(description="Policy format version.")
    name: Identifier
    version: str = Field(min_length=1)
    purpose: str = Field(min_length=1)
    scale: Scale
    dimensions: list[Dimension] = Field(default_factory=list)
    event_types: list[EventType] = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)
    tiers: list[Tier] = Field(min_length=1)
    entitlements: list[Entitlement] = Field(default_factory=list)
    lists: list[SubjectList] = Field(default_factory=list)
    max_retention: Duration = Field(
        default="7y", description="The longest any negative record may count (at most 10y)."
    )
    change_notice_days: int = Field(
        default=30,
        ge=14,
        description="Days between activating this version and its taking effect when it "
        "worsens any subject's outcome (at least 14).",
    )
    fairness_justification: str | None = Field(
        default=None,
        min_length=1,
        description="Why this version may be activated although an entitlement fails the "
        "four-fifths rule of `credence audit-fairness`, or without an audit.",
    )
    justifications: Justifications

    def weight(self, dimension_id: str | None) -> float:
        """A dimension's weight; the implicit ``general`` dimension (and an unknown one) weighs 1."""
        dim = next((d for d in self.dimensions if d.id == dimension_id), None)
        return 1.0 if dim is None else dim.weight

    def lowers_because(self, rule: Rule) -> str | None:
        """Why a record under ``rule`` can lower a score or a subject's standing, or None.

        Positive points lower the score as surely as negative ones when their
        dimension's weight is negative, and worsen an outcome when a restriction
        or blacklist tests that dimension with ``at_least`` (or a benefit or
        redlist with ``below``): such a rule is negative too, and must expire.
        """
        if rule.per is not None:
            return f"it scores {rule.points:g} × `{rule.per}`, and `{rule.per}` can be negative"
        if rule.points < 0:
            return f"it gives {rule.points:g} points"
        if rule.points == 0:
            return None
        dimension = rule.dimension or GENERAL_DIMENSION
        weight = self.weight(rule.dimension)
        if weight < 0:
            return (
                f"it gives +{rule.points:g} points to dimension `{dimension}`, "
                f"whose weight is {weight:g}, so each record lowers the score"
            )
        adverse = self._adverse_when_raised(dimension)
        if adverse is not None:
            return f"it gives +{rule.points:g} points to dimension `{dimension}`, and {adverse}"
        return None

    def _adverse_when_raised(self, dimension_id: str) -> str | None:
        """An entitlement or list that turns against a subject as this dimension rises."""
        tests = [
            (f"{e.kind.value} `{e.id}`", e.when, e.kind is EntitlementKind.RESTRICTION)
            for e in self.entitlements
        ] + [(f"{x.kind.value} `{x.id}`", x.when, x.kind is ListKind.BLACKLIST) for x in self.lists]
        for what, condition, adverse_while_it_holds in tests:
            for test in _dimension_tests(condition, dimension_id):
                if adverse_while_it_holds and test.at_least is not None:
                    return f"{what} applies once `{dimension_id}` is at least {test.at_least:g}"
                if not adverse_while_it_holds and test.below is not None:
                    return f"{what} is lost once `{dimension_id}` reaches {test.below:g}"
        return None

    def can_lower(self, rule: Rule) -> bool:
        """Whether a record under ``rule`` can lower a score or a dimension (then it must expire)."""
        return self.lowers_because(rule) is not None

    def event_type(self, type_id: str) -> EventType | None:
        """The event type with this id, if declared."""
        return next((e for e in self.event_types if e.id == type_id), None)

    def entitlement(self, entitlement_id: str) -> Entitlement | None:
        """The entitlement with this id, if declared."""
        return next((e for e in self.entitlements if e.id == entitlement_id), None)


GENERAL_DIMENSION = "general"


def _dimension_tests(
    condition: EntitlementCondition, dimension_id: str
) -> list[EntitlementCondition]:
    """The tests of one dimension inside a condition, through ``all`` and ``any``."""
    found = [condition] if condition.dimension == dimension_id else []
    for child in (condition.all or []) + (condition.any or []):
        found += _dimension_tests(child, dimension_id)
    return found
