"""Checking each row read from an input against the interchange format and the active policy.

A row becomes either a ``Checked`` record (validated, identifier normalised,
subject lookup and content hash computed) or a ``Reject`` with a code. Only
declared attributes are ever kept: an undeclared one rejects the row, so data
the policy has no use for is never stored. Checks that need the ledger (the
subject's stored kind, a retraction's target) are made by the ingest service.

This runs once per row of files with millions of rows, so it avoids pydantic
and caches what repeats (identifiers, their lookup hashes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from credence.errors import IdentifierError
from credence.ingest import rejects as codes
from credence.ingest.canonical import content_hash
from credence.ingest.formats import ATTR_PREFIX, FIELDS, REQUIRED, RawRow
from credence.ingest.identifiers import SCHEME_KINDS, check_kind, known_scheme, normalise
from credence.ingest.rejects import Reject
from credence.policy.check import suggest
from credence.policy.model import AttrType, Policy
from credence.types import MICROS, Record, to_micros

KINDS = frozenset({"person", "organization"})
MAX_TEXT = 200
MAX_EVIDENCE = 2_048
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what every ledger backend stores exactly
_FIELD_SET = frozenset(FIELDS)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_HEX_HASH = re.compile(r"[0-9A-Fa-f]{32,128}")
_INT_TEXT = re.compile(r"[+-]?\d+")
_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CACHE_LIMIT = 1_000_000
WITHHELD = "(withheld: undeclared attribute)"
# Epoch microseconds of dates (YYYY-MM-DD) and of times of day (HH:MM:SS) seen before.
_DAYS: dict[str, int] = {}
_SECONDS: dict[str, int] = {}


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


_PYTHON = {
    AttrType.INTEGER: int,
    AttrType.NUMBER: float,
    AttrType.STRING: str,
    AttrType.BOOLEAN: bool,
}


def parse_occurred_at(text: str) -> int:
    """An RFC 3339 timestamp with an offset as epoch microseconds (fractions past µs dropped).

    Raises:
        ValueError: with the reason, when the text is not such a timestamp.
    """
    if len(text) == 20 and text[10] == "T" and text[19] == "Z":
        # Fast path for the common shape: both halves were fully parsed before.
        day = _DAYS.get(text[:10])
        if day is not None:
            second = _SECONDS.get(text[11:19])
            if second is not None:
                return day + second
    if not _RFC3339.fullmatch(text):
        raise ValueError(
            f"occurred_at {text!r} is not an RFC 3339 timestamp with an offset "
            "(e.g. 2026-03-01T09:30:00Z or 2026-03-01T17:30:00+08:00)"
        )
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError as e:
        raise ValueError(f"occurred_at {text!r} is not a real date and time: {e}") from e
    micros = to_micros(moment)
    if len(text) == 20 and text[10] == "T" and text[19] == "Z":
        second = (moment.hour * 3600 + moment.minute * 60 + moment.second) * MICROS
        if len(_DAYS) >= _CACHE_LIMIT:
            _DAYS.clear()
        _DAYS[text[:10]] = micros - second
        _SECONDS[text[11:19]] = second
    return micros


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


def _from_text(name: str, text: str, attr_type: AttrType) -> Any:
    """An attribute value from CSV text, read according to its declared type."""
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
    raise _Refused(
        codes.ATTRIBUTE_TYPE,
        f"attributes.{name}",
        f"attribute {name!r} must be {_article(attr_type)}{_range(attr_type)}, got {text!r}",
    )


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
        self._subjects: dict[tuple[str, str], tuple[str, bytes] | _BadIdentifier] = {}

    def check(self, row: RawRow) -> Checked | Reject:
        """The row as a validated record, or the first reason it is refused."""
        fields = row.fields
        if fields is None:
            return Reject(row.line, codes.MALFORMED, None, row.error or "unreadable row", row.raw)
        try:
            return self._check(row, fields)
        except _Refused as refused:
            raw = _withheld(row.raw, refused.withhold) if refused.withhold else row.raw
            return Reject(row.line, refused.code, refused.field, refused.message, raw)

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
        key = (scheme, subject_id)
        known = self._subjects.get(key)
        if known is None:
            try:
                normalised = normalise(scheme, subject_id)
                known = (normalised, self._lookup(scheme, normalised))
            except IdentifierError as e:
                field = "subject_id" if known_scheme(scheme) else "subject_scheme"
                hint = f" ({e.suggestion})" if e.suggestion else ""
                known = _BadIdentifier(field, e.message + hint)
            if len(self._subjects) >= _CACHE_LIMIT:
                self._subjects.clear()
            self._subjects[key] = known
        if type(known) is _BadIdentifier:
            raise _Refused(codes.IDENTIFIER, known.field, known.message)
        if scheme in SCHEME_KINDS:
            try:
                check_kind(scheme, kind)
            except IdentifierError as e:
                raise _Refused(codes.IDENTIFIER, "subject_kind", e.message) from None
        assert type(known) is tuple
        return known
