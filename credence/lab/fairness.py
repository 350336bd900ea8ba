"""The fairness audit: outcomes per protected group, from a file the ledger never holds.

Protected attributes are never in the ledger and no policy can read them. An
analyst supplies them in a separate audit file (CSV or Parquet) keyed by
subject reference: a column ``subject`` (``scheme:id``), one column per
attribute to audit, and optionally a column ``label`` with a known outcome
(e.g. repaid / defaulted; ``favourable`` names the good values).

Per entitlement and attribute, fairlearn's ``MetricFrame`` gives each group's
size, selection rate (the rate of the entitlement's outcome: granted for a
benefit, restricted for a restriction) and favourable rate; the disparate
impact ratio is a group's favourable rate over the most favoured group's (the
four-fifths rule wants at least 0.8), the demographic parity difference is
fairlearn's, and with labels the false positive and false negative rates of
the favourable outcome (equalised odds). Groups under 30 subjects are flagged.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credence.errors import CredenceError, InputFileError
from credence.lab import require
from credence.lab.runs import GRANTED, RESTRICTED, SubjectOutcome
from credence.service.ledger import Ledger

SUBJECT_COLUMN = "subject"
LABEL_COLUMN = "label"
FOUR_FIFTHS = 0.8
SMALL_GROUP = 30
DEFAULT_FAVOURABLE = frozenset({"1", "true", "yes", "repaid", "good"})


@dataclass(frozen=True, slots=True)
class Groups:
    """Audit file rows matched to ledger subjects: attributes and optional labels, by key."""

    keys: list[int]
    attributes: dict[str, list[str]]  # attribute -> group value per row of ``keys``
    labels: list[bool | None] | None  # favourable outcome known per row, when labelled
    unmatched: int  # rows naming no subject of the ledger
    source: str


def read_groups_table(path: Path) -> Any:
    """The audit file as a pandas DataFrame of strings.

    Raises:
        InputFileError: when it cannot be read or has no ``subject`` column.
    """
    pd = require("pandas")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path).astype("string")
        else:
            frame = pd.read_csv(path, dtype="string", keep_default_na=False)
    except (OSError, ValueError) as e:
        raise InputFileError(f"cannot read the audit file: {e}", path=str(path)) from e
    if SUBJECT_COLUMN not in frame.columns:
        raise InputFileError(
            f"the audit file has no {SUBJECT_COLUMN!r} column",
            path=str(path),
            suggestion="key each row by subject reference, e.g. subject,age_band,label",
        )
    if len(frame.columns) < 2 or list(frame.columns) == [SUBJECT_COLUMN, LABEL_COLUMN]:
        raise InputFileError(
            "the audit file names no attribute to audit",
            path=str(path),
            suggestion="add a column per protected attribute, e.g. age_band",
        )
    return frame


def load_groups(
    ledger: Ledger, path: Path, *, favourable: frozenset[str] = DEFAULT_FAVOURABLE
) -> Groups:
    """Read an audit file and match its subject references to the ledger's subjects.

    The references are hashed with the ledger's key, as any lookup is; no
    identifier is decrypted and nothing is written.

    Raises:
        InputFileError: when the file cannot be read or a reference is malformed.
    """
    from credence.service.subjects import normalise
    from credence.types import SubjectRef

    frame = read_groups_table(path)
    lookups: list[bytes] = []
    for line, text in enumerate(frame[SUBJECT_COLUMN].tolist(), start=2):
        try:
            ref = SubjectRef.parse(str(text))
            lookups.append(ledger.keys.lookup(ref.scheme, normalise(ref.scheme, ref.id)))
        except CredenceError as e:
            raise InputFileError(f"subject {text!r}: {e.message}", path=str(path), line=line) from e
    found = ledger.store.find_subjects(set(lookups))
    rows = [i for i, lookup in enumerate(lookups) if lookup in found]
    attributes = [c for c in frame.columns if c not in (SUBJECT_COLUMN, LABEL_COLUMN)]
    labels: list[bool | None] | None = None
    if LABEL_COLUMN in frame.columns:
        raw = frame[LABEL_COLUMN].tolist()
        labels = [
            None
            if raw[i] is None or str(raw[i]).strip() == ""
            else str(raw[i]).strip().lower() in favourable
            for i in rows
        ]
    return Groups(
        keys=[found[lookups[i]].key for i in rows],
        attributes={a: [str(frame[a].iloc[i]) for i in rows] for a in attributes},
        labels=labels,
        unmatched=len(lookups) - len(rows),
        source=str(path),
    )


def _metric_frame(
    metrics: dict[str, Any], y_true: list[int], y_pred: list[int], by: list[str]
) -> Any:
    fairlearn = require("fairlearn.metrics")
    with warnings.catch_warnings():
        # A group with one class only makes sklearn warn about undefined rates; they are 0.
        warnings.simplefilter("ignore")
        return fairlearn.MetricFrame(
            metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=by
        )


def audit(
    outcomes: Mapping[int, SubjectOutcome],
    groups: Groups,
    *,
    entitlements: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """The audit report over these outcomes: per entitlement, per attribute, per group.

    ``entitlements`` are ``(id, kind)`` pairs, kind ``benefit`` or ``restriction``.
    Subjects of the audit file the outcomes do not cover are left out.
    """
    fm = require("fairlearn.metrics")
    present = [i for i, key in enumerate(groups.keys) if key in outcomes]
    keys = [groups.keys[i] for i in present]
    report: dict[str, Any] = {
        "source": groups.source,
        "subjects": len(keys),
        "unmatched": groups.unmatched + (len(groups.keys) - len(keys)),
        "labelled": groups.labels is not None,
        "four_fifths": FOUR_FIFTHS,
        "small_group": SMALL_GROUP,
        "entitlements": [],
        "warnings": [],
    }
    if not keys:
        report["warnings"].append("no subject of the audit file is in the ledger")
        return report
    labels = None if groups.labels is None else [groups.labels[i] for i in present]
    for ent_id, kind in entitlements:
        selected_outcome = GRANTED if kind == "benefit" else RESTRICTED
        selected = [int(outcomes[k].outcomes.get(ent_id) == selected_outcome) for k in keys]
        favoured = [s if kind == "benefit" else 1 - s for s in selected]
        by_attribute = []
        for attribute, values in groups.attributes.items():
            by = [values[i] for i in present]
            frame = _metric_frame(
                {"selection_rate": fm.selection_rate, "size": fm.count}, favoured, selected, by
            )
            table = frame.by_group
            # selection_rate reads y_pred, the entitlement's outcome; for a restriction the
            # favourable rate is its complement.
            rates = {str(g): float(table.loc[g, "selection_rate"]) for g in table.index}
            favourable_rates = (
                rates if kind == "benefit" else {g: 1.0 - r for g, r in rates.items()}
            )
            best = max(favourable_rates.values())
            result_groups = []
            for g in table.index:
                name = str(g)
                size = int(table.loc[g, "size"])
                ratio = favourable_rates[name] / best if best > 0 else 1.0
                entry: dict[str, Any] = {
                    "group": name,
                    "size": size,
                    "selection_rate": rates[name],
                    "favourable_rate": favourable_rates[name],
                    "impact_ratio": ratio,
                    "small": size < SMALL_GROUP,
                }
                result_groups.append(entry)
                if size < SMALL_GROUP:
                    report["warnings"].append(
                        f"group {attribute}={name} has {size} subjects (under "
                        f"{SMALL_GROUP}); its rates are unreliable"
                    )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parity = float(
                    fm.demographic_parity_difference(selected, selected, sensitive_features=by)
                )
            entry_attr: dict[str, Any] = {
                "attribute": attribute,
                "groups": result_groups,
                "most_favoured": max(favourable_rates, key=lambda g: favourable_rates[g]),
                "disparate_impact": min(e["impact_ratio"] for e in result_groups),
                "demographic_parity_difference": parity,
            }
            entry_attr["passes_four_fifths"] = entry_attr["disparate_impact"] >= FOUR_FIFTHS
            if labels is not None:
                _error_rates(entry_attr, labels, favoured, by)
            by_attribute.append(entry_attr)
        report["entitlements"].append({"id": ent_id, "kind": kind, "attributes": by_attribute})
    report["warnings"] = list(dict.fromkeys(report["warnings"]))
    return report


def _error_rates(
    entry: dict[str, Any], labels: list[bool | None], favoured: list[int], by: list[str]
) -> None:
    """False positive and false negative rates of the favourable outcome, per group."""
    fm = require("fairlearn.metrics")
    known = [i for i, label in enumerate(labels) if label is not None]
    if not known:
        return
    y_true = [int(bool(labels[i])) for i in known]
    y_pred = [favoured[i] for i in known]
    groups = [by[i] for i in known]
    frame = _metric_frame(
        {
            "false_positive_rate": fm.false_positive_rate,
            "false_negative_rate": fm.false_negative_rate,
            "labelled": fm.count,
        },
        y_true,
        y_pred,
        groups,
    )
    table = frame.by_group
    for group in entry["groups"]:
        name = group["group"]
        if name in [str(g) for g in table.index]:
            row = table.loc[name]
            group["false_positive_rate"] = float(row["false_positive_rate"])
            group["false_negative_rate"] = float(row["false_negative_rate"])
            group["labelled"] = int(row["labelled"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        entry["equalized_odds_difference"] = float(
            fm.equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
        )


def failures(report: dict[str, Any]) -> list[str]:
    """Each entitlement and attribute whose disparate impact ratio is under four-fifths."""
    found = []
    for ent in report.get("entitlements", []):
        for attr in ent["attributes"]:
            if not attr["passes_four_fifths"]:
                worst = min(attr["groups"], key=lambda g: g["impact_ratio"])
                found.append(
                    f"{ent['id']} ({ent['kind']}): {attr['attribute']}={worst['group']} has "
                    f"impact ratio {worst['impact_ratio']:.2f} against "
                    f"{attr['attribute']}={attr['most_favoured']}"
                )
    return found
