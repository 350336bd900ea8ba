"""Activating a proposed policy version: backtest it, audit it, give notice, schedule it.

A change that worsens any subject's outcome (a benefit lost, a restriction
gained, a lower tier, as the backtest finds them as of now) takes effect no
sooner than the candidate's ``change_notice_days`` after activation (30 by
default, never below 14), and each such subject is given a notice naming the
version and when it takes effect. A change that only improves outcomes may
take effect at once. A candidate that fails the four-fifths rule for any
entitlement, or that was not audited at all, is refused unless it records a
``fairness_justification``.

Notices are written before the version: should the run stop between the two,
subjects were told of a change that has not happened, never the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from credence.errors import PolicyError, UsageError
from credence.lab.analyses import entitlement_kinds
from credence.lab.backtest import backtest
from credence.service.ledger import Ledger
from credence.service.policies import find_policy
from credence.service.results import StoredPolicy
from credence.types import DAY_US, Notice, format_time

NOTICE_PREFIX = "policy:"  # a policy-change notice's ``entitlement`` is policy:NAME@VERSION


@dataclass(frozen=True, slots=True)
class Activation:
    """What activating a version did."""

    name: str
    version: str
    activated_at: int
    effective_at: int
    harmed: int  # subjects whose outcome the version worsens, each given notice
    notices: int
    fairness: dict[str, Any] | None = field(default=None, repr=False)
    justified: bool = False  # activated under a recorded fairness_justification


def policy_notice_id(name: str, version: str) -> str:
    """The ``entitlement`` field of a notice that a policy version changes outcomes."""
    return f"{NOTICE_PREFIX}{name}@{version}"


def activate(
    ledger: Ledger,
    ref: str,
    *,
    effective: int | None = None,
    groups: Path | None = None,
) -> Activation:
    """Activate the proposed version ``ref`` (a version string or a policy file).

    Raises:
        PolicyNotFound: when no such candidate exists.
        PolicyError: code ``policy.unfair`` when it fails the four-fifths rule (or was
            not audited) and records no ``fairness_justification``.
        UsageError: code ``policy.notice_too_short`` when ``effective`` is sooner than
            the notice a worsening change needs; ``policy.scheduled`` while another
            version waits to take effect; ``usage.invalid`` for an effective time
            in the past or a version already active.
    """
    now = ledger.clock.now()
    loaded = find_policy(ledger, ref)
    candidate = loaded.policy
    versions = ledger.store.policy_versions()
    if any(v.digest == loaded.digest for v in versions):
        raise UsageError(f"policy {candidate.name} {candidate.version} is already a version")
    pending = [v for v in versions if v.effective > now]
    if pending:
        raise UsageError(
            f"version {pending[-1].version} takes effect {format_time(pending[-1].effective)}; "
            "activate another once it has",
            code="policy.scheduled",
        )
    if effective is not None and effective < now:
        raise UsageError("--effective is in the past; a version cannot take effect retroactively")
    from credence.engine import compile_policy

    compiled = compile_policy(candidate)
    comparison = backtest(ledger, compiled, as_of=now)
    fairness: dict[str, Any] | None = None
    if groups is not None:
        from credence.lab.fairness import audit, failures, load_groups

        fairness = audit(
            comparison.runs[1].subjects,
            load_groups(ledger, groups),
            entitlements=entitlement_kinds(compiled),
        )
        found = failures(fairness)
        if found and candidate.fairness_justification is None:
            raise PolicyError(
                f"{candidate.name} {candidate.version} fails the four-fifths rule: {found[0]}"
                + (f" (and {len(found) - 1} more)" if len(found) > 1 else ""),
                code="policy.unfair",
                suggestion="change the policy, or record why in fairness_justification",
            )
    elif candidate.fairness_justification is None:
        raise PolicyError(
            f"{candidate.name} {candidate.version} has not been audited for fairness",
            code="policy.unfair",
            suggestion="give --groups FILE (see `credence audit-fairness`), or record why "
            "not in fairness_justification",
        )
    harmed = comparison.harmed
    earliest = now + candidate.change_notice_days * DAY_US if harmed else now
    when = earliest if effective is None else effective
    if when < earliest:
        raise UsageError(
            f"this version worsens {len(harmed)} subjects' outcomes, so it takes effect no "
            f"sooner than {format_time(earliest)} ({candidate.change_notice_days} days' notice)",
            code="policy.notice_too_short",
            suggestion=f"use --effective {format_time(earliest)} or later, or leave it out",
        )
    notice_id = policy_notice_id(candidate.name, candidate.version)
    for key in sorted(harmed):
        ledger.store.add_notice(key, Notice(notice_id, now, when, None))
    ledger.store.add_policy(
        StoredPolicy(candidate.name, candidate.version, loaded.digest, loaded.source, now, when)
    )
    ledger.forget_policies()
    return Activation(
        name=candidate.name,
        version=candidate.version,
        activated_at=now,
        effective_at=when,
        harmed=len(harmed),
        notices=len(harmed),
        fairness=fairness,
        justified=candidate.fairness_justification is not None,
    )
