"""Who may read the ledger and what was read: parties and keys, sessions, consents, decisions.

Each concept is a small Protocol that every backend implements beside the
record store (``credence.ledger.store.Store`` is their union); the contract
suite in ``tests/ledger/contract_logs.py`` runs against each backend. The
store keeps only what it is given: secrets arrive already hashed, and rules
(expiry, scope, who may do what) live in ``credence.service``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PartyRow:
    """A registered caller: its unique name, kind, and the contexts it declared."""

    name: str
    kind: str
    contexts: tuple[str, ...]
    created_at: int


@dataclass(frozen=True, slots=True)
class KeyRow:
    """An API key of a party, kept only as a hash of its secret."""

    key_id: str
    party: str
    secret_hash: bytes
    created_at: int
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class SignInRow:
    """A single-use sign-in token issued for a subject, kept only as a hash."""

    token_id: str
    subject_key: int
    secret_hash: bytes
    created_at: int
    expires_at: int
    used_at: int | None = None


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A subject's session, kept only as a hash of its token."""

    session_id: str
    subject_key: int
    secret_hash: bytes
    created_at: int
    expires_at: int
    ended_at: int | None = None


@dataclass(frozen=True, slots=True)
class ConsentRow:
    """A consent a subject gave one relying party for one context."""

    id: str
    subject_key: int
    party: str
    context: str
    entitlements: tuple[str, ...]  # empty: every entitlement of the context
    scope: str
    granted_at: int
    expires_at: int
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """A decision made about a subject, for whom, on what, and why."""

    id: str
    subject_key: int
    party: str
    entitlement: str
    outcome: str
    reasons: tuple[str, ...]  # reason codes
    as_of: int
    at: int
    receipt: bytes | None = None  # a signed receipt, once decisions are signed


class PartyStore(Protocol):
    """Parties and their API keys."""

    def add_party(self, party: PartyRow) -> bool:
        """Register a party; False (nothing written) when the name is taken."""

    def party(self, name: str) -> PartyRow | None:
        """The party of that name."""

    def parties(self) -> list[PartyRow]:
        """Every party, by name."""

    def add_key(self, key: KeyRow) -> None:
        """Store a new key."""

    def key(self, key_id: str) -> KeyRow | None:
        """The key with that id, revoked or not."""

    def keys(self, party: str | None = None) -> list[KeyRow]:
        """Every key (of one party), oldest first."""

    def revoke_key(self, key_id: str, *, at: int) -> bool:
        """Mark a key revoked; False when it is unknown or revoked already."""


class SessionStore(Protocol):
    """Sign-in tokens and the sessions they are exchanged for."""

    def add_sign_in(self, token: SignInRow) -> None:
        """Store a new sign-in token."""

    def sign_in(self, token_id: str) -> SignInRow | None:
        """The sign-in token with that id."""

    def use_sign_in(self, token_id: str, *, at: int) -> bool:
        """Mark a sign-in token used; False when unknown or used already (single use)."""

    def add_session(self, session: SessionRow) -> None:
        """Store a new session."""

    def session(self, session_id: str) -> SessionRow | None:
        """The session with that id."""

    def end_session(self, session_id: str, *, at: int) -> bool:
        """End a session; False when unknown or ended already."""


class ConsentStore(Protocol):
    """Consents, per subject."""

    def add_consent(self, consent: ConsentRow) -> None:
        """Store a new consent."""

    def consent(self, consent_id: str) -> ConsentRow | None:
        """The consent with that id."""

    def consents(self, subject_key: int) -> list[ConsentRow]:
        """Every consent a subject gave, oldest first."""

    def revoke_consent(self, consent_id: str, *, at: int) -> bool:
        """Mark a consent revoked; False when unknown or revoked already."""


class DecisionLog(Protocol):
    """Every decision made about a subject."""

    def add_decision(self, decision: DecisionRow) -> None:
        """Log a decision."""

    def decisions(self, subject_key: int) -> list[DecisionRow]:
        """Every decision about a subject, oldest first."""
