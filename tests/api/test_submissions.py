"""Records sent over HTTP get the checks of file ingest, per row, as the sending provider only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from credence.errors import Forbidden, RequestInvalid
from credence.service.ledger import Ledger
from credence.service.submissions import submit_records


@dataclass(frozen=True)
class Caller:
    name: str
    kind: str = "provider"
    contexts: tuple[str, ...] = ()


BANK = Caller("bank-a")


def row(event: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "provider": "bank-a",
        "provider_event_id": event,
        "subject_scheme": "custom",
        "subject_id": "submitter",
        "subject_kind": "person",
        "type": "bill.paid",
        "occurred_at": "2026-10-01T00:00:00Z",
        "attributes": {"days_late": 0, "amount": 12.5},
    }
    base.update(changes)
    return base


def body(*rows: Any) -> bytes:
    return json.dumps(list(rows)).encode()


def test_a_body_is_checked_row_by_row_and_rejects_are_listed_by_index(served: Ledger) -> None:
    done = submit_records(
        served,
        BANK,
        body(
            row("sub-1"),
            row("sub-2", type="no.such.type"),
            "not an object",
            row("sub-3", provider="city-utilities"),  # allowed for the type, but not this key
            row("sub-4", attributes={"days_late": "late", "amount": 1.0}),
        ),
        ndjson=False,
    )
    assert (done.rows, done.inserted, done.unchanged) == (5, 1, 0)
    assert [(r.index, r.code) for r in done.rejects] == [
        (1, "record.unknown_type"),
        (2, "record.malformed"),
        (3, "record.provider"),
        (4, "record.attribute_type"),
    ]


def test_sending_the_same_records_again_changes_nothing(served: Ledger) -> None:
    payload = body(row("again-1"), row("again-2"))
    first = submit_records(served, BANK, payload, ndjson=False)
    second = submit_records(served, BANK, payload, ndjson=False)
    assert (first.inserted, first.unchanged) == (2, 0)
    assert (second.inserted, second.unchanged, second.rejects) == (0, 2, [])


def test_a_changed_record_under_a_used_key_is_a_duplicate(served: Ledger) -> None:
    submit_records(served, BANK, body(row("dup-1")), ndjson=False)
    changed = row("dup-1", attributes={"days_late": 40, "amount": 12.5})
    done = submit_records(served, BANK, body(changed), ndjson=False)
    assert [(r.index, r.code) for r in done.rejects] == [(0, "record.duplicate")]


def test_ndjson_rows_are_indexed_by_line(served: Ledger) -> None:
    text = json.dumps(row("nd-1")) + "\n\n{broken\n" + json.dumps(row("nd-2")) + "\n"
    done = submit_records(served, BANK, text.encode(), ndjson=True)
    assert (done.rows, done.inserted) == (3, 2)
    assert [(r.index, r.code) for r in done.rejects] == [(2, "record.malformed")]


@pytest.mark.parametrize("payload", [b"{}", b"not json", b'{"provider": "bank-a"}'])
def test_a_body_that_is_not_an_array_is_refused_whole(served: Ledger, payload: bytes) -> None:
    with pytest.raises(RequestInvalid):
        submit_records(served, BANK, payload, ndjson=False)


@pytest.mark.parametrize("kind", ["operator", "relying_party", "reviewer"])
def test_only_a_provider_may_send_records(served: Ledger, kind: str) -> None:
    with pytest.raises(Forbidden):
        submit_records(served, Caller("bank-a", kind=kind), body(row("nope")), ndjson=False)


def test_a_row_with_nul_in_its_text_is_refused_alone(served: Ledger) -> None:
    """Regression: NUL reached PostgreSQL, which refused the whole batch with a 503."""
    rows = [
        row("nul-1", provider_event_id="nul-\x00-1"),
        row("nul-2"),
        row("nul-3", attributes={"days_late\x00": 0}),
    ]
    done = submit_records(served, BANK, body(*rows), ndjson=False)
    assert (done.inserted, [(r.index, r.code) for r in done.rejects]) == (
        1,
        [(0, "record.invalid"), (2, "record.invalid")],
    )
