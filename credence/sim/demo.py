"""``credence demo``: a ledger built from the bundled policy and a simulated population.

It lives with the simulator it runs, and reaches the ledger only through the service.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from credence.clock import Clock, SystemClock
from credence.engine import CompiledPolicy
from credence.service.consents import Scope, grant_consent
from credence.service.disputes import file_dispute, record_id
from credence.service.ingest import ingest_files
from credence.service.ledger import Ledger, open_ledger
from credence.service.parties import PartyKind, add_party, create_key, get_party, list_parties
from credence.service.party_sessions import issue_party_sign_in_token
from credence.service.scoring import (
    SubjectReport,
    SubjectScore,
    decide_for_party,
    explain_subject,
    score_all,
)
from credence.service.sessions import (
    authenticate_session,
    end_session,
    issue_sign_in_token,
    start_session,
)
from credence.service.setup import (
    bundled_policy,
    clear_demo_ledger,
    init_ledger,
    mark_demo_ledger,
)
from credence.service.subject_views import own_notices, own_records
from credence.settings import load_settings
from credence.sim.population import population
from credence.types import DAY_US, MICROS, SubjectRef


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What the demo built, and three subjects to look at."""

    db: Path
    subjects: int
    records: int
    rejected: int
    tiers: list[tuple[str, int]]  # highest tier first
    examples: list[tuple[str, SubjectReport]]  # (why chosen, report)
    policy: CompiledPolicy
    cast: DemoCast | None = None  # the parties and sign-in links of the web pages


@dataclass(frozen=True, slots=True)
class DemoCast:
    """Who is registered in the demo, and the sign-in tokens to open its pages with."""

    subject: SubjectRef  # the demo subject: a consent, decisions, a notice
    subject_token: str  # single use, valid a day
    operator: str
    operator_token: str  # valid a day, until the operator's key is revoked
    parties: tuple[tuple[str, str], ...]  # (name, kind)
    consent_id: str
    decisions: tuple[str, ...]  # (entitlement: outcome)
    notices: int
    dispute: str  # the open dispute's record id


DEMO_PROVIDER = "bank-a"  # a provider of the synthetic records
DEMO_RELYING_PARTY = "acme-rentals"
DEMO_REVIEWER = "demo-reviewer"
LINK_TTL_US = 24 * 3600 * MICROS


def demo_subject(scores: Sequence[SubjectScore], policy: CompiledPolicy) -> SubjectScore:
    """The subject to show the pages with: the person whose contract record is worst.

    Their rental suspension (a restriction with a notice) shows the due process
    of the pages; ties go to the lowest score, then the identifier.
    """
    people = [s for s in scores if s.kind == "person"] or list(scores)
    dimension = (
        "contract_fulfilment" if "contract_fulfilment" in policy.dimension_ids else "general"
    )
    return min(
        people,
        key=lambda s: (s.outcome.dimensions.get(dimension, 0.0), s.outcome.score, s.ref.id),
    )


def cast_demo(ledger: Ledger, subject: SubjectRef) -> DemoCast:
    """Register the demo's parties, give the demo subject's consent, decide, and issue links."""
    operator = ledger.settings.actor  # `init` registers it: the operator the CLI acts as
    add_party(ledger, DEMO_PROVIDER, kind=PartyKind.PROVIDER)
    add_party(ledger, DEMO_RELYING_PARTY, kind=PartyKind.RELYING_PARTY, contexts=("rentals",))
    add_party(ledger, DEMO_REVIEWER, kind=PartyKind.REVIEWER)
    create_key(ledger, operator)
    for name in (DEMO_PROVIDER, DEMO_RELYING_PARTY, DEMO_REVIEWER):
        create_key(ledger, name)
    # The subject consents through a session of their own, as on the consents page.
    setup_token, _ = start_session(ledger, issue_sign_in_token(ledger, subject).token)
    session = authenticate_session(ledger, setup_token)
    receipt = grant_consent(
        ledger,
        session,
        party_name=DEMO_RELYING_PARTY,
        context="rentals",
        scope=Scope.DECISION_AND_SCORE,
    )
    party = get_party(ledger, DEMO_RELYING_PARTY)
    decisions = []
    for entitlement in ("deposit_free_rental", "rental_suspension"):
        made = decide_for_party(ledger, party, subject, entitlement)
        decisions.append(f"{entitlement}: {made.decision.outcome}")
    notices = len(own_notices(ledger, session))
    # ... and disputes the record that lowers their score most, so the pages show its clock.
    worst = min(own_records(ledger, session), key=lambda r: (r.points, r.occurred_at))
    dispute = file_dispute(
        ledger,
        session,
        record_id(worst.provider, worst.provider_event_id),
        "This was settled on time; the provider's system recorded it late.",
    )
    end_session(ledger, setup_token)
    subject_link = issue_sign_in_token(ledger, subject, ttl_us=LINK_TTL_US)
    operator_link = issue_party_sign_in_token(ledger, operator, ttl_us=LINK_TTL_US)
    return DemoCast(
        subject=subject,
        subject_token=subject_link.token,
        operator=operator,
        operator_token=operator_link.token,
        parties=tuple((p.name, p.kind.value) for p in list_parties(ledger)),
        consent_id=receipt.consent.id,
        decisions=tuple(decisions),
        notices=notices,
        dispute=dispute.record,
    )


def run_demo(
    db: Path,
    *,
    subjects: int = 1000,
    seed: int = 7,
    clock: Clock | None = None,
    on_progress: Callable[[Path, int, int], None] | None = None,
) -> DemoReport:
    """Create ``db`` from the consumer-trust policy and a synthetic population, and score it."""
    clock = clock or SystemClock()
    today = clock.now() // DAY_US * DAY_US
    clear_demo_ledger(db)
    settings = load_settings(db=str(db), master_key=None, key_file=None)
    init_ledger(settings, bundled_policy(), clock=clock)
    with tempfile.TemporaryDirectory(prefix="credence-demo-") as tmp:
        data = Path(tmp) / "synthetic-population.jsonl"
        with data.open("w", encoding="utf-8") as handle:
            for row in population(subjects=subjects, seed=seed, until=today):
                handle.write(json.dumps(row, separators=(",", ":")) + "\n")
        with open_ledger(settings, clock=clock) as ledger:
            mark_demo_ledger(ledger, f"synthetic population, seed {seed}")
            reports = ingest_files(ledger, [data], on_progress=on_progress)
            scores = list(score_all(ledger))
            counts = Counter(s.outcome.tier for s in scores)
            ranked = sorted(scores, key=lambda s: (s.outcome.score, s.ref.id))
            picks = [
                ("highest score", ranked[-1]),
                ("median score", ranked[len(ranked) // 2]),
                ("lowest score", ranked[0]),
            ]
            examples = [(why, explain_subject(ledger, s.ref, purpose="demo")) for why, s in picks]
            tiers = [(t, counts.get(t, 0)) for t in ledger.policy.tier_ids]
            cast = cast_demo(ledger, demo_subject(scores, ledger.policy).ref)
            stored = ledger.store.counts()
            compiled = ledger.policy
    return DemoReport(
        db=db,
        subjects=stored["subjects"],
        records=stored["records"],
        rejected=sum(r.rejected for r in reports),
        tiers=tiers,
        examples=examples,
        policy=compiled,
        cast=cast,
    )
