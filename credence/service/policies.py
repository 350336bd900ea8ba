"""Policy versions: propose a candidate beside the active policy, list versions, find one.

A ledger keeps every version it has had (``policies``, with the time each
was activated and the time it takes effect) and every proposed candidate
(``policy_candidates``). Activating a candidate is ``credence.lab.activation``:
it needs a backtest and a fairness audit first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from credence.engine import CompiledPolicy, compile_policy
from credence.errors import PolicyNotFound
from credence.ledger import StoredCandidate, StoredPolicy
from credence.policy import LoadedPolicy, load_policy, parse_policy
from credence.service.ledger import Ledger, version_in_effect
from credence.service.setup import refuse_unlawful

IN_EFFECT, SCHEDULED, SUPERSEDED, PROPOSED = "in effect", "scheduled", "superseded", "proposed"


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One policy version or candidate, and where it stands now."""

    name: str
    version: str
    digest: str
    status: str  # in effect | scheduled | superseded | proposed
    proposed_at: int | None
    activated_at: int | None
    effective_at: int | None


def propose(ledger: Ledger, path: Path) -> tuple[StoredCandidate, bool]:
    """Lint a candidate policy file and keep it beside the active policy.

    Returns the stored candidate and whether it is new (the same text twice
    is stored once).

    Raises:
        PolicyError: when it is invalid or breaks a safeguard.
    """
    loaded = load_policy(path)
    refuse_unlawful(loaded)
    for known in ledger.store.candidates():
        if known.digest == loaded.digest:
            return known, False
    policy = loaded.policy
    candidate = StoredCandidate(
        policy.name, policy.version, loaded.digest, loaded.source, ledger.clock.now()
    )
    ledger.store.propose_policy(candidate)
    return candidate, True


def list_versions(ledger: Ledger) -> list[VersionInfo]:
    """Every version (activation order) and then every candidate not yet activated."""
    now = ledger.clock.now()
    versions = ledger.store.policy_versions()
    current = version_in_effect(versions, now)
    proposed = {c.digest: c.proposed_at for c in ledger.store.candidates()}
    found = []
    for v in versions:
        if v is current:
            status = IN_EFFECT
        elif v.effective > now:
            status = SCHEDULED
        else:
            status = SUPERSEDED
        found.append(
            VersionInfo(
                v.name,
                v.version,
                v.digest,
                status,
                proposed.get(v.digest),
                v.activated_at,
                v.effective,
            )
        )
    activated = {v.digest for v in versions}
    for c in ledger.store.candidates():
        if c.digest not in activated:
            found.append(
                VersionInfo(c.name, c.version, c.digest, PROPOSED, c.proposed_at, None, None)
            )
    return found


def find_policy(ledger: Ledger, ref: str) -> LoadedPolicy:
    """A policy named by a file path, or by the version string of a version or candidate.

    Of several with that version string, the latest proposed or activated wins;
    a digest prefix (at least 8 characters) also names one.

    Raises:
        PolicyNotFound: when nothing matches.
        PolicyError: when a file is invalid or breaks a safeguard.
    """
    path = Path(ref)
    if path.suffix in (".yaml", ".yml", ".json") or path.exists():
        loaded = load_policy(path)
        refuse_unlawful(loaded)
        return loaded
    stored: list[StoredCandidate | StoredPolicy] = [
        *ledger.store.candidates(),
        *ledger.store.policy_versions(),
    ]
    matches = [
        s for s in stored if s.version == ref or (len(ref) >= 8 and s.digest.startswith(ref))
    ]
    if not matches:
        known = list(dict.fromkeys(s.version for s in stored))
        raise PolicyNotFound(
            f"no policy file or version {ref!r}",
            suggestion=f"known versions: {', '.join(known)}" if known else "propose one first",
        )
    chosen = matches[-1]
    return parse_policy(chosen.source, origin=f"ledger policy {chosen.name} {chosen.version}")


def candidate_policy(ledger: Ledger, ref: str) -> CompiledPolicy:
    """``find_policy``, compiled for the engine."""
    return compile_policy(find_policy(ledger, ref).policy)
