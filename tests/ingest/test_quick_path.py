"""The validator's quick path accepts and refuses exactly what the general path does.

``Validator.check`` tries a quick path compiled from the policy before the
general path; these tests hold the two to the same answer on generated rows:
the same reject (line, code, field, message, row) or the same record, subject
and content hash, attribute types included. Timestamps likewise.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from credence.canonical import content_hash
from credence.crypto import KeyRing
from credence.ingest.formats import RawRow
from credence.ingest.rejects import Reject
from credence.ingest.timestamps import parse_occurred_at, read_exactly, read_quickly
from credence.ingest.validate import Checked, Validator, frozen_constructor
from credence.ledger.store import NewRecord
from credence.policy import load_policy
from credence.policy.model import Policy
from credence.types import Record
from tests.ingest.conftest import POLICY

KEYS = KeyRing(bytes(range(32)))
TYPES: dict[str, tuple[str, dict[str, str]]] = {
    "bill.paid": ("bank-a", {"days_late": "integer", "amount": "number"}),
    "rent.paid": ("homes-marketplace", {"days_late": "integer", "amount": "number"}),
    "rental.returned": ("rent-it", {"days_late": "integer", "damaged": "boolean"}),
    "identity.verified": ("id-check", {"method": "string"}),
    "account.anniversary": ("bank-a", {"years": "integer"}),
}
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@lru_cache(maxsize=1)
def consumer_trust() -> Policy:
    return load_policy(POLICY).policy


def validator() -> Validator:
    return Validator(consumer_trust(), lookup=KEYS.lookup)


def both(row: RawRow) -> tuple[Checked | Reject, Checked | Reject]:
    """The row checked by fresh validators: through ``check``, and only the general path."""
    return validator().check(row), validator().check_general(row)


def same(quick: Checked | Reject, general: Checked | Reject) -> None:
    assert quick == general
    if isinstance(quick, Checked):
        assert isinstance(general, Checked)
        typed = [(k, type(v), v) for k, v in quick.record.attributes.items()]
        assert typed == [(k, type(v), v) for k, v in general.record.attributes.items()]
        assert type(quick.record.occurred_at) is int
        assert quick.content_hash == content_hash(
            quick.record, subject_lookup=quick.lookup, kind=quick.kind
        )


# --- timestamps --------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 text: mostly well formed in every shape, sometimes with one character changed."""
    moment = draw(moments).astimezone(draw(offsets))
    text = f"{moment:%Y-%m-%dT%H:%M:%S}".zfill(19)  # %Y does not pad years before 1000
    digits = draw(st.integers(0, 10)) if sometimes(draw, 2) else 0
    if digits:
        text += "." + "".join(
            draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits))
        )
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0 and draw(st.booleans()):
        text += draw(st.sampled_from(["Z", "z", "+00:00", "-00:00"]))
    else:
        sign = "-" if minutes < 0 else "+"
        text += f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if sometimes(draw):
        at = draw(st.integers(0, len(text) - 1))
        swap = draw(st.sampled_from(["t", " ", "x", "9", "٣", ":", "-", "+", "", "60", "24"]))
        text = text[:at] + swap + text[at + 1 :]
    return text


@SETTINGS
@given(timestamps())
@example("2026-02-30T09:30:00Z")
@example("2026-03-01T24:00:00Z")
@example("2026-03-01T09:30:60Z")
@example("2026-03-01T09:30:00+08:60")
@example("2026-03-01T09:30:00+24:00")
@example("2026-03-01T09:30:00.Z")
@example("2026-03-01T09:30:00.1234567890Z")
@example("0000-01-01T00:00:00Z")
@example("2026-W09-1T09:30:00Z")
@example("２０２６-03-01T09:30:00Z")
@example("2026-03-01T09:30:00")
@example("2026-03-01")
def testread_quicklystamps_read_as_the_general_reader_does(text: str) -> None:
    quick = read_quickly(text)
    try:
        expected: int | str = read_exactly(text)
    except ValueError as e:
        expected = str(e)
        assert quick is None
    if quick is not None:
        assert quick == expected
    try:
        assert parse_occurred_at(text) == expected
    except ValueError as e:
        assert str(e) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-01T09:30:00Z",
        "2026-03-01T17:30:00+08:00",
        "2026-03-01T09:30:00.5Z",
        "2026-03-01T09:30:00.123456789-05:30",
        "1970-01-01T00:00:00Z",
    ],
)
def test_common_timestamps_take_the_quick_path(text: str) -> None:
    assert read_quickly(text) == read_exactly(text)


# --- whole rows --------------------------------------------------------------

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.sampled_from([0, 1, -3, 45, 2**63 - 1, -(2**63), 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 5.0, 120.5, -2.0, 1e300]),
    st.text(max_size=5),
    st.sampled_from(["", " ", "3", "1.5", "true", "False", "nan", "inf", "1e3", "٣", "+7"]),
    st.lists(st.integers(), max_size=2),
)


def well_typed(kind: str) -> st.SearchStrategy[Any]:
    return {
        "integer": st.integers(-(2**63), 2**63 - 1),
        "number": st.one_of(
            st.integers(-(2**63), 2**63 - 1),
            st.floats(allow_nan=False, allow_infinity=False),
            st.sampled_from([900.0, 5.0, -0.0, 120.5]),
        ),
        "boolean": st.booleans(),
        "string": st.text(max_size=12),
    }[kind]


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


GOOD_SUBJECTS = st.sampled_from(
    [
        ("custom", "alice", "person"),
        ("custom", "customer-0001234", "person"),
        ("custom", "acme-ltd", "organization"),
        ("cn.ric", "11010519491231002X", "person"),
        ("cn.ric", "11010519491231002x", "person"),
        ("cn.uscc", "91110000600037341L", "organization"),
    ]
)
BAD_SUBJECTS = st.sampled_from(
    [
        ("custom", " padded ", "person"),
        ("cn.ric", "110105194912310021", "person"),
        ("cn.ric", "11010519491231002X", "organization"),
        ("cn.uscc", "91110000600037341L", "person"),
        ("xx.nope", "alice", "person"),
        ("", "alice", "person"),
        ("custom", "", "person"),
        ("custom", "x" * 201, "person"),
        ("custom", "alice", "company"),
        ("custom", "alice", ""),
    ]
)
EVENT_IDS = st.one_of(
    st.sampled_from(["b-1", "r-99", " b-1", "b-1 ", "b-1\n", "", "x" * 200, "x" * 201, "é-1"]),
    st.text(min_size=1, max_size=8),
)
FIELD_CHANGES = st.sampled_from(
    [
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
        "subject_name",
    ]
)
EVIDENCE = st.sampled_from(
    [
        "https://bank-a.example/s/1",
        "sha256:" + "ab" * 32,
        "ab" * 16,
        "see the file",
        "",
        None,
        7,
        "urn:" + "x" * 2_050,
    ]
)


def sometimes(draw: st.DrawFn, odds: int = 4) -> bool:
    """True about once in ``odds`` draws: most rows stay valid, so both paths are exercised."""
    return draw(st.sampled_from(range(odds))) == 0


@st.composite
def rows(draw: st.DrawFn) -> RawRow:
    """A plausible row, often valid, with a few fields or attributes changed or removed."""
    type_ = draw(st.sampled_from(list(TYPES)))
    provider, declared = TYPES[type_]
    scheme, subject_id, kind = draw(BAD_SUBJECTS if sometimes(draw, 6) else GOOD_SUBJECTS)
    attributes: dict[str, Any] = {name: draw(well_typed(t)) for name, t in declared.items()}
    text = sometimes(draw, 5)
    if sometimes(draw, 3):
        for _ in range(draw(st.integers(1, 2))):
            name = draw(st.sampled_from([*declared, "religion", "days_late", "amount"]))
            if draw(st.booleans()):
                attributes.pop(name, None)
            else:
                attributes[name] = draw(VALUES)
    if text:
        attributes = {k: as_text(v) for k, v in attributes.items() if v is not None}
    fields: dict[str, Any] = {
        "provider": provider,
        "provider_event_id": draw(EVENT_IDS) if sometimes(draw) else "b-1",
        "subject_scheme": scheme,
        "subject_id": subject_id,
        "subject_kind": kind,
        "type": type_,
        "occurred_at": draw(timestamps()),
        "attributes": attributes,
    }
    if sometimes(draw, 3):
        fields["evidence"] = draw(EVIDENCE)
    if sometimes(draw, 6):
        fields["retracts"] = draw(st.sampled_from(["b-0", "b-1", " b-0", "", None, 3]))
    if sometimes(draw, 3):
        for _ in range(draw(st.integers(1, 2))):
            name = draw(FIELD_CHANGES)
            if draw(st.booleans()):
                fields.pop(name, None)
            else:
                fields[name] = draw(
                    st.one_of(VALUES, st.sampled_from(["bank-a", "rent-it", "bill.payed"]))
                )
    order = draw(st.permutations(list(fields)))
    fields = {k: fields[k] for k in order}
    line = draw(st.integers(1, 10**6))
    return RawRow(line, fields, dict(fields), text_attributes=text)


@SETTINGS
@given(rows())
def test_quick_and_general_paths_agree_on_every_row(row: RawRow) -> None:
    same(*both(row))


@SETTINGS
@given(st.lists(rows(), min_size=2, max_size=6))
def test_caches_do_not_change_answers(batch: list[RawRow]) -> None:
    """One validator over many rows (identifiers and dates cached) answers as fresh ones do."""
    shared = validator()
    for row in batch + batch:
        same(shared.check(row), validator().check_general(row))


def plain(type_: str, **changes: Any) -> RawRow:
    provider, declared = TYPES[type_]
    values = {"integer": 3, "number": 120.5, "boolean": True, "string": "passport"}
    fields: dict[str, Any] = {
        "provider": provider,
        "provider_event_id": "e-1",
        "subject_scheme": "custom",
        "subject_id": "alice",
        "subject_kind": "person",
        "type": type_,
        "occurred_at": "2026-03-01T09:30:00Z",
        "attributes": {name: values[t] for name, t in declared.items()},
    }
    fields.update(changes)
    return RawRow(5, fields, fields)


@pytest.mark.parametrize(
    "row",
    [
        plain("bill.paid"),
        plain("rent.paid", attributes={"amount": 900.0, "days_late": 0}),
        plain("rental.returned"),
        plain(
            "identity.verified",
            subject_scheme="cn.uscc",
            subject_id="91110000600037341L",
            subject_kind="organization",
        ),
        plain("bill.paid", evidence="https://bank-a.example/1"),
        plain("bill.paid", occurred_at="2026-03-01T17:30:00.25+08:00"),
        RawRow(2, plain("bill.paid").fields, {}, text_attributes=False),
    ],
    ids=["integer+number", "whole float", "boolean", "string, stdnum", "evidence", "offset", "raw"],
)
def test_plain_rows_take_the_quick_path(row: RawRow) -> None:
    """The quick path is used for the rows it exists for (so the tests above test something)."""
    checker = validator()
    quick = checker.quick(row)
    assert quick is not None
    same(quick, checker.check_general(row))


def test_csv_text_rows_take_the_quick_path() -> None:
    row = plain("rental.returned", attributes={"days_late": "-2", "damaged": "TRUE"})
    row.text_attributes = True
    checker = validator()
    quick = checker.quick(row)
    assert quick is not None
    assert dict(quick.record.attributes) == {"days_late": -2, "damaged": True}
    same(quick, checker.check_general(row))


@pytest.mark.parametrize(
    "row",
    [
        plain("bill.paid", retracts="e-0"),
        plain("bill.paid", attributes={"days_late": 0, "amount": None}),
        plain("bill.paid", attributes={"days_late": 0}),
        plain("bill.paid", evidence=""),
    ],
    ids=["retraction", "null attribute", "missing attribute", "empty evidence"],
)
def test_rows_the_quick_path_leaves_to_the_general_one(row: RawRow) -> None:
    assert validator().quick(row) is None
    same(*both(row))


def test_the_content_hash_is_pinned() -> None:
    """credence-record/1 hashes as it always has (the value was computed before the quick path)."""
    record = Record(
        "bank-a",
        "b-1",
        "bill.paid",
        1_772_357_400_000_000,
        {"days_late": 0, "amount": 900.0},
        None,
        "https://bank-a.example/1",
    )
    digest = content_hash(record, subject_lookup=bytes(range(32)), kind="person")
    assert digest.hex() == "3a5173af240fed160a6380c9307ca82e7bfe7b64f1746baa1fd5134bdf9408c1"


def test_frozen_constructor_builds_what_the_dataclass_builds() -> None:
    values = ("bank-a", "b-1", "bill.paid", 5, {"days_late": 0}, "b-0", "urn:x")
    made = frozen_constructor(Record)(*values)
    assert made == Record(*values)
    assert type(made) is Record
    with pytest.raises(FrozenInstanceError):
        made.provider = "other"  # type: ignore[misc]
    new = frozen_constructor(NewRecord)(b"l", made, b"h")
    assert new == NewRecord(b"l", made, b"h")
