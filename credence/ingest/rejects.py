"""Rejected rows: their codes, and the ``<input>.rejects.jsonl`` file written beside an input.

A rejected row is never dropped silently: it is written, with its line, a
stable code, the field at fault and a message a provider can act on, to a
rejects file beside the input. The file is rewritten on every run that has
rejects, and a stale one is removed when a run has none, so what is on disk
always describes the latest run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from credence.errors import InputFileError

SUFFIX = ".rejects.jsonl"

MALFORMED = "record.malformed"
MISSING = "record.missing"
INVALID = "record.invalid"
TIMESTAMP = "record.timestamp"
FUTURE = "record.future"
BEFORE_1900 = "record.before_1900"
UNKNOWN_TYPE = "record.unknown_type"
PROVIDER = "record.provider"
ATTRIBUTE_MISSING = "record.attribute_missing"
ATTRIBUTE_TYPE = "record.attribute_type"
ATTRIBUTE_UNDECLARED = "record.attribute_undeclared"
IDENTIFIER = "identifier.invalid"
SUBJECT_KIND = "record.subject_kind"
RETRACTS = "record.retracts"
DUPLICATE = "record.duplicate"

CODES: dict[str, str] = {
    MALFORMED: "The line is not a JSON object, not UTF-8, or not a well-formed CSV row.",
    MISSING: "A required field is absent or empty.",
    INVALID: "A field has the wrong type or shape, or is not a field of the format.",
    TIMESTAMP: "occurred_at is not an RFC 3339 timestamp with a time zone offset.",
    FUTURE: "occurred_at is later than now plus the allowed clock skew.",
    BEFORE_1900: "occurred_at is before 1900-01-01.",
    UNKNOWN_TYPE: "The type is not an event type of the active policy.",
    PROVIDER: "The provider may not send records of this type.",
    ATTRIBUTE_MISSING: "A declared attribute of the type is absent.",
    ATTRIBUTE_TYPE: "An attribute's value does not have its declared type.",
    ATTRIBUTE_UNDECLARED: "An attribute the type does not declare; it is never stored.",
    IDENTIFIER: "The subject identifier is invalid for its scheme, or the scheme for the kind.",
    SUBJECT_KIND: "The subject is already known as the other kind.",
    RETRACTS: "The retracted record is unknown, or belongs to another subject.",
    DUPLICATE: "The (provider, provider_event_id) is already stored with other content.",
}


@dataclass(frozen=True, slots=True)
class Reject:
    """One rejected row: where, why (a code from ``CODES``), which field, and the row itself."""

    line: int
    code: str
    field: str | None
    message: str
    row: Any

    def to_json(self) -> str:
        """The reject as one line of a rejects file."""
        body = {
            "line": self.line,
            "code": self.code,
            "field": self.field,
            "message": self.message,
            "row": self.row,
        }
        try:
            return json.dumps(body, ensure_ascii=False, allow_nan=False, default=str)
        except ValueError:  # NaN or infinity in the row (Parquet): not JSON, so show its text
            body["row"] = repr(self.row)
            return json.dumps(body, ensure_ascii=False, default=str)


def rejects_path(input_path: Path) -> Path:
    """Where the rejects of an input file go: beside it, ``<input>.rejects.jsonl``."""
    return input_path.with_name(input_path.name + SUFFIX)


class RejectsFile:
    """Writes the rejects of one input file, creating the file only when there is one."""

    def __init__(self, input_path: Path) -> None:
        self.path = rejects_path(input_path)
        self.count = 0
        self._handle: IO[str] | None = None
        self._last_line = 0
        self._in_order = True  # rows checked late (deferred retractions) may come out of order

    def write(self, rejects: list[Reject]) -> None:
        """Append rejects, in the order given.

        Raises:
            InputFileError: when the rejects file cannot be written.
        """
        if not rejects:
            return
        try:
            if self._handle is None:
                self._handle = self.path.open("w", encoding="utf-8")
            self._handle.write("".join(r.to_json() + "\n" for r in rejects))
            self._in_order = self._in_order and rejects[0].line >= self._last_line
            self._last_line = max(self._last_line, rejects[-1].line)
        except OSError as e:
            raise InputFileError(
                f"cannot write rejects file: {e.strerror or e}", path=str(self.path)
            ) from e
        self.count += len(rejects)

    def _sort(self) -> None:
        """Rewrite the file in line order (each batch's rejects are written sorted)."""
        try:
            # split on "\n" only: a row may hold U+2028, which splitlines() breaks at
            lines = self.path.read_text(encoding="utf-8").rstrip("\n").split("\n")
            lines.sort(key=lambda text: int(json.loads(text)["line"]))
            self.path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        except OSError as e:
            raise InputFileError(
                f"cannot rewrite rejects file: {e.strerror or e}", path=str(self.path)
            ) from e

    def abandon(self) -> None:
        """Close the file after a failed run, leaving what was written for inspection."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def close(self) -> Path | None:
        """Finish the file; remove a stale one when this run had no rejects.

        Returns the rejects file's path, or None when there were no rejects.
        """
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            if not self._in_order:
                self._sort()
            return self.path
        try:
            self.path.unlink(missing_ok=True)
        except OSError as e:
            raise InputFileError(
                f"cannot remove stale rejects file: {e.strerror or e}", path=str(self.path)
            ) from e
        return None
