"""Adverse-action reason codes for points scorecards: points lost against each best bin.

A points scorecard (a policy with rule groups: one group per characteristic,
one rule per bin) explains a denial the way lenders' notices do (ECOA,
Regulation B §1002.9(b)(2): the principal reasons, specific): for each
characteristic, the points the applicant's bin gave are compared with the
most the characteristic can give (its best bin), and the characteristics
that cost the most points are the reasons, largest first. This is the
"points below maximum" method; raw contributions would instead name the
bins that happened to carry negative points, which says little when base
points are large and most bins are positive.

Per characteristic (a group of an event type): ``best`` is the highest
points of its bins (in score units: times the dimension's weight), ``got``
the points its counting records gave; the shortfall is ``best × records −
got``, where ``records`` is how many counting records of the type the
subject has (one per application, usually one). Characteristics with no
shortfall are not reasons; ties go by characteristic name. Rules with
``per`` points are not bins and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from credence.engine.compiled import CompiledPolicy, CompiledRule
from credence.engine.reasons import MAX_FACTORS, Reason
from credence.engine.scoring import Outcome


@dataclass(frozen=True, slots=True)
class _Characteristic:
    type: str
    group: str
    best: CompiledRule


def _characteristics(policy: CompiledPolicy) -> list[_Characteristic]:
    found = []
    for event_type, groups in policy.groups_by_type.items():
        for rules in groups:
            bins = [r for r in rules if r.per is None and r.group is not None]
            if not bins:
                continue
            best = max(bins, key=lambda r: (r.points * policy.weights[r.dimension], -r.index))
            found.append(_Characteristic(event_type, bins[0].group or "", best))
    return found


def is_scorecard(policy: CompiledPolicy) -> bool:
    """Whether a policy scores with rule groups (a points scorecard)."""
    return policy.grouped


def scorecard_reasons(
    policy: CompiledPolicy, outcome: Outcome, *, limit: int = MAX_FACTORS
) -> list[Reason]:
    """The characteristics that cost the most points against their best bin, largest first.

    Each reason's ``code`` is the characteristic (group), ``points`` the
    points lost (negative), ``records`` the records it was scored on.
    """
    got: dict[tuple[str, str], float] = {}
    hit: dict[tuple[str, str], CompiledRule] = {}
    records: dict[str, set[tuple[str, str]]] = {}
    for c in outcome.contributions:
        if c.expires_at is not None and outcome.as_of >= c.expires_at:
            continue  # expired or cured: no longer counts
        records.setdefault(c.rule.type, set()).add(c.record.key)
        if c.rule.group is None:
            continue
        key = (c.rule.type, c.rule.group)
        got[key] = got.get(key, 0.0) + c.value * policy.weights[c.rule.dimension]
        hit.setdefault(key, c.rule)
    lost: list[tuple[float, str, Reason]] = []
    characteristics = _characteristics(policy)
    one_type = len({ch.type for ch in characteristics}) == 1
    for ch in characteristics:
        count = len(records.get(ch.type, ()))
        if not count:
            continue
        key = (ch.type, ch.group)
        best = ch.best.points * policy.weights[ch.best.dimension]
        shortfall = best * count - got.get(key, 0.0)
        if shortfall <= 1e-9:
            continue
        rule = hit.get(key)
        where = rule.reason if rule is not None else f"{ch.group}: no bin applies"
        best_bin = ch.best.reason.removeprefix(f"{ch.group}: ")
        text = f"{where} ({shortfall:g} points below the best bin, {best_bin})"
        code = ch.group if one_type else f"{ch.type}/{ch.group}"
        lost.append((shortfall, code, Reason(code, text, -shortfall, count)))
    lost.sort(key=lambda item: (-item[0], item[1]))
    return [reason for _, _, reason in lost[:limit]]
