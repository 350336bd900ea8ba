"""Rule conditions, each operator in its Python form and its SQL form side by side.

The online engine calls the Python form for one subject; the batch plan emits
the SQL form for every subject at once. Keeping both here, per operator, is
what lets a test prove they agree on generated data.

Semantics shared by both forms:
- a predicate on an absent attribute is false (SQL: NULL is treated as false),
  except ``absent``, which holds exactly when the attribute is missing (or null);
- values are compared as the attribute's declared type; ``in``/``not_in`` test
  membership in a list (``not_in`` on an absent attribute is false, too).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from credence.policy.model import AttrType, Condition

Predicate = Callable[[Mapping[str, Any]], bool]

# Each operator's two forms, side by side. ``{a}`` is the attribute, ``{v}`` the value.
PYTHON_FORM = {
    "==": "{a} == {v}",
    "!=": "{a} != {v}",
    "<": "{a} < {v}",
    "<=": "{a} <= {v}",
    ">": "{a} > {v}",
    ">=": "{a} >= {v}",
    "in": "{a} in {v}",
    "not_in": "{a} not in {v}",
    "absent": "{a} is None",
}
SQL_FORM = {
    "==": "{a} = {v}",
    "!=": "{a} <> {v}",
    "<": "{a} < {v}",
    "<=": "{a} <= {v}",
    ">": "{a} > {v}",
    ">=": "{a} >= {v}",
    "in": "{a} IN ({v})",
    "not_in": "{a} NOT IN ({v})",
    "absent": "{a} IS NULL",
}
# Operators that test the attribute's presence itself: no "absent is false" guard.
PRESENCE_OPS = frozenset({"absent"})


def _normalise(value: Any, attr_type: AttrType) -> Any:
    if attr_type is AttrType.NUMBER and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if attr_type is AttrType.INTEGER and isinstance(value, float):
        return int(value)
    return value


def _python_value(condition: Condition, attr_type: AttrType) -> Any:
    if isinstance(condition.value, list):
        return frozenset(_normalise(v, attr_type) for v in condition.value)
    return _normalise(condition.value, attr_type)


def first_hit(
    rules: Sequence[tuple[Sequence[tuple[Condition, AttrType]], Any]],
) -> Callable[[Mapping[str, Any]], Any]:
    """One function returning the result of the first rule whose conditions all hold.

    Generated Python source (DMN "first" hit policy), so matching costs one
    call per record. Only operator templates and generated names reach the
    source; attribute names and values are bound as constants, never pasted in.
    """
    constants: dict[str, Any] = {}
    attr_vars: dict[str, str] = {}
    body: list[str] = []
    for r_index, (conditions, result) in enumerate(rules):
        constants[f"R{r_index}"] = result
        tests = []
        for c_index, (condition, attr_type) in enumerate(conditions):
            if condition.attr not in attr_vars:
                name = f"a{len(attr_vars)}"
                attr_vars[condition.attr] = name
                constants[f"N{name}"] = condition.attr
            var = attr_vars[condition.attr]
            if condition.op in PRESENCE_OPS:
                tests.append(f"({PYTHON_FORM[condition.op].format(a=var, v='')})")
                continue
            const = f"K{r_index}_{c_index}"
            constants[const] = _python_value(condition, attr_type)
            test = PYTHON_FORM[condition.op].format(a=var, v=const)
            tests.append(f"({var} is not None and {test})")
        guard = " and ".join(tests) if tests else "True"
        body.append(f"    if {guard}: return R{r_index}")
    reads = [f"    {var} = attrs.get(N{var})" for var in attr_vars.values()]
    source = "def match(attrs):\n" + "\n".join([*reads, *body, "    return None"]) + "\n"
    namespace = dict(constants)
    exec(compile(source, "<credence first-hit>", "exec"), namespace)
    match: Callable[[Mapping[str, Any]], Any] = namespace["match"]
    return match


def python_predicate(condition: Condition, attr_type: AttrType) -> Predicate:
    """The condition alone as a Python predicate over a record's attributes."""
    match = first_hit([([(condition, attr_type)], True)])
    return lambda attrs: match(attrs) is True


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
    """The condition as a SQL boolean over ``column`` (NULL-safe: absent is false)."""
    if condition.op in PRESENCE_OPS:
        return SQL_FORM[condition.op].format(a=column, v="")
    if isinstance(condition.value, list):
        value = ", ".join(sql_literal(v, attr_type) for v in condition.value)
    else:
        value = sql_literal(condition.value, attr_type)
    return f"COALESCE({SQL_FORM[condition.op].format(a=column, v=value)}, FALSE)"


def sql_all_of(expressions: Sequence[str]) -> str:
    """SQL conjunction; TRUE for no conditions."""
    return " AND ".join(f"({e})" for e in expressions) if expressions else "TRUE"


def describe(condition: Condition) -> str:
    """The condition as people read it: ``days_late > 30``."""
    if condition.op in PRESENCE_OPS:
        return f"{condition.attr} {condition.op}"
    value = json.dumps(condition.value)
    return f"{condition.attr} {condition.op} {value}"
