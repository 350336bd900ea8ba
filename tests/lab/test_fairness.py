"""The fairness audit's rates are direct counts; the four-fifths rule flags what it should."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fairlearn")

from credence.lab.fairness import SMALL_GROUP, Groups, audit, failures
from credence.lab.runs import DENIED, GRANTED, NOT_RESTRICTED, RESTRICTED, SubjectOutcome

ENTITLEMENTS = [("perk", "benefit"), ("block", "restriction")]


@st.composite
def populations(draw: st.DrawFn) -> tuple[dict[int, SubjectOutcome], Groups]:
    n = draw(st.integers(1, 80))
    outcomes = {}
    for key in range(1, n + 1):
        perk = draw(st.sampled_from([GRANTED, DENIED]))
        block = draw(st.sampled_from([RESTRICTED, NOT_RESTRICTED]))
        outcomes[key] = SubjectOutcome(600, "t", {"perk": perk, "block": block})
    keys = list(outcomes)
    band = [draw(st.sampled_from(["a", "b", "c"])) for _ in keys]
    labels = [draw(st.sampled_from([True, False, None])) for _ in keys]
    groups = Groups(
        keys=keys, attributes={"band": band}, labels=labels, unmatched=0, source="generated"
    )
    return outcomes, groups


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(populations())
def test_the_audit_rates_match_a_direct_count(
    data: tuple[dict[int, SubjectOutcome], Groups],
) -> None:
    outcomes, groups = data
    report = audit(outcomes, groups, entitlements=ENTITLEMENTS)
    band = groups.attributes["band"]
    assert groups.labels is not None
    for ent in report["entitlements"]:
        [attr] = ent["attributes"]
        wanted = GRANTED if ent["kind"] == "benefit" else RESTRICTED
        size = Counter(band)
        hit = Counter(
            b
            for k, b in zip(groups.keys, band, strict=True)
            if outcomes[k].outcomes[ent["id"]] == wanted
        )
        fav = {
            g: (hit[g] if ent["kind"] == "benefit" else size[g] - hit[g]) / size[g] for g in size
        }
        best = max(fav.values())
        by = {g["group"]: g for g in attr["groups"]}
        assert set(by) == set(size)
        for g, n in size.items():
            assert by[g]["size"] == n
            assert by[g]["small"] == (n < SMALL_GROUP)
            assert by[g]["selection_rate"] == pytest.approx(hit[g] / n)
            assert by[g]["favourable_rate"] == pytest.approx(fav[g])
            assert by[g]["impact_ratio"] == pytest.approx(fav[g] / best if best else 1.0)
            # Error rates of the favourable outcome against the label, where one is known.
            known = [
                (label, outcomes[k].outcomes[ent["id"]] == wanted)
                for k, b, label in zip(groups.keys, band, groups.labels, strict=True)
                if b == g and label is not None
            ]
            if not known:
                continue
            pairs = [(label, s if ent["kind"] == "benefit" else not s) for label, s in known]
            negatives = [p for t, p in pairs if not t]
            positives = [p for t, p in pairs if t]
            if negatives:
                assert by[g]["false_positive_rate"] == pytest.approx(
                    sum(negatives) / len(negatives)
                )
            if positives:
                assert by[g]["false_negative_rate"] == pytest.approx(
                    sum(not p for p in positives) / len(positives)
                )
        rates = [by[g]["selection_rate"] for g in by]
        assert attr["demographic_parity_difference"] == pytest.approx(max(rates) - min(rates))
        assert attr["disparate_impact"] == pytest.approx(
            min(g["impact_ratio"] for g in by.values())
        )
        assert attr["passes_four_fifths"] == (attr["disparate_impact"] >= 0.8)


def test_a_benefit_granted_unevenly_fails_the_four_fifths_rule() -> None:
    # Group a: 40 of 50 granted (0.8); group b: 20 of 50 (0.4): ratio 0.5.
    outcomes = {}
    band = []
    for key in range(1, 101):
        group = "a" if key <= 50 else "b"
        granted = (key <= 40) or (50 < key <= 70)
        outcomes[key] = SubjectOutcome(600, "t", {"perk": GRANTED if granted else DENIED})
        band.append(group)
    groups = Groups(list(outcomes), {"band": band}, None, 0, "test")
    report = audit(outcomes, groups, entitlements=[("perk", "benefit")])
    [attr] = report["entitlements"][0]["attributes"]
    assert attr["disparate_impact"] == pytest.approx(0.5)
    assert attr["most_favoured"] == "a"
    assert not attr["passes_four_fifths"]
    [line] = failures(report)
    assert "band=b" in line and "0.50" in line
    assert report["warnings"] == []
