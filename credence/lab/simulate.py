"""Simulation: a synthetic population run month by month through a ledger and the batch plan.

A population spec (YAML) names segments, each with a size, a subject kind
(person or organization) and, per event type, a monthly rate (expected
records per subject per month, drawn Poisson) and how its attributes are
drawn::

    start: 2026-01-01
    segments:
      - id: steady
        size: 200
        kind: person
        events:
          - type: bill.paid
            rate: 2
            attributes:
              days_late: {choices: [0, 0, 0, 0, 3, 45]}
              amount: {uniform: [20, 400]}

Every subject is ``custom:synthetic-<segment>-NNNNN``, every record's
``provider_event_id`` starts with ``synthetic-`` and its evidence is
``synthetic://credence``: nothing simulated can pass for a real record. Each
month's records are ingested into a scratch ledger (validated as any
provider's would be), and every subject is scored with the batch plan as of
the month's end. The same spec and seed give the same report.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from credence.clock import FixedClock
from credence.engine import CompiledPolicy
from credence.errors import InputFileError
from credence.lab.runs import (
    RESTRICTED,
    ledger_records,
    run_policies,
    subject_kinds,
    union_attributes,
)
from credence.policy.model import AttrType, Identifier
from credence.types import DAY_US, format_time, parse_time

EVIDENCE = "synthetic://credence"
MONTH_US = 30 * DAY_US
SCHEME = "custom"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Draw(_Spec):
    """How one attribute is drawn: from choices, uniformly from a range, or a constant."""

    choices: list[Any] | None = None
    uniform: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    integer: Annotated[list[int], Field(min_length=2, max_length=2)] | None = None


class EventSpec(_Spec):
    """One event type of a segment: expected records per subject per month, and attributes."""

    type: str
    rate: float = Field(ge=0, le=100)
    provider: str | None = None
    attributes: dict[str, Draw | str | int | float | bool] = Field(default_factory=dict)


class Segment(_Spec):
    """A group of synthetic subjects who behave alike."""

    id: Identifier
    size: int = Field(ge=1, le=10_000_000)
    kind: Literal["person", "organization"] = "person"
    events: list[EventSpec] = Field(min_length=1)


class PopulationSpec(_Spec):
    """A synthetic population: its segments and when the simulation starts."""

    # YAML reads a bare 2026-01-01 as a date: take it as that day, midnight UTC.
    start: Annotated[str, BeforeValidator(str)] = "2026-01-01"
    segments: list[Segment] = Field(min_length=1)


def load_spec(path: Path) -> PopulationSpec:
    """Read a population spec.

    Raises:
        InputFileError: when it cannot be read or is not a valid spec.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = PopulationSpec.model_validate(data)
        parse_time(spec.start)
    except OSError as e:
        raise InputFileError(f"cannot read the population spec: {e}", path=str(path)) from e
    except yaml.YAMLError as e:
        raise InputFileError(f"the population spec is not YAML: {e}", path=str(path)) from e
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputFileError(f"population spec {where}: {first['msg']}", path=str(path)) from e
    except ValueError as e:
        raise InputFileError(f"population spec start: {e}", path=str(path)) from e
    return spec


def check_spec(spec: PopulationSpec, policy: CompiledPolicy, *, origin: str) -> None:
    """Refuse a spec naming event types, providers or attributes the policy does not know.

    Raises:
        InputFileError: naming the segment and event.
    """
    for segment in spec.segments:
        for event in segment.events:
            declared = policy.policy.event_type(event.type)
            where = f"segment {segment.id!r}, event {event.type!r}"
            if declared is None:
                raise InputFileError(f"{where}: the policy has no such event type", path=origin)
            if event.provider is not None and event.provider not in declared.providers:
                raise InputFileError(
                    f"{where}: provider {event.provider!r} may not send it",
                    path=origin,
                    suggestion=f"use one of {', '.join(declared.providers)}",
                )
            for name in event.attributes:
                if name not in declared.attributes:
                    raise InputFileError(f"{where}: no attribute {name!r}", path=origin)


def _poisson(rng: random.Random, rate: float) -> int:
    # Knuth's method: exact, and fast for the small monthly rates a spec holds.
    if rate <= 0:
        return 0
    limit, k, p = math.exp(-rate), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _value(rng: random.Random, draw: Draw | str | int | float | bool, kind: AttrType) -> Any:
    if not isinstance(draw, Draw):
        return draw
    if draw.choices is not None:
        return rng.choice(draw.choices)
    if draw.integer is not None:
        return rng.randint(draw.integer[0], draw.integer[1])
    if draw.uniform is not None:
        value = rng.uniform(draw.uniform[0], draw.uniform[1])
        return round(value) if kind is AttrType.INTEGER else round(value, 2)
    return None


def month_rows(
    spec: PopulationSpec, policy: CompiledPolicy, *, month: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Interchange-format rows for every synthetic subject's records in one month."""
    start = parse_time(spec.start) + month * MONTH_US
    rows = []
    for segment in spec.segments:
        for index in range(1, segment.size + 1):
            subject = f"synthetic-{segment.id}-{index:05d}"
            serial = 0
            for event in segment.events:
                declared = policy.policy.event_type(event.type)
                assert declared is not None  # check_spec ran
                provider = event.provider or declared.providers[0]
                for _ in range(_poisson(rng, event.rate)):
                    serial += 1
                    at = start + rng.randrange(MONTH_US // 1_000_000) * 1_000_000
                    attributes = {
                        name: _value(rng, draw, declared.attributes[name].type)
                        for name, draw in event.attributes.items()
                    }
                    rows.append(
                        {
                            "provider": provider,
                            "provider_event_id": f"synthetic-{subject}-m{month:03d}-{serial:03d}",
                            "subject_scheme": SCHEME,
                            "subject_id": subject,
                            "subject_kind": segment.kind,
                            "type": event.type,
                            "occurred_at": format_time(at),
                            "attributes": attributes,
                            "evidence": EVIDENCE,
                        }
                    )
    return rows


@dataclass(frozen=True, slots=True)
class Simulation:
    """The simulation's report (JSON-ready) and the final month's outcomes, by subject key."""

    report: dict[str, Any]
    final: dict[int, Any]


def simulate(
    policy_file: Path,
    spec_file: Path,
    *,
    months: int,
    seed: int = 0,
    scratch: Path | None = None,
    groups: Path | None = None,
) -> Simulation:
    """Run the population of ``spec_file`` for ``months`` months under ``policy_file``.

    Raises:
        PolicyError: when the policy is invalid or breaks a safeguard.
        InputFileError: when the spec is invalid or does not fit the policy.
        UsageError: for a month count out of range.
    """
    from credence.errors import UsageError
    from credence.lab.analyses import entitlement_kinds, load_candidate
    from credence.service.ingest import ingest_files
    from credence.service.ledger import open_ledger
    from credence.service.setup import init_ledger
    from credence.settings import load_settings

    if not 1 <= months <= 600:
        raise UsageError("--months must be between 1 and 600")
    policy = load_candidate(policy_file)
    spec = load_spec(spec_file)
    check_spec(spec, policy, origin=str(spec_file))
    rng = random.Random(seed)
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".credence-sim-", dir=scratch))
    start = parse_time(spec.start)
    try:
        settings = load_settings(
            db=str(work / "simulation.db"), master_key=None, key_file=work / "simulation.key"
        )
        init_ledger(settings, policy_file, clock=FixedClock(start))
        restrictions = [e for e, kind in entitlement_kinds(policy) if kind == "restriction"]
        benefits = [e for e, kind in entitlement_kinds(policy) if kind == "benefit"]
        history: list[dict[str, Any]] = []
        flows: Counter[tuple[str, str]] = Counter()
        previous: dict[int, str] = {}
        final: dict[int, Any] = {}
        rejected = 0
        for month in range(months):
            end = start + (month + 1) * MONTH_US
            data = work / f"month-{month:03d}.jsonl"
            with data.open("w", encoding="utf-8") as handle:
                for row in month_rows(spec, policy, month=month, rng=rng):
                    handle.write(json.dumps(row, separators=(",", ":")) + "\n")
            with open_ledger(settings, clock=FixedClock(end)) as ledger:
                reports = ingest_files(ledger, [data])
                rejected += sum(r.rejected for r in reports)
                kinds = subject_kinds(ledger)
                with ledger_records(ledger, union_attributes([policy]), scratch=work) as source:
                    [run] = run_policies([policy], source, as_of=end - 1, kinds=kinds)
            data.unlink()
            n = len(run.subjects)
            tiers = Counter(o.tier or "(none)" for o in run.subjects.values())
            for key, outcome in run.subjects.items():
                tier = outcome.tier or "(none)"
                if key in previous:
                    flows[(previous[key], tier)] += 1
                previous[key] = tier
            history.append(
                {
                    "month": month + 1,
                    "as_of": format_time(end - 1),
                    "subjects": n,
                    "tiers": {t: tiers.get(t, 0) for t in policy.tier_ids},
                    "restricted": {e: _share(run.subjects, e, RESTRICTED, n) for e in restrictions},
                    "granted": {e: _share(run.subjects, e, "granted", n) for e in benefits},
                }
            )
            final = dict(run.subjects)
        report: dict[str, Any] = {
            "policy": {"name": policy.policy.name, "version": policy.policy.version},
            "seed": seed,
            "months_run": months,
            "start": format_time(start),
            "segments": [{"id": s.id, "size": s.size, "kind": s.kind} for s in spec.segments],
            "synthetic": True,
            "rejected_records": rejected,
            "tiers": list(policy.tier_ids),
            "restrictions": restrictions,
            "benefits": benefits,
            "months": history,
            "flows": [
                {"from": a, "to": b, "subjects": count} for (a, b), count in sorted(flows.items())
            ],
        }
        if groups is not None:
            from credence.lab.fairness import audit, load_groups

            with open_ledger(settings, clock=FixedClock(start + months * MONTH_US)) as ledger:
                found = load_groups(ledger, groups)
            report["fairness"] = audit(final, found, entitlements=entitlement_kinds(policy))
        return Simulation(report, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _share(subjects: dict[int, Any], entitlement: str, outcome: str, n: int) -> float:
    if not n:
        return 0.0
    return sum(1 for o in subjects.values() if o.outcomes.get(entitlement) == outcome) / n


def simulation_markdown(report: dict[str, Any]) -> str:
    """The simulation report for people: tiers over time, flows, restrictions, and the plots."""
    from credence.lab.report import fairness_sections

    p = report["policy"]
    segments = ", ".join(f"{s['id']} ({s['size']} {s['kind']}s)" for s in report["segments"])
    lines = [
        f"# Simulation: {p['name']} {p['version']}",
        "",
        f"{report['months_run']} months from {report['start']}, seed {report['seed']}; "
        f"segments: {segments}. Every subject and record is synthetic.",
        "",
        "## Tiers over time",
        "",
        "| month | subjects | " + " | ".join(report["tiers"]) + " |",
        "|---|---|" + "---|" * len(report["tiers"]),
    ]
    for m in report["months"]:
        lines.append(
            f"| {m['month']} | {m['subjects']} | "
            + " | ".join(str(m["tiers"].get(t, 0)) for t in report["tiers"])
            + " |"
        )
    lines += ["", "![Tiers over time](tiers-over-time.svg)", "", "## Flows between tiers", ""]
    lines += [
        "Month-to-month moves, summed over the run.",
        "",
        "| from | to | subjects |",
        "|---|---|---|",
    ]
    lines += [
        f"| {f['from']} | {f['to']} | {f['subjects']} |"
        for f in report["flows"]
        if f["from"] != f["to"]
    ]
    lines += ["", "## Share under each restriction", ""]
    if report["restrictions"]:
        lines += ["| month | " + " | ".join(report["restrictions"]) + " |"]
        lines += ["|---|" + "---|" * len(report["restrictions"])]
        for m in report["months"]:
            lines.append(
                f"| {m['month']} | "
                + " | ".join(f"{m['restricted'][e]:.1%}" for e in report["restrictions"])
                + " |"
            )
        lines += ["", "![Restrictions over time](restrictions.svg)"]
    else:
        lines.append("The policy has no restriction.")
    if "fairness" in report:
        lines += ["", *fairness_sections(report["fairness"])]
    return "\n".join(lines) + "\n"
