"""Loading a policy from YAML, with every problem located by path and line."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from credence.errors import CredenceError, PolicyError, PolicyNotFound
from credence.policy.check import Problem, check_references, suggest
from credence.policy.model import Policy

PathParts = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with the exact text it came from and that text's digest."""

    policy: Policy
    source: str
    digest: str
    origin: str


class SourceMap:
    """Line numbers (1-based) of every mapping key and sequence item in a YAML text."""

    def __init__(self, text: str) -> None:
        self._lines: dict[PathParts, int] = {}
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            root = None
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: PathParts) -> None:
        self._lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                self._lines[(*path, key)] = key_node.start_mark.line + 1
                self._walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*path, index))

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of the deepest known prefix of ``path``."""
        parts = tuple(path)
        while parts:
            if parts in self._lines:
                return self._lines[parts]
            parts = parts[:-1]
        return self._lines.get(())


def dotted(path: Sequence[str | int]) -> str:
    """``rules[1].when[0].attr`` from ``("rules", 1, "when", 0, "attr")``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_policy(text: str, *, origin: str = "<policy>") -> LoadedPolicy:
    """Validate a policy text completely, reporting every problem at once.

    Raises:
        PolicyError: with one entry in ``problems`` per problem, each located.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise PolicyError(
            f"not valid YAML: {getattr(e, 'problem', None) or e}",
            path=origin,
            line=mark.line + 1 if mark else None,
        ) from e
    if not isinstance(data, dict):
        raise PolicyError(
            "a policy must be a YAML mapping (credence: 1, name: ..., ...)", path=origin
        )
    source_map = SourceMap(text)
    problems = _shape_problems(data)
    policy: Policy | None = None
    if not problems:
        policy = Policy.model_validate(data)
        problems = check_references(policy)
    if problems:
        errors = [_located(p, source_map, origin) for p in problems]
        count = len(errors)
        first = errors[0]
        raise PolicyError(
            f"{count} problem{'s' if count > 1 else ''} in policy; first: {first.message}",
            path=origin,
            line=first.line,
            suggestion=first.suggestion,
            problems=errors,
        )
    assert policy is not None
    digest = hashlib.sha256(text.encode()).hexdigest()
    return LoadedPolicy(policy=policy, source=text, digest=digest, origin=origin)


def load_policy(path: str | Path) -> LoadedPolicy:
    """Read and validate a policy file.

    Raises:
        PolicyNotFound: when the file does not exist.
        PolicyError: when it is not a valid policy.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise PolicyNotFound(f"no policy file at {file}", path=str(file)) from e
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"cannot read policy file: {e}", path=str(file)) from e
    return parse_policy(text, origin=str(file))


def _shape_problems(data: dict[str, Any]) -> list[Problem]:
    try:
        Policy.model_validate(data)
    except ValidationError as e:
        return [_from_pydantic(err, data) for err in e.errors(include_url=False)]
    return []


def _from_pydantic(err: Any, data: dict[str, Any]) -> Problem:
    loc: PathParts = tuple(p for p in err["loc"] if not _is_union_tag(p))
    message = err["msg"].removeprefix("Value error, ")
    suggestion = None
    if err["type"] == "extra_forbidden" and loc:
        allowed = _allowed_keys(loc[:-1], data)
        hint = suggest(str(loc[-1]), allowed)
        message = f"unknown key {loc[-1]!r}"
        suggestion = hint or (f"allowed keys: {', '.join(sorted(allowed))}" if allowed else None)
    elif err["type"] == "missing" and loc:
        message = f"missing required key {loc[-1]!r}"
    return Problem(loc, message, suggestion)


def _is_union_tag(part: Any) -> bool:
    # pydantic adds union member names such as "str" or "list[...]" to locations
    return isinstance(part, str) and (
        part in {"str", "bool", "int", "float"} or "[" in part or part.startswith("function-")
    )


def _allowed_keys(parent: PathParts, data: dict[str, Any]) -> list[str]:
    from credence.policy import model

    sections: dict[str, type[BaseModel]] = {
        "scale": model.Scale,
        "dimensions": model.Dimension,
        "event_types": model.EventType,
        "rules": model.Rule,
        "tiers": model.Tier,
        "entitlements": model.Entitlement,
        "lists": model.SubjectList,
    }
    named = [p for p in parent if isinstance(p, str)]
    if not named:
        return list(model.Policy.model_fields)
    last = named[-1]
    if last in ("when",) and named[0] in ("entitlements", "lists"):
        return list(model.EntitlementCondition.model_fields)
    if last in ("all", "any"):
        return list(model.EntitlementCondition.model_fields)
    if last == "when":
        return list(model.Condition.model_fields)
    if last == "cap":
        return list(model.Cap.model_fields)
    if len(named) >= 2 and named[-2] == "attributes":
        return list(model.AttributeSpec.model_fields)
    cls = sections.get(last)
    return list(cls.model_fields) if cls else []


def _located(problem: Problem, source_map: SourceMap, origin: str) -> CredenceError:
    return PolicyError(
        f"{dotted(problem.path)}: {problem.message}",
        path=origin,
        line=source_map.line(problem.path),
        suggestion=problem.suggestion,
    )
