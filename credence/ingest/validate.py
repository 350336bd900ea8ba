"""Checking each row read from an input against the interchange format and the active policy.

A row becomes either a ``Checked`` record (validated, identifier normalised,
subject lookup and content hash computed) or a ``Reject`` with a code. Only
declared attributes are ever kept: an undeclared one rejects the row, so data
the policy has no use for is never stored. Checks that need the ledger (the
subject's stored kind, a retraction's target) are made by the ingest service.

This runs once per row of files with millions of rows, so it avoids pydantic
and caches what repeats (identifiers, their lookup hashes, dates and times of
day). ``Validator.check`` first tries a quick path, compiled once per event
type from the policy, that only ever *accepts*: a row it is not sure of (a
retraction, a null or missing attribute, an unusual timestamp shape, any
doubt at all) goes to the general path, which makes every check in order and
words every reject. The two produce identical records and content hashes;
``tests/ingest/test_quick_path.py`` checks that on generated rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any, TypeVar

from credence.canonical import (
    WHOLE_RANGE,
    canonical_attributes,
    content_hash,
    record_digest,
)
from credence.errors import IdentifierError
from credence.ingest import rejects as codes
from credence.ingest.formats import ATTR_PREFIX, FIELDS, REQUIRED, RawRow
from credence.ingest.identifiers import SCHEME_KINDS, check_kind, known_scheme, normalise
from credence.ingest.rejects import Reject
from credence.ingest.timestamps import parse_occurred_at, read_exactly, read_quickly
from credence.policy.check import suggest
from credence.policy.model import AttrType, Policy
from credence.types import Record

KINDS = frozenset({"person", "organization"})
MAX_TEXT = 200
MAX_EVIDENCE = 2_048
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what every ledger backend stores exactly
_FIELD_SET = frozenset(FIELDS)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_HEX_HASH = re.compile(r"[0-9A-Fa-f]{32,128}")
_INT_TEXT = re.compile(r"[+-]?\d+")
_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CACHE_LIMIT = 1_000_000
WITHHELD = "(withheld: undeclared attribute)"


@dataclass(slots=True)
class Checked:
    """A row that passed every check that needs no ledger, ready to append (never mutated)."""

    line: int
    raw: Any
    record: Record
    scheme: str
    subject_id: str  # normalised
    kind: str
    lookup: bytes
    content_hash: bytes


class _Refused(Exception):
    """Internal: a row fails a check; carries the reject's code, field and message."""

    def __init__(
        self, code: str, field: str | None, message: str, *, withhold: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message
        self.withhold = withhold


@dataclass(frozen=True, slots=True)
class _BadIdentifier:
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class _TypeSpec:
    providers: frozenset[str]
    attributes: Mapping[str, AttrType]
    # The Python type a JSON value of each attribute has in the common case.
    python: Mapping[str, type] = field(default_factory=dict)


_T = TypeVar("_T")
_NOT = object()  # a CSV cell that is not a value of its declared type

_PYTHON = {
    AttrType.INTEGER: int,
    AttrType.NUMBER: float,
    AttrType.STRING: str,
    AttrType.BOOLEAN: bool,
}


def _typed(name: str, value: Any, attr_type: AttrType) -> Any:
    """An attribute value from JSON or Parquet, if it has its declared type."""
    kind = type(value)
    if attr_type is AttrType.INTEGER:
        ok = kind is int and INT_MIN <= value <= INT_MAX
    elif attr_type is AttrType.NUMBER:
        ok = (kind is int and INT_MIN <= value <= INT_MAX) or (
            kind is float and math.isfinite(value)
        )
    elif attr_type is AttrType.STRING:
        ok = kind is str
    else:
        ok = kind is bool
    if not ok:
        raise _Refused(
            codes.ATTRIBUTE_TYPE,
            f"attributes.{name}",
            f"attribute {name!r} must be {_article(attr_type)}{_range(attr_type)}, got {value!r}",
        )
    return value


def _text_value(text: str, attr_type: AttrType) -> Any:
    """An attribute value from CSV text, read according to its declared type; ``_NOT`` if none."""
    if attr_type is AttrType.STRING:
        return text
    if attr_type is AttrType.INTEGER:
        if _INT_TEXT.fullmatch(text) and INT_MIN <= int(text) <= INT_MAX:
            return int(text)
    elif attr_type is AttrType.NUMBER:
        if _INT_TEXT.fullmatch(text) and INT_MIN <= int(text) <= INT_MAX:
            return int(text)
        if _NUMBER_TEXT.fullmatch(text) and math.isfinite(float(text)):
            return float(text)
    else:
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return _NOT


def _from_text(name: str, text: str, attr_type: AttrType) -> Any:
    """An attribute value from CSV text, read according to its declared type."""
    value = _text_value(text, attr_type)
    if value is _NOT:
        raise _Refused(
            codes.ATTRIBUTE_TYPE,
            f"attributes.{name}",
            f"attribute {name!r} must be {_article(attr_type)}{_range(attr_type)}, got {text!r}",
        )
    return value


def _withheld(raw: Any, names: tuple[str, ...]) -> Any:
    """The row for a rejects file without the values of undeclared attributes.

    Data the policy has no use for is not copied anywhere, the rejects file included.
    """
    if type(raw) is not dict:
        return raw
    out = dict(raw)
    attributes = out.get("attributes")
    if type(attributes) is dict:
        out["attributes"] = {k: WITHHELD if k in names else v for k, v in attributes.items()}
    elif isinstance(attributes, str) and attributes:
        out["attributes"] = WITHHELD
    for name in names:
        if ATTR_PREFIX + name in out:
            out[ATTR_PREFIX + name] = WITHHELD
    return out


def _range(attr_type: AttrType) -> str:
    if attr_type in (AttrType.INTEGER, AttrType.NUMBER):
        return " (whole numbers within ±2^63)"
    return ""


def _article(attr_type: AttrType) -> str:
    return {
        AttrType.INTEGER: "an integer",
        AttrType.NUMBER: "a number",
        AttrType.STRING: "a string",
        AttrType.BOOLEAN: "a boolean (true or false)",
    }[attr_type]


def _text(fields: Mapping[str, Any], name: str) -> str:
    """A required text field: present, a string, not empty, no surrounding spaces."""
    value = fields.get(name)
    if value is None or value == "":
        raise _Refused(codes.MISSING, name, f"{name} is required")
    if type(value) is not str:
        raise _Refused(codes.INVALID, name, f"{name} must be a string, got {value!r}")
    if len(value) > MAX_TEXT and name != "occurred_at":
        raise _Refused(codes.INVALID, name, f"{name} is longer than {MAX_TEXT} characters")
    return value


def _trimmed(name: str, value: str) -> str:
    if value != value.strip():
        raise _Refused(codes.INVALID, name, f"{name} {value!r} has leading or trailing spaces")
    return value


def frozen_constructor(cls: type[_T]) -> Callable[..., _T]:
    """``cls(...)`` for a frozen, slotted dataclass, every field given in order, made cheaper.

    A frozen dataclass sets each field through ``object.__setattr__``, which
    cost a tenth of a row's checking; this sets the same slots directly.
    Generated from the dataclass's own fields, so it cannot miss one; a class
    with a ``__post_init__`` (or no slots) gets its own constructor.
    """
    names = [f.name for f in dataclass_fields(cls)]  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or "__slots__" not in cls.__dict__:
        return cls
    namespace: dict[str, Any] = {"new": object.__new__, "C": cls}
    for index, name in enumerate(names):
        namespace[f"S{index}"] = cls.__dict__[name].__set__
    args = ", ".join(f"a{i}" for i in range(len(names)))
    sets = "".join(f"    S{i}(r, a{i})\n" for i in range(len(names)))
    source = f"def make({args}):\n    r = new(C)\n{sets}    return r\n"
    exec(compile(source, f"<credence {cls.__name__}>", "exec"), namespace)
    make: Callable[..., _T] = namespace["make"]
    return make


_record = frozen_constructor(Record)

_Subject = tuple[str, bytes, str, str | None]
"""A valid identifier: normalised, its lookup hash, that hash in hex, the one kind its scheme allows."""


@dataclass(frozen=True, slots=True)
class _QuickType:
    """What the quick path needs of one event type, built once from the policy."""

    providers: frozenset[str]
    typed: Callable[[Any], Mapping[str, Any] | None]  # JSON/Parquet attributes → as hashed
    from_text: Callable[[Any], dict[str, Any] | None]  # CSV text attributes → values


def _compile_typed(attributes: Mapping[str, AttrType]) -> Callable[[Any], Mapping[str, Any] | None]:
    """A function accepting exactly the declared attributes, each present with its type.

    It returns the attributes as hashed (``canonical_attributes``), or None for
    anything else (absent, null, undeclared, mistyped, non-finite, out of range),
    which the general path then words. Generated Python, like the engine's
    ``first_hit``: attribute names are bound as constants, never pasted in.
    """
    constants: dict[str, Any] = {
        "INT_MIN": INT_MIN,
        "INT_MAX": INT_MAX,
        "LOW": WHOLE_RANGE[0],
        "HIGH": WHOLE_RANGE[1],
    }
    body = [
        "def typed(value):",
        f"    if type(value) is not dict or len(value) != {len(attributes)}:",
        "        return None",
    ]
    floats = []
    for index, (name, attr_type) in enumerate(attributes.items()):
        a = f"a{index}"
        constants[f"N{index}"] = name
        body.append(f"    {a} = value.get(N{index})")
        if attr_type is AttrType.INTEGER:
            body.append(f"    if type({a}) is not int or not INT_MIN <= {a} <= INT_MAX:")
        elif attr_type is AttrType.NUMBER:
            floats.append(index)
            body += [
                f"    t{index} = type({a})",
                f"    if t{index} is float:",
                f"        if {a} - {a} != 0:",  # NaN or infinite
                "            return None",
                f"    elif t{index} is not int or not INT_MIN <= {a} <= INT_MAX:",
            ]
        else:
            body.append(f"    if type({a}) is not {_PYTHON[attr_type].__name__}:")
        body.append("        return None")
    if floats:
        # As canonical_attributes has it (so the hash agrees): whole floats in range as integers.
        whole = " or ".join(f"(t{i} is float and a{i}.is_integer())" for i in floats)
        items = ", ".join(
            f"N{i}: int(a{i}) if t{i} is float and a{i}.is_integer() and LOW <= a{i} < HIGH"
            f" else a{i}"
            if i in floats
            else f"N{i}: a{i}"
            for i in range(len(attributes))
        )
        body += [f"    if {whole}:", f"        return {{{items}}}"]
    body.append("    return value")
    namespace = dict(constants)
    exec(compile("\n".join(body) + "\n", "<credence attributes>", "exec"), namespace)
    typed: Callable[[Any], Mapping[str, Any] | None] = namespace["typed"]
    return typed


def _compile_text(attributes: Mapping[str, AttrType]) -> Callable[[Any], dict[str, Any] | None]:
    """Like ``_compile_typed`` for CSV text cells: the values read by type, or None."""
    count = len(attributes)

    def from_text(value: Any) -> dict[str, Any] | None:
        if type(value) is not dict or len(value) != count:
            return None
        out = {}
        for name, item in value.items():
            attr_type = attributes.get(name)
            if attr_type is None or type(item) is not str:
                return None
            converted = _text_value(item, attr_type)
            if converted is _NOT:
                return None
            out[name] = converted
        return out

    return from_text


class Validator:
    """Checks rows against one policy; computes subject lookups through ``lookup``."""

    def __init__(self, policy: Policy, *, lookup: Callable[[str, str], bytes]) -> None:
        self._lookup = lookup
        self._types = {
            event.id: _TypeSpec(
                frozenset(event.providers),
                {name: spec.type for name, spec in event.attributes.items()},
                {name: _PYTHON[spec.type] for name, spec in event.attributes.items()},
            )
            for event in policy.event_types
        }
        self._quick_types = {
            type_id: _QuickType(
                frozenset(p for p in spec.providers if p),  # "" is refused as missing
                _compile_typed(spec.attributes),
                _compile_text(spec.attributes),
            )
            for type_id, spec in self._types.items()
            if type_id
        }
        # scheme → identifier as given → what it is; one level per scheme saves a tuple per row.
        self._subjects: dict[str, dict[str, _Subject | _BadIdentifier]] = {}
        self._subject_count = 0

    def check(self, row: RawRow) -> Checked | Reject:
        """The row as a validated record, or the first reason it is refused."""
        return self.quick(row) or self.check_general(row)

    def check_general(self, row: RawRow) -> Checked | Reject:
        """``check`` without the quick path: every check in order (the reference)."""
        fields = row.fields
        if fields is None:
            return Reject(row.line, codes.MALFORMED, None, row.error or "unreadable row", row.raw)
        try:
            return self._check(row, fields)
        except _Refused as refused:
            raw = _withheld(row.raw, refused.withhold) if refused.withhold else row.raw
            return Reject(row.line, refused.code, refused.field, refused.message, raw)

    def quick(self, row: RawRow) -> Checked | None:
        """The row's record when it is plainly valid and no retraction; None leaves it to ``check_general``.

        It accepts only what the general path accepts, with the same record and
        hash, and refuses nothing itself, so every reject keeps its wording.
        """
        fields = row.fields
        if fields is None:
            return None
        try:
            provider = fields["provider"]
            event_id = fields["provider_event_id"]
            scheme = fields["subject_scheme"]
            subject_id = fields["subject_id"]
            kind = fields["subject_kind"]
            type_ = fields["type"]
            occurred = fields["occurred_at"]
        except KeyError:
            return None
        if not (
            type(provider) is str
            and type(event_id) is str
            and type(scheme) is str
            and type(subject_id) is str
            and type(kind) is str
            and type(type_) is str
            and type(occurred) is str
            and scheme
            and 0 < len(subject_id) <= MAX_TEXT
            and 0 < len(event_id) <= MAX_TEXT
            and event_id == event_id.strip()
            and kind in KINDS
        ):
            return None
        attributes: Any = fields.get("attributes")
        evidence = None
        if len(fields) != 8 or attributes is None:
            # Not exactly the seven required fields and attributes: look closer.
            if fields.get("retracts") is not None or not _FIELD_SET.issuperset(fields):
                return None
            evidence = fields.get("evidence")
            if evidence is not None and not (
                type(evidence) is str
                and 0 < len(evidence) <= MAX_EVIDENCE
                and (_URI.fullmatch(evidence) or _HEX_HASH.fullmatch(evidence))
            ):
                return None
        spec = self._quick_types.get(type_)
        if spec is None or provider not in spec.providers:
            return None
        occurred_at = read_quickly(occurred)
        if occurred_at is None:
            try:
                occurred_at = read_exactly(occurred)
            except ValueError:
                return None
        ids = self._subjects.get(scheme)
        subject = ids.get(subject_id) if ids is not None else None
        if subject is None:
            subject = self._resolve(scheme, subject_id)
        if type(subject) is not tuple:
            return None  # a bad identifier: the general path words it
        normalised, lookup, hexed, only = subject
        if only is not None and only != kind:
            return None
        if row.text_attributes:
            values = spec.from_text(attributes)
            if values is None:
                return None
            attributes = values
            hashed = canonical_attributes(values)
        else:
            hashed_or_none = spec.typed(attributes)
            if hashed_or_none is None:
                return None
            hashed = hashed_or_none
        record = _record(provider, event_id, type_, occurred_at, attributes, None, evidence)
        digest = record_digest(
            (provider, event_id, hexed, kind, type_, occurred_at, hashed, evidence, None)
        )
        return Checked(row.line, row.raw, record, scheme, normalised, kind, lookup, digest)

    def _resolve(self, scheme: str, subject_id: str) -> _Subject | _BadIdentifier:
        """What an identifier is (normalised and its lookup, or why not), cached."""
        ids = self._subjects.get(scheme)
        if ids is None:
            ids = self._subjects[scheme] = {}
        known = ids.get(subject_id)
        if known is not None:
            return known
        try:
            normalised = normalise(scheme, subject_id)
            lookup = self._lookup(scheme, normalised)
            known = (normalised, lookup, lookup.hex(), SCHEME_KINDS.get(scheme))
        except IdentifierError as e:
            field = "subject_id" if known_scheme(scheme) else "subject_scheme"
            hint = f" ({e.suggestion})" if e.suggestion else ""
            known = _BadIdentifier(field, e.message + hint)
        if self._subject_count >= _CACHE_LIMIT:
            self._subjects.clear()
            self._subject_count = 0
            ids = self._subjects[scheme] = {}
        ids[subject_id] = known
        self._subject_count += 1
        return known

    def _check(self, row: RawRow, fields: dict[str, Any]) -> Checked:
        if not _FIELD_SET.issuperset(fields):
            unknown = sorted(set(fields) - _FIELD_SET)[0]
            hint = suggest(unknown, FIELDS)
            raise _Refused(
                codes.INVALID,
                unknown,
                f"{unknown!r} is not a field of the interchange format"
                + (f" ({hint})" if hint else ""),
            )
        get: Callable[[str], Any] = fields.get
        provider, event_id, scheme, subject_id, kind, type_, occurred = map(get, REQUIRED)
        if not (
            type(provider) is str
            and type(event_id) is str
            and type(scheme) is str
            and type(subject_id) is str
            and type(kind) is str
            and type(type_) is str
            and type(occurred) is str
            and provider
            and event_id
            and scheme
            and subject_id
            and type_
            and occurred
            and len(event_id) <= MAX_TEXT
            and len(subject_id) <= MAX_TEXT
        ):
            for name in REQUIRED:
                _text(fields, name)  # raises for the first bad one
        if kind not in KINDS:
            raise _Refused(
                codes.MISSING if not kind else codes.INVALID,
                "subject_kind",
                f"subject_kind must be person or organization, got {kind!r}",
            )
        spec = self._types.get(type_)
        if spec is None:
            hint = suggest(type_, self._types) or "known types: " + ", ".join(sorted(self._types))
            raise _Refused(codes.UNKNOWN_TYPE, "type", f"unknown event type {type_!r} ({hint})")
        if provider not in spec.providers:
            allowed = ", ".join(sorted(spec.providers))
            raise _Refused(
                codes.PROVIDER,
                "provider",
                f"provider {provider!r} may not send {type_} records (allowed: {allowed})",
            )
        if event_id[0].isspace() or event_id[-1].isspace():
            _trimmed("provider_event_id", event_id)
        try:
            occurred_at = parse_occurred_at(occurred)
        except ValueError as e:
            raise _Refused(codes.TIMESTAMP, "occurred_at", str(e)) from None
        evidence = fields.get("evidence")
        if evidence is not None:
            evidence = self._evidence(evidence)
        retracts = fields.get("retracts")
        if retracts is not None:
            retracts = self._retracts(retracts, event_id)
        attributes = self._attributes(fields.get("attributes"), spec, row.text_attributes)
        if retracts is None and len(attributes) != len(spec.attributes):
            absent = sorted(set(spec.attributes) - set(attributes))[0]
            raise _Refused(
                codes.ATTRIBUTE_MISSING,
                f"attributes.{absent}",
                f"attribute {absent!r} ({spec.attributes[absent].value}) is required "
                f"for {type_} records",
            )
        normalised, lookup = self._subject(scheme, subject_id, kind)
        record = Record(provider, event_id, type_, occurred_at, attributes, retracts, evidence)
        digest = content_hash(record, subject_lookup=lookup, kind=kind)
        return Checked(row.line, row.raw, record, scheme, normalised, kind, lookup, digest)

    @staticmethod
    def _evidence(value: Any) -> str | None:
        if value is None or value == "":
            return None
        if type(value) is not str:
            raise _Refused(codes.INVALID, "evidence", f"evidence must be a string, got {value!r}")
        if len(value) > MAX_EVIDENCE or not (_URI.fullmatch(value) or _HEX_HASH.fullmatch(value)):
            raise _Refused(
                codes.INVALID,
                "evidence",
                "evidence must be a URI (https://…, urn:…, sha256:…) or a hex digest, "
                f"at most {MAX_EVIDENCE} characters",
            )
        return value

    @staticmethod
    def _retracts(value: Any, event_id: str) -> str | None:
        if value is None or value == "":
            return None
        if type(value) is not str:
            raise _Refused(codes.INVALID, "retracts", f"retracts must be a string, got {value!r}")
        _trimmed("retracts", value)
        if value == event_id:
            raise _Refused(codes.RETRACTS, "retracts", "a record cannot retract itself")
        return value

    @staticmethod
    def _attributes(value: Any, spec: _TypeSpec, text: bool) -> dict[str, Any]:
        if value is None:
            return {}
        if type(value) is not dict:
            raise _Refused(
                codes.INVALID, "attributes", f"attributes must be an object, got {value!r}"
            )
        declared = spec.attributes
        python = spec.python
        out = {}
        for name, item in value.items():
            kind = type(item)
            if kind is python.get(name) and (
                (kind is not int or INT_MIN <= item <= INT_MAX)
                and (kind is not float or item - item == 0)  # finite
            ):
                out[name] = item
                continue
            if item is None:
                continue
            attr_type = declared.get(name)
            if attr_type is None:
                hint = suggest(name, declared)
                raise _Refused(
                    codes.ATTRIBUTE_UNDECLARED,
                    f"attributes.{name}",
                    f"attribute {name!r} is not declared for this type and is never stored"
                    + (f" ({hint})" if hint else ""),
                    withhold=tuple(n for n in value if n not in declared),
                )
            if text and type(item) is str:
                out[name] = _from_text(name, item, attr_type)
            else:
                out[name] = _typed(name, item, attr_type)
        return out

    def _subject(self, scheme: str, subject_id: str, kind: str) -> tuple[str, bytes]:
        known = self._resolve(scheme, subject_id)
        if isinstance(known, _BadIdentifier):
            raise _Refused(codes.IDENTIFIER, known.field, known.message)
        if scheme in SCHEME_KINDS:
            try:
                check_kind(scheme, kind)
            except IdentifierError as e:
                raise _Refused(codes.IDENTIFIER, "subject_kind", e.message) from None
        return known[0], known[1]
