"""Rule conditions, each operator in its Python form and its SQL form side by side.

The online engine calls the Python form for one subject; the batch plan emits
the SQL form for every subject at once. Keeping both here, per operator, is
what lets a test prove they agree on generated data.

Semantics shared by both forms:
- a predicate on an absent attribute is false (SQL: NULL is treated as false);
- values are compared as the attribute's declared type; ``in``/``not_in`` test
  membership in a list (``not_in`` on an absent attribute is false, too).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from credence.policy.model import AttrType, Condition

Predicate = Callable[[Mapping[str, Any]], bool]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_SQL_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _normalise(value: Any, attr_type: AttrType) -> Any:
    if attr_type is AttrType.NUMBER and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if attr_type is AttrType.INTEGER and isinstance(value, float):
        return int(value)
    return value


def python_predicate(condition: Condition, attr_type: AttrType) -> Predicate:
    """The condition as a fast Python predicate over a record's attributes."""
    attr = condition.attr
    if condition.op in ("in", "not_in"):
        assert isinstance(condition.value, list)
        members = frozenset(_normalise(v, attr_type) for v in condition.value)
        wanted = condition.op == "in"

        def member(attrs: Mapping[str, Any]) -> bool:
            value = attrs.get(attr)
            return value is not None and (value in members) is wanted

        return member
    compare = _COMPARE[condition.op]
    target = _normalise(condition.value, attr_type)

    def compare_attr(attrs: Mapping[str, Any]) -> bool:
        value = attrs.get(attr)
        return value is not None and compare(value, target)

    return compare_attr


def all_of(predicates: Sequence[Predicate]) -> Predicate | None:
    """One predicate that holds when every given one does; None for no conditions."""
    if not predicates:
        return None
    if len(predicates) == 1:
        return predicates[0]
    frozen = tuple(predicates)
    return lambda attrs: all(p(attrs) for p in frozen)


def sql_literal(value: Any, attr_type: AttrType) -> str:
    """A value as a SQL literal of the attribute's type (no user text reaches SQL raw)."""
    value = _normalise(value, attr_type)
    if attr_type is AttrType.BOOLEAN:
        return "TRUE" if value else "FALSE"
    if attr_type is AttrType.STRING:
        return "'" + str(value).replace("'", "''") + "'"
    if attr_type is AttrType.INTEGER:
        return str(int(value))
    return repr(float(value))


def sql_predicate(condition: Condition, attr_type: AttrType, column: str) -> str:
    """The condition as a SQL boolean expression over ``column`` (NULL-safe: absent is false)."""
    if condition.op in ("in", "not_in"):
        assert isinstance(condition.value, list)
        items = ", ".join(sql_literal(v, attr_type) for v in condition.value)
        negate = "NOT " if condition.op == "not_in" else ""
        return f"COALESCE({column} {negate}IN ({items}), FALSE)"
    literal = sql_literal(condition.value, attr_type)
    return f"COALESCE({column} {_SQL_COMPARE[condition.op]} {literal}, FALSE)"


def sql_all_of(expressions: Sequence[str]) -> str:
    """SQL conjunction; TRUE for no conditions."""
    return " AND ".join(f"({e})" for e in expressions) if expressions else "TRUE"


def describe(condition: Condition) -> str:
    """The condition as people read it: ``days_late > 30``."""
    value = json.dumps(condition.value)
    return f"{condition.attr} {condition.op} {value}"
