"""Times, durations and subject references."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credence.errors import UsageError
from credence.types import (
    SubjectRef,
    format_date,
    format_duration,
    format_time,
    from_micros,
    parse_duration,
    parse_time,
)


@given(st.integers(-(2**50), 2**52))
def test_format_date_is_the_utc_calendar_date(micros: int):
    assert format_date(micros) == from_micros(micros).strftime("%Y-%m-%d")


FIRST, LAST = parse_time("0001-01-01T00:00:00Z"), parse_time("9999-12-31T23:59:59.999999Z")
RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z")


@given(st.integers(FIRST, LAST))
def test_times_round_trip_through_rfc3339(micros: int):
    text = format_time(micros)
    assert RFC3339_UTC.fullmatch(text), text  # four-digit years, before 1000 too
    assert parse_time(text) == micros


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1, "1970-01-01T00:00:00.000001Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
        (FIRST, "0001-01-01T00:00:00Z"),
    ],
)
def test_format_time(micros: int, text: str):
    assert format_time(micros) == text


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2026-03-01T08:00:00+08:00", parse_time("2026-03-01T00:00:00Z")),
        ("2026-03-01", parse_time("2026-03-01T00:00:00Z")),
        ("1970-01-01T00:00:00.000001Z", 1),
    ],
)
def test_parse_time(text: str, micros: int):
    assert parse_time(text) == micros


@pytest.mark.parametrize("text", ["2026-03-01T00:00:00", "yesterday", "2026-13-01T00:00:00Z"])
def test_parse_time_refuses_what_is_not_rfc3339(text: str):
    with pytest.raises(ValueError):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90d", 90 * 86_400), ("12w", 84 * 86_400), ("2y", 730 * 86_400)]
)
def test_durations(text: str, seconds: int):
    assert parse_duration(text) == seconds and parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["0d", "3m", "1.5y", "", "-2d"])
def test_bad_durations(text: str):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_subject_refs():
    assert SubjectRef.parse("cn.ric:11010519491231002X") == SubjectRef(
        "cn.ric", "11010519491231002X"
    )
    assert str(SubjectRef.parse(" custom : a:b ")) == "custom:a:b"
    with pytest.raises(UsageError):
        SubjectRef.parse("nocolon")
