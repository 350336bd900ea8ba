"""Whether a ledger is ready to serve: reachable, schema current, a policy active."""

from __future__ import annotations

from dataclasses import dataclass

from credence.errors import PolicyNotFound
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
