"""Records sent by a provider over HTTP: the same checks as file ingest, answered per row.

A body is a JSON array of records or NDJSON (one record a line). Each row is
checked against the active policy exactly as ``credence ingest`` checks a
file's rows, and one more way: a provider may send records only as itself,
so a row naming another provider is refused (``record.provider``). Rows are
appended in batches of ``settings.batch_size``; sending a row again changes
nothing, for ``(provider, provider_event_id)`` is the idempotency key.
Refused rows are listed by index (position in the array, or line number
less one) with their code, never dropped silently. A row with NUL in any
text is refused (``record.invalid``): PostgreSQL cannot store it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from threading import Lock
from typing import Any
from weakref import ref

import orjson

from credence.errors import RequestInvalid
from credence.ingest import rejects as codes
from credence.ingest.formats import RawRow
from credence.ingest.rejects import Reject
from credence.ingest.validate import Checked, Validator
from credence.policy import LoadedPolicy
from credence.service.access import Caller, authorize
from credence.service.ingest import _Run
from credence.service.ledger import Ledger

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class RowReject:
    """One refused row: its index in the body, a stable code, the field at fault, why."""

    index: int
    code: str
    field: str | None
    message: str


@dataclass(slots=True)
class Submission:
    """What a body did. ``rows == inserted + unchanged + len(rejects)``."""

    rows: int = 0
    inserted: int = 0
    unchanged: int = 0
    rejects: list[RowReject] = field(default_factory=list)


def parse_body(body: bytes, *, ndjson: bool) -> Iterator[RawRow]:
    """The rows of a body; ``line`` is each row's index.

    Raises:
        RequestInvalid: when a JSON body is not one JSON array.
    """
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    if ndjson:
        yield from _ndjson_rows(body)
        return
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise RequestInvalid(
            f"the body is not valid JSON: {e}",
            suggestion="send a JSON array of records, or NDJSON with content-type application/x-ndjson",
        ) from e
    if type(value) is not list:
        raise RequestInvalid(
            "the body must be a JSON array of records", suggestion="wrap one record in [ ]"
        )
    for index, item in enumerate(value):
        yield _row(index, item)


def _ndjson_rows(body: bytes) -> Iterator[RawRow]:
    loads = orjson.loads
    for index, data in enumerate(body.split(b"\n")):
        if not data.strip():
            continue
        try:
            value = loads(data)
        except orjson.JSONDecodeError as e:
            text = data.decode(errors="replace").rstrip("\r")
            yield RawRow(index, None, text, error=f"not valid JSON: {e}")
            continue
        yield _row(index, value)


def _row(index: int, value: Any) -> RawRow:
    if type(value) is not dict:
        return RawRow(index, None, value, error="the row is not a JSON object")
    return RawRow(index, value, value)


def submit_records(ledger: Ledger, caller: Caller, body: bytes, *, ndjson: bool) -> Submission:
    """Check and append the records of one body sent by ``caller``; per-row rejects.

    Raises:
        Forbidden: when the caller is not a provider.
        RequestInvalid: when the body is not a JSON array (or NDJSON).
        PolicyNotFound: when the ledger has no active policy.
        StoreError: when the ledger fails; batches already appended stay appended.
    """
    authorize(caller, "records.submit")
    validator = _validator(ledger)
    batch_size = ledger.settings.batch_size
    run = _Run(ledger)
    result = Submission()
    batch: list[Checked] = []
    refused: list[Reject] = []
    maybe_nul = b"\\u0000" in body  # only then is any row walked for it
    for row in parse_body(body, ndjson=ndjson):
        result.rows += 1
        if maybe_nul and _has_nul(row.fields):
            refused.append(Reject(row.line, codes.INVALID, None, _NUL, row.raw))
            continue
        checked = validator.quick(row) or validator.check_general(row)
        if type(checked) is not Checked:
            assert isinstance(checked, Reject)
            refused.append(checked)
        elif checked.record.provider != caller.name:
            refused.append(
                Reject(
                    checked.line,
                    codes.PROVIDER,
                    "provider",
                    f"this key belongs to provider {caller.name!r}; it may not send records "
                    f"as {checked.record.provider!r}",
                    checked.raw,
                )
            )
        else:
            batch.append(checked)
            if len(batch) >= batch_size:
                _append(run, batch, result)
                batch = []
    _append(run, batch, result)
    result.rejects.extend(RowReject(r.line, r.code, r.field, r.message) for r in refused)
    result.rejects.sort(key=lambda r: r.index)
    return result


# id(ledger) → (the ledger, weakly; its policy; the validator). Ledgers are not hashable.
_validators: dict[int, tuple[ref[Ledger], LoadedPolicy, Validator]] = {}
_validators_lock = Lock()


def _validator(ledger: Ledger) -> Validator:
    """The ledger's validator for its active policy, kept across bodies.

    Building one costs about a millisecond, and it caches each identifier's
    lookup hash (an HMAC a row), which a provider sending the same subjects
    body after body would otherwise pay again every time. Its caches are
    plain dicts, safe to share between the server's threads.
    """
    loaded = ledger.loaded_policy
    with _validators_lock:
        kept = _validators.get(id(ledger))
        if kept is None or kept[0]() is not ledger or kept[1] is not loaded:
            for key in [k for k, v in _validators.items() if v[0]() is None]:
                del _validators[key]  # ledgers gone since
            kept = (ref(ledger), loaded, Validator(loaded.policy, lookup=ledger.keys.lookup))
            _validators[id(ledger)] = kept
        return kept[2]


_NUL = "text in a record may not contain NUL (U+0000)"


def _has_nul(value: Any) -> bool:
    """Whether any key or text in a parsed row holds NUL, which no ledger backend keeps alike."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _append(run: _Run, batch: list[Checked], result: Submission) -> None:
    if not batch:
        return
    prepared = run.prepare(batch, lambda: None)  # appended here, in order: nothing waits
    appended = run.ledger.store.append(
        prepared.subjects, prepared.records, ingested_at=prepared.ingested_at
    )
    inserted, unchanged, rejects = run.finish(prepared, appended)
    result.inserted += inserted
    result.unchanged += unchanged
    result.rejects.extend(RowReject(r.line, r.code, r.field, r.message) for r in rejects)
