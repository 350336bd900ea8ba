"""Readers for the interchange format: JSON Lines, CSV and Parquet, streamed row by row.

Every reader yields ``RawRow`` values in file order, each with the line a user
would look at (JSONL: the line; CSV: the physical line the row starts on;
Parquet: the row index + 1). A row that cannot be parsed at all (bad JSON, a
CSV row with the wrong number of cells) is yielded with ``error`` set, so it
becomes a reject for that line instead of stopping the file. Files are read
in pieces, never whole, and each reader tells how many bytes it has consumed
so a caller can draw progress.

CSV and Parquet flatten ``attributes`` either as ``attr_<name>`` columns or
as one ``attributes`` column (a JSON object in text, or a Parquet struct).
An empty CSV cell, or a Parquet null, is an absent value.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from credence.errors import InputFileError
from credence.policy.check import suggest

FIELDS = (
    "provider",
    "provider_event_id",
    "subject_scheme",
    "subject_id",
    "subject_kind",
    "type",
    "occurred_at",
    "attributes",
    "evidence",
    "retracts",
)
REQUIRED = FIELDS[:7]
ATTR_PREFIX = "attr_"
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
_PARQUET_BATCH = 8_192
_BOM = b"\xef\xbb\xbf"


def parse_json(text: str | bytes) -> Any:
    """Strict JSON (RFC 8259: no NaN or Infinity; UTF-8), as the interchange format requires.

    Raises:
        ValueError: when the text is not one JSON value.
    """
    return orjson.loads(text)


@dataclass(slots=True)
class RawRow:
    """One row as read, before any check against the policy.

    ``fields`` holds the interchange fields present (``attributes`` as a
    mapping); it is None when the row could not be parsed, and ``error`` says
    why. ``text_attributes`` marks attribute values that are CSV text, to be
    read according to their declared type. ``raw`` is what a rejects file
    shows: the row as a mapping, or the line's text.
    """

    line: int
    fields: dict[str, Any] | None
    raw: Any
    text_attributes: bool = False
    error: str | None = None


class Source(Protocol):
    """An input file being read: its rows, and how far through it the reader is."""

    path: Path
    bytes_total: int
    bytes_done: int

    def rows(self) -> Iterator[RawRow]:
        """Every row of the file, in order."""


def open_source(path: Path) -> Source:
    """A reader for an input file, chosen by its extension.

    Raises:
        InputFileError: when the extension is unknown, or the file is missing or unreadable.
    """
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(SUFFIXES)
        raise InputFileError(
            f"unknown input format {path.suffix or '(no extension)'!r}",
            path=str(path),
            suggestion=f"name the file with one of: {known}",
        )
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except FileNotFoundError as e:
        raise InputFileError(f"no such file: {path}", path=str(path)) from e
    except IsADirectoryError as e:
        raise InputFileError(f"{path} is a directory, not a file", path=str(path)) from e
    except OSError as e:
        raise InputFileError(f"cannot read {path}: {e.strerror or e}", path=str(path)) from e
    if kind == "jsonl":
        return JsonLinesSource(path, size)
    if kind == "csv":
        return CsvSource(path, size)
    return ParquetSource(path, size)


def _unreadable(path: Path, e: Exception) -> InputFileError:
    reason = getattr(e, "strerror", None) or str(e)
    return InputFileError(f"cannot read {path}: {reason}", path=str(path))


class JsonLinesSource:
    """JSON Lines: one JSON object per line; blank lines are skipped."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.bytes_total = size
        self.bytes_done = 0

    def rows(self) -> Iterator[RawRow]:
        loads = orjson.loads
        try:
            with self.path.open("rb") as handle:
                line = 0
                for data in handle:
                    line += 1
                    self.bytes_done += len(data)
                    if line == 1 and data.startswith(_BOM):
                        data = data[len(_BOM) :]
                    try:
                        value = loads(data)
                    except orjson.JSONDecodeError as e:
                        if not data.strip():
                            continue
                        text = data.decode(errors="replace").rstrip("\r\n")
                        yield RawRow(line, None, text, error=f"not valid JSON: {e}")
                        continue
                    if type(value) is not dict:
                        yield RawRow(line, None, value, error="the line is not a JSON object")
                        continue
                    yield RawRow(line, value, value)
        except OSError as e:
            raise _unreadable(self.path, e) from e


def _header_problem(path: Path, columns: list[str]) -> InputFileError | None:
    seen: set[str] = set()
    known = set(FIELDS)
    for column in columns:
        if column in seen:
            return InputFileError(f"column {column!r} appears twice", path=str(path), line=1)
        seen.add(column)
        if column not in known and not (column.startswith(ATTR_PREFIX) and len(column) > 5):
            return InputFileError(
                f"unknown column {column!r}",
                path=str(path),
                line=1,
                suggestion=suggest(column, FIELDS)
                or f"name attribute columns {ATTR_PREFIX}<name>; known columns: "
                + ", ".join(FIELDS),
            )
    missing = [name for name in REQUIRED if name not in seen]
    if missing:
        return InputFileError(
            f"no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}",
            path=str(path),
            line=1,
            suggestion="the header must name every required field: " + ", ".join(REQUIRED),
        )
    return None


@dataclass(frozen=True, slots=True)
class _Layout:
    """Which columns hold the fields and which hold flattened attributes."""

    fields: tuple[tuple[int, str], ...]
    attrs: tuple[tuple[int, str], ...]
    attributes: int | None  # the index of an ``attributes`` column


def _layout(columns: list[str]) -> _Layout:
    fields = []
    attrs = []
    attributes = None
    for index, column in enumerate(columns):
        if column == "attributes":
            attributes = index
        elif column.startswith(ATTR_PREFIX) and column not in FIELDS:
            attrs.append((index, column[len(ATTR_PREFIX) :]))
        else:
            fields.append((index, column))
    return _Layout(tuple(fields), tuple(attrs), attributes)


def _attribute_object(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    """An ``attributes`` cell as a mapping (absent values dropped), or why it is not one."""
    if isinstance(value, str):
        try:
            value = parse_json(value)
        except ValueError as e:
            return None, f"the attributes column is not valid JSON: {e}"
    if type(value) is not dict:
        return None, "the attributes column must hold a JSON object"
    return {k: v for k, v in value.items() if v is not None}, None


class _Lines:
    """Text lines of a binary file, counting bytes and noting lines that are not UTF-8."""

    def __init__(self, source: CsvSource, handle: Any) -> None:
        self._source = source
        self._handle = handle
        self.number = 0
        self.bad: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        for data in self._handle:
            self.number += 1
            self._source.bytes_done += len(data)
            try:
                text: str = data.decode()
            except UnicodeDecodeError:
                self.bad.add(self.number)
                text = data.decode(errors="replace")
            if self.number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield text


class CsvSource:
    """CSV with a header row; attributes as ``attr_<name>`` columns or an ``attributes`` column.

    The header is checked when the source is opened, so a file whose every row
    would fail the same way fails at once, before anything is ingested.
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.bytes_total = size
        self.bytes_done = 0
        for _ in self.rows():
            break
        self.bytes_done = 0

    def rows(self) -> Iterator[RawRow]:
        try:
            with self.path.open("rb") as handle:
                yield from self._rows(handle)
        except OSError as e:
            raise _unreadable(self.path, e) from e
        except csv.Error as e:
            raise InputFileError(f"cannot read CSV: {e}", path=str(self.path)) from e

    def _rows(self, handle: Any) -> Iterator[RawRow]:
        lines = _Lines(self, handle)
        reader = csv.reader(lines, strict=True)
        header = next(reader, None)
        if header is None:
            return
        columns = [c.strip() for c in header]
        problem = _header_problem(self.path, columns)
        if problem is not None:
            raise problem
        layout = _layout(columns)
        width = len(columns)
        end = reader.line_num
        while True:
            start = end + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                end = reader.line_num
                yield RawRow(start, None, None, error=f"not valid CSV: {e}")
                continue
            end = reader.line_num
            if not cells:
                continue
            raw = dict(zip(columns, cells, strict=False))
            if lines.bad and any(n in lines.bad for n in range(start, end + 1)):
                yield RawRow(start, None, raw, error="the row is not UTF-8")
                continue
            if len(cells) != width:
                yield RawRow(
                    start,
                    None,
                    raw,
                    error=f"the row has {len(cells)} cells; the header has {width}",
                )
                continue
            yield self._row(start, cells, raw, layout)

    @staticmethod
    def _row(line: int, cells: list[str], raw: dict[str, str], layout: _Layout) -> RawRow:
        fields: dict[str, Any] = {name: cells[i] for i, name in layout.fields if cells[i] != ""}
        attrs: dict[str, Any] = {name: cells[i] for i, name in layout.attrs if cells[i] != ""}
        text = True
        if layout.attributes is not None and cells[layout.attributes] != "":
            if attrs:
                return RawRow(
                    line, None, raw, error="use either attr_* columns or attributes, not both"
                )
            parsed, error = _attribute_object(cells[layout.attributes])
            if parsed is None:
                return RawRow(line, None, raw, error=error)
            attrs = parsed
            text = False
        fields["attributes"] = attrs
        return RawRow(line, fields, raw, text_attributes=text)


def _plain(value: Any) -> Any:
    """A Parquet value as the JSON reader would give it (times as RFC 3339 text)."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class ParquetSource:
    """Parquet; attributes as ``attr_*`` columns, a struct column, or a JSON text column."""

    def __init__(self, path: Path, size: int) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.bytes_total = size
        self.bytes_done = 0
        try:
            self._file = pq.ParquetFile(path)
            columns = list(self._file.schema_arrow.names)
        except OSError as e:
            raise _unreadable(self.path, e) from e
        except Exception as e:  # pyarrow raises ArrowInvalid for a file that is not Parquet
            raise InputFileError(f"{path} is not a Parquet file: {e}", path=str(path)) from e
        problem = _header_problem(self.path, columns)
        if problem is not None:
            raise problem
        self._layout = _layout(columns)

    def rows(self) -> Iterator[RawRow]:
        layout = self._layout
        total = max(self._file.metadata.num_rows, 1)
        line = 0
        try:
            for batch in self._file.iter_batches(batch_size=_PARQUET_BATCH):
                for item in batch.to_pylist():
                    line += 1
                    yield self._row(line, item, layout)
                self.bytes_done = self.bytes_total * line // total
        except OSError as e:
            raise _unreadable(self.path, e) from e
        self.bytes_done = self.bytes_total

    @staticmethod
    def _row(line: int, item: dict[str, Any], layout: _Layout) -> RawRow:
        raw = {k: _plain(v) for k, v in item.items()}
        fields = {name: raw[name] for _, name in layout.fields if raw[name] is not None}
        attrs = {
            name: raw[ATTR_PREFIX + name]
            for _, name in layout.attrs
            if raw[ATTR_PREFIX + name] is not None
        }
        if layout.attributes is not None and raw["attributes"] is not None:
            if attrs:
                return RawRow(
                    line, None, raw, error="use either attr_* columns or attributes, not both"
                )
            parsed, error = _attribute_object(raw["attributes"])
            if parsed is None:
                return RawRow(line, None, raw, error=error)
            attrs = parsed
        fields["attributes"] = attrs
        return RawRow(line, fields, raw)
