"""Whether a ledger is ready to serve: reachable, schema current, a policy active."""

from __future__ import annotations

from dataclasses import dataclass

from credence.errors import PolicyNotFound
from credence.policy.diagnostics import Diagnostic
from credence.policy.lint import lint
from credence.policy.load import SourceMap
from credence.service.access import Caller, authorize
from credence.service.ledger import Ledger


@dataclass(frozen=True, slots=True)
class Readiness:
    """What a ready ledger reports about itself (nothing about any subject)."""

    policy_name: str
    policy_version: str
    records: int


def readiness(ledger: Ledger) -> Readiness:
    """Check that the ledger can serve now.

    Raises:
        StoreUnavailable, StoreNotInitialised: when the store cannot be used.
        PolicyNotFound: when it has no active policy.
    """
    ledger.store.check_schema()
    stored = ledger.store.active_policy()
    if stored is None:
        raise PolicyNotFound(
            "the ledger has no policy", suggestion="run `credence init --policy FILE`"
        )
    head = ledger.store.chain_head()
    return Readiness(policy_name=stored.name, policy_version=stored.version, records=head.records)


@dataclass(frozen=True, slots=True)
class PolicyReport:
    """The active policy version and what the safeguard linter says about it now."""

    name: str
    version: str
    digest: str
    activated_at: int
    diagnostics: tuple[Diagnostic, ...]


def policy_report(ledger: Ledger, caller: Caller) -> PolicyReport:
    """The active policy and its lint result, for the operator or a reviewer.

    Raises:
        Forbidden: for any other kind of party.
        PolicyNotFound: when the ledger has no active policy.
    """
    authorize(caller, "policy.read")
    loaded = ledger.loaded_policy
    stored = ledger.store.active_policy()
    assert stored is not None  # loaded_policy raised otherwise
    diagnostics = lint(loaded.policy, source_map=SourceMap(loaded.source), origin=loaded.origin)
    return PolicyReport(
        name=stored.name,
        version=stored.version,
        digest=stored.digest,
        activated_at=stored.activated_at,
        diagnostics=tuple(diagnostics),
    )
