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

1. Withdrawn records: a mark join (DuckDB ``NOT EXISTS``; Spark a left join
   on the distinct withdrawn keys) on ``(subject_key, provider, retracts)``;
   retractions themselves and records after the as-of time count under no
   rule. Every record stays in the pass, so every subject appears. When the
   input holds no retraction, ``unretracted_sql`` skips the join.
2. First hit: ``CASE type WHEN … THEN CASE <the type's rules in policy order> END``,
   each arm a rule's conditions in their SQL form (``conditions.sql_predicate``).
   With rule groups, every record row is repeated once per group (a cross join
   on ``grp``) and ``CASE grp`` picks the group's own chain, so each row still
   counts under at most one rule and every later step is unchanged.
3. ``per`` points: ``points × attribute``, 0 when the attribute is absent.
4. Caps, in two levels:
   - level 1, one ``GROUP BY subject_key`` over every record: each rule's
     contribution as if no cap ever clamped, summed per dimension, and per
     capped rule the sum of ``|raw|`` over all periods. A period clamps only
     if its positive or negative raw sum passes C, so a (subject, rule) whose
     ``|raw|`` sum fits under C is exact already;
   - level 2, only for the (subject, rule) pairs that fail that test: their
     records are read again and summed per period; a period whose positive
     and negative sums both fit never clamps. For the others, a rule without
     decay telescopes (``clamp(S_all) − clamp(S_expired)``: expired records
     are the oldest, a prefix of the count order), and a rule with decay goes
     through a running ``SUM … OVER`` in ``(occurred_at, provider,
     provider_event_id)`` order, which gives each record its step. Level 2
     yields, per subject and dimension, exact minus uncapped value, added to
     level 1.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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
RULE_PREFIX = "rule_"
ATTRIBUTE_PREFIX = "attr_"


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """The query for one policy, as-of time and dialect, and the shapes it reads and writes."""

    sql: str
    unretracted_sql: str  # the same query for input known to hold no retraction
    as_of: int
    dialect: Dialect
    attributes: dict[str, AttrType]  # attribute name -> column type, column attr_<name>
    dimensions: tuple[tuple[str, str], ...]  # (dimension id, output column), general last
    # (rule index, output column) of each rule's contribution, with ``rule_columns=True``
    rules: tuple[tuple[int, str], ...] = ()

    @property
    def input_columns(self) -> list[tuple[str, str]]:
        """``(column, SQL type)`` of every column the query reads from ``records``."""
        return list(BASE_COLUMNS) + [
            (ATTRIBUTE_PREFIX + name, SQL_TYPES[kind]) for name, kind in self.attributes.items()
        ]

    @property
    def output_columns(self) -> list[str]:
        """The result's columns, in order."""
        return (
            ["subject_key", "score", "raw", "tier"]
            + [column for _, column in self.dimensions]
            + [column for _, column in self.rules]
        )


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


def identifier(name: str, *, dialect: Dialect = "duckdb") -> str:
    """``name`` quoted as a SQL identifier in ``dialect`` (as the plan quotes its output columns)."""
    return _Sql(dialect).ident(name)


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


def cure_columns(policy: CompiledPolicy) -> dict[str, str]:
    """The column holding each cure type's latest counting occurrence per subject."""
    return {t: f"cure{i}" for i, t in enumerate(sorted(policy.cure_types))}


def _cured(rule: CompiledRule, policy: CompiledPolicy) -> str | None:
    # The online fold's cured_at: a cure at or after the record, once min_period has passed.
    # With cures ≤ as_of only, "a cure at or after it" is "the latest cure is at or after it".
    if rule.cured_by is None:
        return None
    cure = cure_columns(policy)[rule.cured_by]
    return f"COALESCE({cure} >= occurred_at AND age >= {rule.min_period_us}, FALSE)"


def _live(rule: CompiledRule, policy: CompiledPolicy) -> str | None:
    tests = [] if rule.expires_us is None else [f"age < {rule.expires_us}"]
    cured = _cured(rule, policy)
    if cured is not None:
        tests.append(f"NOT {cured}")
    return " AND ".join(tests) or None


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


def _first_hit(policy: CompiledPolicy, *, rows: int | None = None) -> str:
    # Rules grouped by type, in policy order within each type: a record is tested only
    # against its own type's rules, and the first whose conditions hold applies. With rule
    # groups, each record row is repeated once per group (``group_join``) and column ``grp``
    # picks the group whose first hit the row stands for. ``rows``: how many rows each
    # record is (more than the policy's groups in a joint plan; the rest hit nothing).
    rows = group_count(policy) if rows is None else rows
    arms = []
    for event_type, groups in policy.groups_by_type.items():
        chains = [
            "CASE "
            + " ".join(f"WHEN {_conditions(r, policy)} THEN {r.index}" for r in rules)
            + " END"
            for rules in groups
        ]
        if rows == 1:
            inner = chains[0]
        else:
            inner = (
                "CASE grp " + " ".join(f"WHEN {g} THEN {c}" for g, c in enumerate(chains)) + " END"
            )
        arms.append(f"WHEN {sql_literal(event_type, AttrType.STRING)} THEN {inner}")
    return f"CASE type {' '.join(arms)} END" if arms else "CAST(NULL AS INT)"


def group_count(policy: CompiledPolicy) -> int:
    """The most rule groups any event type has: how many rows each record becomes."""
    return max((len(groups) for groups in policy.groups_by_type.values()), default=1)


def group_join(policy: CompiledPolicy) -> str:
    """The join repeating each record once per rule group; empty without groups."""
    return _group_rows(group_count(policy))


def _group_rows(count: int) -> str:
    if count == 1:
        return ""
    rows = " UNION ALL ".join(f"SELECT {g} AS grp" for g in range(count))
    return f" CROSS JOIN ({rows}) g"


def _conditions(rule: CompiledRule, policy: CompiledPolicy) -> str:
    event = policy.policy.event_type(rule.type)
    declared = event.attributes if event else {}
    conditions = []
    for condition in rule.rule.when:
        spec = declared.get(condition.attr)
        if spec is None:
            raise PlanError(
                f"rule {rule.id!r} tests attribute {condition.attr!r}, "
                f"which event type {rule.type!r} does not declare"
            )
        conditions.append(sql_predicate(condition, spec.type, ATTRIBUTE_PREFIX + condition.attr))
    return sql_all_of(conditions)


def _counting(rule: CompiledRule, value: str, policy: CompiledPolicy) -> str:
    """A record's contribution from its (capped) points: decay, then expiry and cures."""
    decayed = _decayed(rule, value)
    live = _live(rule, policy)
    return decayed if live is None else f"CASE WHEN {live} THEN {decayed} ELSE {_ZERO} END"


_ZERO = "CAST(0.0 AS DOUBLE)"


def build_plan(
    policy: CompiledPolicy,
    *,
    as_of: int,
    dialect: Dialect = "duckdb",
    relation: str = "records",
    retractions: bool = True,
    rule_columns: bool = False,
) -> BatchPlan:
    """The batch query scoring every subject of ``relation`` as of ``as_of`` (epoch µs).

    With ``retractions=False`` the query assumes no record of ``relation``
    retracts another, and skips the withdrawn-record join; a runner that has
    checked its input for retractions may use it (see ``BatchPlan.unretracted_sql``).

    With ``rule_columns=True`` the result also holds, per rule, the subject's
    contribution from it (``rule_<index>``: what ``Outcome.by_rule`` gives,
    after caps, expiry and decay, before the dimension's bounds), from the
    same two-level cap pass: level 1 sums each rule in the one scan, level 2
    corrects only the rules whose caps bind. Summed over subjects, they are
    each rule's total contribution.

    Raises:
        PlanError: when the policy uses something the plan cannot express exactly.
    """
    q = _Sql(dialect)
    attributes = attribute_columns(policy)
    if dialect == "spark":
        _refuse_backslashes(policy)
    sql = _query(
        policy, q, as_of=as_of, relation=relation, retractions=retractions, by_rule=rule_columns
    )
    unretracted = (
        _query(policy, q, as_of=as_of, relation=relation, retractions=False, by_rule=rule_columns)
        if retractions
        else sql
    )
    dims = policy.dimension_ids
    return BatchPlan(
        sql=sql,
        unretracted_sql=unretracted,
        as_of=as_of,
        dialect=dialect,
        attributes=attributes,
        dimensions=tuple((d, DIMENSION_PREFIX + d) for d in dims),
        rules=tuple((r.index, f"{RULE_PREFIX}{r.index}") for r in policy.rules)
        if rule_columns
        else (),
    )


def _query(
    policy: CompiledPolicy,
    q: _Sql,
    *,
    as_of: int,
    relation: str,
    retractions: bool,
    by_rule: bool = False,
) -> str:
    ctes, carried = _scoring(
        [policy], q, as_of=as_of, relation=relation, retractions=retractions, by_rule=by_rule
    )
    return (
        "WITH "
        + ",\n".join(ctes)
        + ",\n"
        + finish_sql(policy, dialect=q.dialect, carried=carried[0])
    )


def _scoring(
    policies: Sequence[CompiledPolicy],
    q: _Sql,
    *,
    as_of: int,
    relation: str,
    retractions: bool,
    by_rule: bool,
) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """CTEs ending, per policy, in ``sums<tag>``; and per policy the carried rule columns.

    One policy has tag ""; several have tags "_0", "_1", … and share steps 1-2 and
    level 1: one read of the records, one withdrawn-record join, one ``GROUP BY``
    with every policy's sums (a column ``rule_ix<tag>`` per policy). Level 2 reads
    again, per policy, only its own suspects.
    """
    zero = _ZERO
    single = len(policies) == 1
    tags = [""] if single else [f"_{j}" for j in range(len(policies))]
    rel = q.ident(relation)
    per_attributes = sorted(
        {ATTRIBUTE_PREFIX + r.per for p in policies for r in p.rules if r.per is not None}
    )
    rows = max(group_count(p) for p in policies)

    # Step 1 and 2 in one pass over every record: the rule a record counts under, or NULL
    # when it counts under none (a retraction, withdrawn, after as_of, or no rule matches).
    # Every record stays, so every subject with any record appears in the result.
    counts = ["r.retracts IS NULL", f"r.occurred_at <= {as_of}"]
    joins = ""
    if retractions:
        ctes = [
            "withdrawn AS (SELECT DISTINCT subject_key, provider, retracts AS withdrawn_id "
            f"FROM {rel} WHERE retracts IS NOT NULL)"
        ]
        match = (
            "w.subject_key = r.subject_key AND w.provider = r.provider "
            "AND w.withdrawn_id = r.provider_event_id"
        )
        if q.dialect == "duckdb":
            # A mark join: DuckDB probes the small withdrawn set without widening rows.
            counts.append(f"NOT EXISTS (SELECT 1 FROM withdrawn w WHERE {match})")
        else:
            joins = f" LEFT JOIN withdrawn w ON {match}"
            counts.append("w.withdrawn_id IS NULL")
    else:
        ctes = []
    counted = " AND ".join(counts)
    cures = cure_columns(policies[0])
    cure_join = ""
    if cures:
        # Per subject, each cure type's latest counting record by as_of (step 1's records).
        latest = ", ".join(
            f"MAX(CASE WHEN r.type = {sql_literal(t, AttrType.STRING)} THEN r.occurred_at END) AS {c}"
            for t, c in cures.items()
        )
        types = ", ".join(sql_literal(t, AttrType.STRING) for t in cures)
        ctes.append(
            f"cures AS (SELECT r.subject_key AS subject_key, {latest} FROM {rel} r{joins} "
            f"WHERE {counted} AND r.type IN ({types}) GROUP BY r.subject_key)"
        )
        cure_join = " LEFT JOIN cures cu ON cu.subject_key = r.subject_key"

    def ruler(
        chosen: Sequence[tuple[CompiledPolicy, str]], count: int
    ) -> Callable[[str, str], str]:
        def ruled(columns: str, where: str = "") -> str:
            hits = "".join(
                f", CASE WHEN {counted} THEN {_first_hit(p, rows=count)} END AS rule_ix{tag}"
                for p, tag in chosen
            )
            return (
                f"SELECT {columns}{hits} FROM {rel} r{joins}{cure_join}{_group_rows(count)}{where}"
            )

        return ruled

    base = (
        "r.subject_key AS subject_key, r.occurred_at AS occurred_at, "
        + "".join(f"r.{a} AS {a}, " for a in per_attributes)
        + "".join(f"cu.{c} AS {c}, " for c in cures.values())
    )
    # Level 1, one GROUP BY subject: every rule's contribution as if no cap ever clamped,
    # summed per dimension, and per capped rule the sum of |raw points| over all periods.
    # A period clamps only if its positive or negative raw sum passes C, so a subject
    # whose |raw| sum for a rule fits under C has that rule exact already.
    sums = []
    for policy, tag in zip(policies, tags, strict=True):
        rules = policy.rules
        raw_of = {r.index: _raw_points(r, policy) for r in rules}
        ix = f"rule_ix{tag}"
        for i in range(len(policy.dimension_ids)):
            members = [r for r in rules if r.dimension == i]
            if members:
                arms = " ".join(
                    f"WHEN {r.index} THEN {_counting(r, raw_of[r.index], policy)}" for r in members
                )
                sums.append(f"SUM(CASE {ix} {arms} END) AS f{i}{tag}")
            else:
                sums.append(f"{zero} AS f{i}{tag}")
        for r in rules:
            if r.cap is not None:
                sums.append(
                    f"SUM(CASE WHEN {ix} = {r.index} THEN ABS({raw_of[r.index]}) END) "
                    f"AS a{r.index}{tag}"
                )
        if by_rule:
            # Each rule's own level-1 sum, in the same GROUP BY.
            for r in rules:
                sums.append(
                    f"SUM(CASE WHEN {ix} = {r.index} THEN "
                    f"{_counting(r, raw_of[r.index], policy)} END) AS p{r.index}{tag}"
                )
    everyone = ruler(list(zip(policies, tags, strict=True)), rows)
    ctes.append(
        f"ruled AS ({everyone(base + f'{as_of} - r.occurred_at AS age', '')}),\n"
        f"totals AS (SELECT subject_key, {', '.join(sums)} FROM ruled GROUP BY subject_key)"
    )
    carried_all = []
    for policy, tag in zip(policies, tags, strict=True):
        rules = policy.rules
        capped = [r for r in rules if r.cap is not None]
        telescoped = [r for r in capped if r.half_life_s is None]
        windowed = [r for r in capped if r.half_life_s is not None]
        deltas = ""
        if capped:
            own = ruler([(policy, "")], group_count(policy))
            ctes.append(
                _level_two(
                    policy,
                    q,
                    capped,
                    telescoped,
                    windowed,
                    own,
                    base,
                    as_of,
                    by_rule=by_rule,
                    tag=tag,
                )
            )
            deltas = f" LEFT JOIN deltas{tag} x ON x.subject_key = t.subject_key"
        values = []
        for i in range(len(policy.dimension_ids)):
            value = f"COALESCE(t.f{i}{tag}, {zero})"
            if capped and any(r.dimension == i for r in capped):
                value = f"{value} + COALESCE(x.x{i}, {zero})"
            values.append(f"{value} AS v{i}")
        carried: list[tuple[str, str]] = []
        if by_rule:
            for r in rules:
                value = f"COALESCE(t.p{r.index}{tag}, {zero})"
                if r.cap is not None:
                    value = f"{value} + COALESCE(x.y{r.index}, {zero})"
                values.append(f"{value} AS q{r.index}")
                carried.append((f"q{r.index}", f"{RULE_PREFIX}{r.index}"))
        ctes.append(
            f"sums{tag} AS (SELECT t.subject_key, {', '.join(values)} FROM totals t{deltas})"
        )
        carried_all.append(carried)
    return ctes, carried_all


def joint_sql(
    policies: Sequence[CompiledPolicy],
    *,
    as_of: int,
    dialect: Dialect = "duckdb",
    relation: str = "records",
    retractions: bool = True,
) -> str:
    """One query scoring every subject of ``relation`` under each of ``policies``, side by side.

    What ``build_plan(rule_columns=True)`` gives per policy, in one result:
    ``subject_key``, then for policy ``j`` the columns of its plan prefixed
    ``p<j>_`` (``p0_score``, ``p0_tier``, ``p0_dim_general``, ``p0_rule_3``…).
    The policies share the read of the records, the withdrawn-record join and
    level 1's ``GROUP BY`` (each record row carries one rule column per
    policy), so a backtest reads its records once, not once per policy.
    ``retractions=False`` as for ``build_plan``.

    Raises:
        PlanError: when a policy uses something the plan cannot express exactly,
            or two policies declare one event type's attributes differently.
    """
    q = _Sql(dialect)
    if not policies:
        raise PlanError("a joint plan needs at least one policy")
    _same_event_types(policies)
    # One set of cure columns for all: the cure types of any policy.
    cure_types = frozenset().union(*(p.cure_types for p in policies))
    shared = [replace(p, cure_types=cure_types) for p in policies]
    for p in shared:
        attribute_columns(p)
        if dialect == "spark":
            _refuse_backslashes(p)
    tags = [f"_{j}" for j in range(len(shared))] if len(shared) > 1 else [""]
    ctes, carried = _scoring(
        shared, q, as_of=as_of, relation=relation, retractions=retractions, by_rule=True
    )
    if len(shared) == 1:
        tags = ["_0"]
        ctes = [
            c.replace("sums AS (", "sums_0 AS (", 1) if c.startswith("sums AS") else c for c in ctes
        ]
    columns = ["f0.subject_key AS subject_key"]
    joins = []
    for j, (policy, tag) in enumerate(zip(shared, tags, strict=True)):
        finish, outputs = _finish(policy, q, carried=carried[j], tag=tag)
        ctes += finish
        columns += [f"f{j}.{c} AS {q.ident(f'p{j}_{name}')}" for c, name in outputs]
        if j:
            joins.append(f" JOIN finals{tag} f{j} ON f{j}.subject_key = f0.subject_key")
    return (
        "WITH "
        + ",\n".join(ctes)
        + f"\nSELECT {', '.join(columns)} FROM finals{tags[0]} f0{''.join(joins)} "
        "ORDER BY subject_key"
    )


def _same_event_types(policies: Sequence[CompiledPolicy]) -> None:
    declared: dict[str, object] = {}
    for p in policies:
        for event in p.policy.event_types:
            seen = declared.setdefault(event.id, event.attributes)
            if seen != event.attributes:
                raise PlanError(
                    f"event type {event.id!r} declares its attributes differently in "
                    f"{p.policy.name} {p.policy.version}; one joint plan cannot read both",
                    suggestion="run each policy's own plan",
                )


def finish_sql(
    policy: CompiledPolicy,
    *,
    dialect: Dialect = "duckdb",
    carried: Sequence[tuple[str, str]] = (),
) -> str:
    """Steps 7-8 over a CTE ``sums(subject_key, v0, …)`` of dimension sums (NULL is 0).

    The tail of a ``WITH`` list: more CTEs, then the final ``SELECT`` in the
    plan's output shape, ordered by subject. Each ``(column, output)`` of
    ``carried`` is a further column of ``sums`` passed through to the result
    as ``output``, after the dimensions.
    """
    q = _Sql(dialect)
    ctes, outputs = _finish(policy, q, carried=carried, tag="")
    columns = ", ".join(c if c == name else f"{c} AS {q.ident(name)}" for c, name in outputs)
    return ",\n".join(ctes) + f"\nSELECT {columns} FROM finals ORDER BY subject_key"


def _finish(
    policy: CompiledPolicy, q: _Sql, *, carried: Sequence[tuple[str, str]], tag: str
) -> tuple[list[str], list[tuple[str, str]]]:
    """Steps 7-8 from ``sums<tag>``: CTEs ending in ``finals<tag>``, and its output columns."""
    zero = _ZERO
    dims = policy.dimension_ids
    clamped = []
    for i, dim in enumerate(dims):
        lower = policy.lower[i]
        upper = policy.upper[i]
        clamped.append(
            _clamp(
                f"COALESCE(v{i}, {zero})",
                None if lower is None else _num(lower, f"dimension {dim!r} min"),
                None if upper is None else _num(upper, f"dimension {dim!r} max"),
            )
            + f" AS d{i}"
        )
    passed = "".join(f", {column}" for column, _ in carried)
    ctes = [f"dims{tag} AS (SELECT subject_key, {', '.join(clamped)}{passed} FROM sums{tag})"]
    total = _num(policy.base, "scale base")
    for i, dim in enumerate(dims):
        total = f"{total} + {_num(policy.weights[i], f'dimension {dim!r} weight')} * d{i}"
    scale_raw = _clamp(total, _num(policy.min, "scale min"), _num(policy.max, "scale max"))
    ctes.append(f"raws{tag} AS (SELECT dims{tag}.*, {scale_raw} AS raw FROM dims{tag})")
    ctes.append(
        f"scored{tag} AS (SELECT raws{tag}.*, "
        "CAST(FLOOR(ROUND(raw, 9) + CAST(0.5 AS DOUBLE)) AS BIGINT) "
        f"AS score FROM raws{tag})"
    )
    tier_arms = " ".join(
        f"WHEN score >= {_num(m, 'tier min')} THEN {sql_literal(t, AttrType.STRING)}"
        for t, m in zip(policy.tier_ids, policy.tier_mins, strict=True)
    )
    tier = (
        f"CASE {tier_arms} ELSE CAST(NULL AS VARCHAR) END" if tier_arms else "CAST(NULL AS VARCHAR)"
    )
    if q.dialect == "spark":
        tier = tier.replace("AS VARCHAR)", "AS STRING)")
    ctes.append(f"finals{tag} AS (SELECT scored{tag}.*, {tier} AS tier FROM scored{tag})")
    outputs = [("subject_key", "subject_key"), ("score", "score"), ("raw", "raw"), ("tier", "tier")]
    outputs += [(f"d{i}", DIMENSION_PREFIX + d) for i, d in enumerate(dims)]
    outputs += [(column, output) for column, output in carried]
    return ctes, outputs


def capped_records_sql(policy: CompiledPolicy, *, relation: str = "records") -> str:
    """DuckDB SQL giving every record of ``relation`` its rule and capped points, at no as-of.

    Columns ``subject_key, occurred_at, rule_ix, capped``; ``rule_ix`` and
    ``capped`` are NULL for a record that counts under no rule at any time (a
    retraction, withdrawn, or matching no rule). Caps are taken over every
    such record; a record's capped points depend only on records before it
    in count order, so they hold for every as-of at or after it (step 4).
    """
    q = _Sql("duckdb")
    rel = q.ident(relation)
    rules = policy.rules
    capped = [r for r in rules if r.cap is not None]
    per_attributes = sorted({ATTRIBUTE_PREFIX + r.per for r in rules if r.per is not None})
    raw = _by_rule(rules, {r.index: _raw_points(r, policy) for r in rules}, "NULL")
    match = (
        "w.subject_key = r.subject_key AND w.provider = r.provider "
        "AND w.withdrawn_id = r.provider_event_id"
    )
    ctes = [
        "withdrawn AS (SELECT DISTINCT subject_key, provider, retracts AS withdrawn_id "
        f"FROM {rel} WHERE retracts IS NOT NULL)",
        "ruled AS (SELECT r.subject_key AS subject_key, r.occurred_at AS occurred_at, "
        "r.provider AS provider, r.provider_event_id AS provider_event_id, "
        + "".join(f"r.{a} AS {a}, " for a in per_attributes)
        + f"CASE WHEN r.retracts IS NULL AND NOT EXISTS (SELECT 1 FROM withdrawn w WHERE {match}) "
        f"THEN {_first_hit(policy)} END AS rule_ix FROM {rel} r{group_join(policy)})",
        f"scored AS (SELECT subject_key, occurred_at, provider, provider_event_id, rule_ix, "
        f"{raw} AS raw, {_period(capped, q)} AS period FROM ruled)",
    ]
    if not capped:
        return (
            "WITH "
            + ",\n".join(ctes)
            + ("\nSELECT subject_key, occurred_at, rule_ix, raw AS capped FROM scored")
        )
    zero = _ZERO
    cap = {r.index: _num(r.cap or 0.0, f"rule {r.id!r} cap") for r in capped}
    neg = {i: f"-{c}" for i, c in cap.items()}
    low, high = _by_rule(capped, neg, zero), _by_rule(capped, cap, zero)
    window = "PARTITION BY subject_key, rule_ix, period ORDER BY occurred_at, provider, provider_event_id"
    ctes.append(
        "clamping AS (SELECT subject_key, rule_ix, period FROM scored "
        f"WHERE rule_ix IN ({_ids(capped)}) GROUP BY subject_key, rule_ix, period "
        f"HAVING NOT (SUM(GREATEST(raw, {zero})) <= {high} AND SUM(LEAST(raw, {zero})) >= {low}))"
    )
    clamps = (
        "EXISTS (SELECT 1 FROM clamping k WHERE k.subject_key = s.subject_key "
        "AND k.rule_ix = s.rule_ix AND k.period = s.period)"
    )
    steps = f"{_clamp('s_to', low, high)} - {_clamp('s_before', low, high)}"
    return (
        "WITH "
        + ",\n".join(ctes)
        + f"\nSELECT subject_key, occurred_at, rule_ix, raw AS capped FROM scored s WHERE NOT {clamps}"
        + f"\nUNION ALL SELECT subject_key, occurred_at, rule_ix, {steps} AS capped FROM ("
        "SELECT subject_key, occurred_at, rule_ix, "
        f"SUM(raw) OVER ({window} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS s_to, "
        f"COALESCE(SUM(raw) OVER ({window} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), "
        f"{zero}) AS s_before FROM scored s WHERE {clamps}) steps"
    )


def _period(capped: Sequence[CompiledRule], q: _Sql) -> str:
    """The calendar period of a capped rule's record (UTC day, month or year), else NULL."""
    day = (
        f"CAST((occurred_at - (((occurred_at % {DAY_US}) + {DAY_US}) % {DAY_US})) "
        f"/ {DAY_US} AS BIGINT)"
    )
    stamp = q.timestamp("occurred_at")
    by_period = {CAP_DAY: day, CAP_MONTH: f"(year({stamp}) * 12 + month({stamp}) - 1)"}
    return _by_rule(
        capped,
        {r.index: by_period.get(r.cap_period or 0, f"year({stamp})") for r in capped},
        "CAST(NULL AS BIGINT)",
    )


def _level_two(
    policy: CompiledPolicy,
    q: _Sql,
    capped: Sequence[CompiledRule],
    telescoped: Sequence[CompiledRule],
    windowed: Sequence[CompiledRule],
    ruled: Callable[[str, str], str],
    base: str,
    as_of: int,
    *,
    by_rule: bool = False,
    tag: str = "",
) -> str:
    """CTEs ending in ``deltas``: per subject and dimension, exact capped minus uncapped value.

    CTE names end in ``tag`` (one set per policy of a joint plan), as do the
    ``totals`` columns read. With ``by_rule``, ``deltas`` also holds the same per capped rule (``y<index>``).

    Only (subject, rule) pairs whose |raw| sum passes C are read again, and of
    their periods only those whose positive or negative raw sum passes C
    (the ones that clamp) change anything.
    """
    zero = _ZERO
    cap = {r.index: _num(r.cap or 0.0, f"rule {r.id!r} cap") for r in capped}
    neg = {i: f"-{c}" for i, c in cap.items()}
    low, high = _by_rule(capped, neg, zero), _by_rule(capped, cap, zero)
    suspects = " UNION ALL ".join(
        f"SELECT subject_key, {r.index} AS rule_ix FROM totals WHERE a{r.index}{tag} > {cap[r.index]}"
        for r in capped
    )
    period = _period(capped, q)
    raw = _by_rule(capped, {r.index: _raw_points(r, policy) for r in capped}, zero)
    columns = (
        base
        + f"{as_of} - r.occurred_at AS age, r.provider AS provider, "
        + ("r.provider_event_id AS provider_event_id")
    )
    # Only suspect subjects' records are read again: one integer semi-join on the scan,
    # before matching rules and looking for withdrawn records.
    pick = f" WHERE r.subject_key IN (SELECT subject_key FROM suspects{tag})"
    carried = "".join(f"{c}, " for c in cure_columns(policy).values())
    ctes = [
        f"suspects{tag} AS ({suspects})",
        f"caprows{tag} AS (SELECT subject_key, occurred_at, provider, provider_event_id, age, rule_ix, "
        f"{carried}{raw} AS raw, {period} AS period FROM ({ruled(columns, pick)}) c "
        f"WHERE EXISTS (SELECT 1 FROM suspects{tag} s "
        "WHERE s.subject_key = c.subject_key AND s.rule_ix = c.rule_ix))",
    ]
    # Expired and cured records alike are a prefix of the count order: each test is
    # "occurred at or before some time" (as_of - expiry; min(latest cure, as_of - min_period)).
    dead = {}
    for r in telescoped:
        tests = [] if r.expires_us is None else [f"age >= {r.expires_us}"]
        cured = _cured(r, policy)
        if cured is not None:
            tests.append(cured)
        dead[r.index] = " OR ".join(f"({t})" for t in tests) or "FALSE"
    spans = (
        "SELECT subject_key, rule_ix, period, "
        f"SUM(GREATEST(raw, {zero})) AS s_pos, SUM(LEAST(raw, {zero})) AS s_neg"
    )
    if telescoped:
        spans += (
            f", SUM(raw) AS s_all, SUM(CASE WHEN {_by_rule(telescoped, dead, 'FALSE')} "
            f"THEN raw ELSE {zero} END) AS s_dead"
        )
    ctes.append(f"spans{tag} AS ({spans} FROM caprows{tag} GROUP BY subject_key, rule_ix, period)")
    ctes.append(
        f"clamping{tag} AS (SELECT * FROM spans{tag} WHERE NOT (s_pos <= {high} AND s_neg >= {low}))"
    )
    parts = []
    if telescoped:
        # Expired records are the oldest, a prefix of the count order: the live steps of
        # a period telescope to clamp(S_all) - clamp(S_expired).
        exact = f"{_clamp('s_all', low, high)} - {_clamp('s_dead', low, high)}"
        parts.append(
            f"SELECT subject_key, rule_ix, ({exact}) - (s_all - s_dead) AS v "
            f"FROM clamping{tag} WHERE rule_ix IN ({_ids(telescoped)})"
        )
    if windowed:
        window = (
            "PARTITION BY subject_key, rule_ix, period "
            "ORDER BY occurred_at, provider, provider_event_id"
        )
        step = f"({_clamp('s_to', low, high)} - {_clamp('s_before', low, high)} - raw)"
        fix = _by_rule(windowed, {r.index: _counting(r, step, policy) for r in windowed}, zero)
        parts.append(
            f"SELECT subject_key, rule_ix, {fix} AS v FROM ("
            f"SELECT subject_key, rule_ix, occurred_at, age, {carried}raw, "
            f"SUM(raw) OVER ({window} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS s_to, "
            f"COALESCE(SUM(raw) OVER ({window} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), "
            f"{zero}) AS s_before FROM caprows{tag} c WHERE rule_ix IN ({_ids(windowed)}) "
            f"AND EXISTS (SELECT 1 FROM clamping{tag} k WHERE k.subject_key = c.subject_key "
            "AND k.rule_ix = c.rule_ix AND k.period = c.period)) steps"
        )
    ctes.append(f"fixes{tag} AS (" + " UNION ALL ".join(parts) + ")")
    sums = []
    for i in range(len(policy.dimension_ids)):
        members = [r for r in capped if r.dimension == i]
        if members:
            sums.append(f"SUM(CASE WHEN rule_ix IN ({_ids(members)}) THEN v END) AS x{i}")
    if by_rule:
        sums += [f"SUM(CASE WHEN rule_ix = {r.index} THEN v END) AS y{r.index}" for r in capped]
    ctes.append(
        f"deltas{tag} AS (SELECT subject_key, {', '.join(sums)} FROM fixes{tag} GROUP BY subject_key)"
    )
    return ",\n".join(ctes)
