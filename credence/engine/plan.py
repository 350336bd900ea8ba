"""The batch plan: one SQL query that scores every subject at once, exactly as ``scoring.score``.

Pure: it builds text, runs nothing. The query reads a relation ``records`` with

    subject_key BIGINT, provider VARCHAR, provider_event_id VARCHAR, type VARCHAR,
    occurred_at BIGINT (epoch µs, UTC), retracts VARCHAR NULL,
    attr_<name> typed, one column per attribute declared by any event type

and returns one row per subject (every subject with a record of any kind,
at any time, as ``credence score`` lists them; with nothing counting, the
score is ``base`` clamped) with ``subject_key, score, raw, tier`` and
one ``dim_<id>`` column per dimension, ``dim_general`` last.

How each step of DESIGN.md "Scoring semantics" maps to SQL:

1. Withdrawn records: an anti-join on ``(subject_key, provider, retracts)``;
   retractions themselves and records after the as-of time are dropped.
2. First hit: one ``CASE`` over the rules in policy order, each arm the rule's
   type and its conditions in their SQL form (``conditions.sql_predicate``).
3. ``per`` points: ``points × attribute``, 0 when the attribute is absent.
4. Caps, by rule shape:
   - no cap: each record's value directly;
   - cap without decay: the clamped prefix sum telescopes, so a period's
     counting value is ``clamp(S_all) − clamp(S_expired)``, where the expired
     records are a prefix of the count order (they are the oldest). Two sums
     per (subject, rule, period); no sort, no window;
   - cap with decay: a period whose positive and negative raw sums both fit
     in ``[-C, C]`` never clamps, so its records count in full (one sum);
     only the periods that can clamp go through a running-sum window in
     ``(occurred_at, provider, provider_event_id)`` order, which gives each
     record its step of the clamped sum.
5. Expiry ``as_of − occurred_at < expires_after`` in integer microseconds.
6. Decay ``capped × 0.5 ^ (age / half_life)``, written as the online fold does:
   ``exp(age × −ln 2 / half_life_µs)``.
7.-8. Dimension sums clamped to their bounds, weighted, scale clamp, round
   half up as ``floor(round(raw, 9) + 0.5)``, tier by ``CASE`` highest first.

Two dialects: ``duckdb`` and ``spark`` (Spark SQL with the session time zone
set to UTC, which ``credence.batch.spark_runner`` does). They differ only in
identifier quoting and in how epoch microseconds become a timestamp.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from credence.engine.compiled import CAP_DAY, CAP_MONTH, CompiledPolicy, CompiledRule
from credence.engine.conditions import sql_all_of, sql_literal, sql_predicate
from credence.errors import PlanError
from credence.policy.model import AttrType
from credence.types import DAY_US, MICROS

Dialect = Literal["duckdb", "spark"]
DIALECTS: tuple[Dialect, ...] = ("duckdb", "spark")

SQL_TYPES: dict[AttrType, str] = {
    AttrType.INTEGER: "BIGINT",
    AttrType.NUMBER: "DOUBLE",
    AttrType.STRING: "VARCHAR",
    AttrType.BOOLEAN: "BOOLEAN",
}
BASE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("subject_key", "BIGINT"),
    ("provider", "VARCHAR"),
    ("provider_event_id", "VARCHAR"),
    ("type", "VARCHAR"),
    ("occurred_at", "BIGINT"),
    ("retracts", "VARCHAR"),
)
DIMENSION_PREFIX = "dim_"
ATTRIBUTE_PREFIX = "attr_"


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """The query for one policy, as-of time and dialect, and the shapes it reads and writes."""

    sql: str
    as_of: int
    dialect: Dialect
    attributes: dict[str, AttrType]  # attribute name -> column type, column attr_<name>
    dimensions: tuple[tuple[str, str], ...]  # (dimension id, output column), general last

    @property
    def input_columns(self) -> list[tuple[str, str]]:
        """``(column, SQL type)`` of every column the query reads from ``records``."""
        return list(BASE_COLUMNS) + [
            (ATTRIBUTE_PREFIX + name, SQL_TYPES[kind]) for name, kind in self.attributes.items()
        ]

    @property
    def output_columns(self) -> list[str]:
        """The result's columns, in order."""
        return ["subject_key", "score", "raw", "tier"] + [column for _, column in self.dimensions]


def attribute_columns(policy: CompiledPolicy) -> dict[str, AttrType]:
    """Every declared attribute and the one column type that holds it.

    An attribute declared ``integer`` by one event type and ``number`` by
    another is held as ``number`` (every such integer is an exact double).

    Raises:
        PlanError: when two event types give one attribute name incompatible types.
    """
    found: dict[str, AttrType] = {}
    owner: dict[str, str] = {}
    numeric = {AttrType.INTEGER, AttrType.NUMBER}
    for event in policy.policy.event_types:
        for name, spec in event.attributes.items():
            seen = found.get(name)
            if seen is None or seen == spec.type:
                found.setdefault(name, spec.type)
                owner.setdefault(name, event.id)
            elif {seen, spec.type} <= numeric:
                found[name] = AttrType.NUMBER
            else:
                raise PlanError(
                    f"attribute {name!r} is {seen} in event type {owner[name]!r} but "
                    f"{spec.type} in {event.id!r}; one batch column cannot hold both",
                    suggestion="rename one of the attributes",
                )
    return found


class _Sql:
    """The few spellings that differ between dialects."""

    def __init__(self, dialect: Dialect) -> None:
        if dialect not in DIALECTS:
            raise PlanError(f"unknown SQL dialect {dialect!r}", suggestion="use duckdb or spark")
        self.dialect = dialect

    def ident(self, name: str) -> str:
        if self.dialect == "spark":
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def timestamp(self, micros: str) -> str:
        if self.dialect == "spark":
            return f"timestamp_micros({micros})"
        return f"make_timestamp({micros})"


def _num(value: float, what: str) -> str:
    if not math.isfinite(value):
        raise PlanError(f"{what} is {value}; the batch plan needs finite numbers")
    return f"CAST({float(value)!r} AS DOUBLE)"


def _clamp(expr: str, low: str | None, high: str | None) -> str:
    if low is not None:
        expr = f"GREATEST({expr}, {low})"
    if high is not None:
        expr = f"LEAST({expr}, {high})"
    return expr


def _ids(rules: Sequence[CompiledRule]) -> str:
    return ", ".join(str(r.index) for r in rules)


def _matcher(rule: CompiledRule, policy: CompiledPolicy) -> str:
    event = policy.policy.event_type(rule.type)
    declared = event.attributes if event else {}
    parts = ["type = " + sql_literal(rule.type, AttrType.STRING)]
    conditions = []
    for condition in rule.rule.when:
        spec = declared.get(condition.attr)
        if spec is None:
            raise PlanError(
                f"rule {rule.id!r} tests attribute {condition.attr!r}, "
                f"which event type {rule.type!r} does not declare"
            )
        column = ATTRIBUTE_PREFIX + condition.attr
        conditions.append(sql_predicate(condition, spec.type, column))
    if conditions:
        parts.append(sql_all_of(conditions))
    return " AND ".join(parts)


def _raw_points(rule: CompiledRule, policy: CompiledPolicy) -> str:
    points = _num(rule.points, f"rule {rule.id!r} points")
    if rule.per is None:
        return points
    event = policy.policy.event_type(rule.type)
    spec = event.attributes.get(rule.per) if event else None
    if spec is None or spec.type not in (AttrType.INTEGER, AttrType.NUMBER):
        raise PlanError(f"rule {rule.id!r} multiplies by {rule.per!r}, not a numeric attribute")
    column = ATTRIBUTE_PREFIX + rule.per
    return f"COALESCE({points} * CAST({column} AS DOUBLE), CAST(0.0 AS DOUBLE))"


def _decayed(rule: CompiledRule, value: str) -> str:
    if rule.half_life_s is None:
        return value
    # The online fold's form: 0.5 ** (age / half_life) as exp(age × −ln 2 / half_life µs).
    rate = -math.log(2) / (rule.half_life_s * MICROS)
    return f"{value} * EXP(CAST(age AS DOUBLE) * {_num(rate, f'rule {rule.id!r} half_life')})"


def _live(rule: CompiledRule) -> str | None:
    return None if rule.expires_us is None else f"age < {rule.expires_us}"


def _by_rule(rules: Sequence[CompiledRule], arm: dict[int, str], default: str) -> str:
    if not rules:
        return default
    arms = " ".join(f"WHEN {r.index} THEN {arm[r.index]}" for r in rules)
    return f"CASE rule_ix {arms} ELSE {default} END"


def _refuse_backslashes(policy: CompiledPolicy) -> None:
    # Spark SQL reads a backslash in a string literal as an escape; DuckDB does not.
    for rule in policy.rules:
        for condition in rule.rule.when:
            values = condition.value if isinstance(condition.value, list) else [condition.value]
            if any(isinstance(v, str) and "\\" in v for v in values):
                raise PlanError(
                    f"rule {rule.id!r} compares with a string holding a backslash, "
                    "which Spark SQL would read as an escape",
                    suggestion="run this policy with --engine duckdb",
                )


def build_plan(
    policy: CompiledPolicy,
    *,
    as_of: int,
    dialect: Dialect = "duckdb",
    relation: str = "records",
) -> BatchPlan:
    """The batch query scoring every subject of ``relation`` as of ``as_of`` (epoch µs).

    Raises:
        PlanError: when the policy uses something the plan cannot express exactly.
    """
    q = _Sql(dialect)
    attributes = attribute_columns(policy)
    zero = "CAST(0.0 AS DOUBLE)"
    rules = policy.rules
    plain = [r for r in rules if r.cap is None]
    telescoped = [r for r in rules if r.cap is not None and r.half_life_s is None]
    windowed = [r for r in rules if r.cap is not None and r.half_life_s is not None]
    rel = q.ident(relation)
    types = sorted({r.type for r in rules})
    per_attributes = sorted({r.per for r in rules if r.per is not None})
    if dialect == "spark":
        _refuse_backslashes(policy)

    first_hit = " ".join(f"WHEN {_matcher(r, policy)} THEN {r.index}" for r in rules)
    raw = _by_rule(rules, {r.index: _raw_points(r, policy) for r in rules}, zero)
    capped_rules = telescoped + windowed
    period = "CAST(NULL AS BIGINT)"
    if capped_rules:
        day = (
            f"CAST((occurred_at - (((occurred_at % {DAY_US}) + {DAY_US}) % {DAY_US})) "
            f"/ {DAY_US} AS BIGINT)"
        )
        stamp = q.timestamp("occurred_at")
        month = f"(year({stamp}) * 12 + month({stamp}) - 1)"
        year = f"year({stamp})"
        by_period = {CAP_DAY: day, CAP_MONTH: month}
        period = _by_rule(
            capped_rules,
            {r.index: by_period.get(r.cap_period or 0, year) for r in capped_rules},
            "CAST(NULL AS BIGINT)",
        )

    ctes = [
        f"withdrawn AS (SELECT DISTINCT subject_key, provider, retracts AS withdrawn_id "
        f"FROM {rel} WHERE retracts IS NOT NULL)",
        f"present AS (SELECT subject_key FROM {rel} GROUP BY subject_key)",
        "matched AS (SELECT subject_key, provider, provider_event_id, occurred_at, "
        f"{as_of} - occurred_at AS age, "
        + "".join(f"{ATTRIBUTE_PREFIX}{a}, " for a in per_attributes)
        + f"CASE {first_hit} END AS rule_ix FROM {rel} r "
        f"WHERE r.retracts IS NULL AND r.occurred_at <= {as_of} "
        f"AND r.type IN ({', '.join(sql_literal(t, AttrType.STRING) for t in types)}) "
        "AND NOT EXISTS (SELECT 1 FROM withdrawn w WHERE w.subject_key = r.subject_key "
        "AND w.provider = r.provider AND w.withdrawn_id = r.provider_event_id))",
        "scored AS (SELECT subject_key, provider, provider_event_id, occurred_at, age, "
        f"rule_ix, {raw} AS raw, {period} AS period FROM matched WHERE rule_ix IS NOT NULL)",
    ]
    parts: list[str] = []
    if plain:
        value = {}
        for r in plain:
            live = _live(r)
            decayed = _decayed(r, "raw")
            value[r.index] = (
                decayed if live is None else f"CASE WHEN {live} THEN {decayed} ELSE {zero} END"
            )
        parts.append(
            f"SELECT subject_key, rule_ix, {_by_rule(plain, value, zero)} AS v "
            f"FROM scored WHERE rule_ix IN ({_ids(plain)})"
        )
    if telescoped:
        cap = {r.index: _num(r.cap or 0.0, f"rule {r.id!r} cap") for r in telescoped}
        neg = {i: f"-{c}" for i, c in cap.items()}
        dead = {
            r.index: ("FALSE" if r.expires_us is None else f"age >= {r.expires_us}")
            for r in telescoped
        }
        ctes.append(
            "periods AS (SELECT subject_key, rule_ix, SUM(raw) AS s_all, "
            f"SUM(CASE WHEN {_by_rule(telescoped, dead, 'FALSE')} THEN raw ELSE {zero} END) "
            f"AS s_dead FROM scored WHERE rule_ix IN ({_ids(telescoped)}) "
            "GROUP BY subject_key, rule_ix, period)"
        )
        low, high = _by_rule(telescoped, neg, zero), _by_rule(telescoped, cap, zero)
        parts.append(
            f"SELECT subject_key, rule_ix, {_clamp('s_all', low, high)} - "
            f"{_clamp('s_dead', low, high)} AS v FROM periods"
        )
    if windowed:
        cap = {r.index: _num(r.cap or 0.0, f"rule {r.id!r} cap") for r in windowed}
        neg = {i: f"-{c}" for i, c in cap.items()}
        low, high = _by_rule(windowed, neg, zero), _by_rule(windowed, cap, zero)
        window = (
            "PARTITION BY subject_key, rule_ix, period "
            "ORDER BY occurred_at, provider, provider_event_id"
        )
        free_value = {}
        for r in windowed:
            live = _live(r)
            decayed = _decayed(r, "raw")
            free_value[r.index] = (
                decayed if live is None else f"CASE WHEN {live} THEN {decayed} ELSE {zero} END"
            )
        # A period whose positive and negative raw sums both fit in [-C, C] never clamps:
        # every record counts in full, so it needs no window, only a sum.
        ctes.append(
            "spans AS (SELECT subject_key, rule_ix, period, "
            f"SUM(GREATEST(raw, {zero})) AS s_pos, SUM(LEAST(raw, {zero})) AS s_neg, "
            f"SUM({_by_rule(windowed, free_value, zero)}) AS v_free "
            f"FROM scored WHERE rule_ix IN ({_ids(windowed)}) GROUP BY subject_key, rule_ix, period)"
        )
        fits = f"(s_pos <= {high} AND s_neg >= {low})"
        parts.append(f"SELECT subject_key, rule_ix, v_free AS v FROM spans WHERE {fits}")
        ctes.append(
            f"clamping AS (SELECT subject_key, rule_ix, period FROM spans WHERE NOT {fits})"
        )
        ctes.append(
            "running AS (SELECT subject_key, rule_ix, age, "
            f"SUM(raw) OVER ({window} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS s_to, "
            f"COALESCE(SUM(raw) OVER ({window} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), "
            f"{zero}) AS s_before FROM scored s WHERE rule_ix IN ({_ids(windowed)}) "
            "AND EXISTS (SELECT 1 FROM clamping c WHERE c.subject_key = s.subject_key "
            "AND c.rule_ix = s.rule_ix AND c.period = s.period))"
        )
        value = {}
        for r in windowed:
            step = f"({_clamp('s_to', low, high)} - {_clamp('s_before', low, high)})"
            live = _live(r)
            decayed = _decayed(r, step)
            value[r.index] = (
                decayed if live is None else f"CASE WHEN {live} THEN {decayed} ELSE {zero} END"
            )
        parts.append(
            f"SELECT subject_key, rule_ix, {_by_rule(windowed, value, zero)} AS v FROM running"
        )
    if not parts:
        parts.append(f"SELECT subject_key, rule_ix, {zero} AS v FROM scored WHERE FALSE")
    ctes.append("contributions AS (" + " UNION ALL ".join(parts) + ")")

    dims = policy.dimension_ids
    sums = []
    for i in range(len(dims)):
        members = [r for r in rules if r.dimension == i]
        if members:
            sums.append(
                f"SUM(CASE WHEN rule_ix IN ({_ids(members)}) THEN v ELSE {zero} END) AS s{i}"
            )
        else:
            sums.append(f"{zero} AS s{i}")
    ctes.append(
        f"sums AS (SELECT subject_key, {', '.join(sums)} FROM contributions GROUP BY subject_key)"
    )
    clamped = []
    for i, dim in enumerate(dims):
        lower = policy.lower[i]
        upper = policy.upper[i]
        clamped.append(
            _clamp(
                f"COALESCE(s.s{i}, {zero})",
                None if lower is None else _num(lower, f"dimension {dim!r} min"),
                None if upper is None else _num(upper, f"dimension {dim!r} max"),
            )
            + f" AS d{i}"
        )
    ctes.append(
        f"dims AS (SELECT p.subject_key, {', '.join(clamped)} "
        "FROM present p LEFT JOIN sums s ON s.subject_key = p.subject_key)"
    )
    total = _num(policy.base, "scale base")
    for i, dim in enumerate(dims):
        total = f"{total} + {_num(policy.weights[i], f'dimension {dim!r} weight')} * d{i}"
    scale_raw = _clamp(total, _num(policy.min, "scale min"), _num(policy.max, "scale max"))
    ctes.append(f"raws AS (SELECT dims.*, {scale_raw} AS raw FROM dims)")
    ctes.append(
        "finals AS (SELECT raws.*, CAST(FLOOR(ROUND(raw, 9) + CAST(0.5 AS DOUBLE)) AS BIGINT) "
        "AS score FROM raws)"
    )
    tier_arms = " ".join(
        f"WHEN score >= {_num(m, 'tier min')} THEN {sql_literal(t, AttrType.STRING)}"
        for t, m in zip(policy.tier_ids, policy.tier_mins, strict=True)
    )
    tier = (
        f"CASE {tier_arms} ELSE CAST(NULL AS VARCHAR) END" if tier_arms else "CAST(NULL AS VARCHAR)"
    )
    if dialect == "spark":
        tier = tier.replace("AS VARCHAR)", "AS STRING)")
    dimension_columns = tuple((d, DIMENSION_PREFIX + d) for d in dims)
    outputs = ", ".join(f"d{i} AS {q.ident(col)}" for i, (_, col) in enumerate(dimension_columns))
    sql = (
        "WITH "
        + ",\n".join(ctes)
        + f"\nSELECT subject_key, score, raw, {tier} AS tier, {outputs} FROM finals ORDER BY subject_key"
    )
    return BatchPlan(
        sql=sql,
        as_of=as_of,
        dialect=dialect,
        attributes=attributes,
        dimensions=dimension_columns,
    )
