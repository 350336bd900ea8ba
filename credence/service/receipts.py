"""Decision receipts: issue one per logged decision, export the key, verify one offline.

Every decision the service logs gets a receipt signed with the ledger's
Ed25519 key (``credence.receipt``); the decision log keeps it, the caller gets
it, and the subject sees it beside the decision. The key is the one that signs
checkpoints, derived from the master key once per open ledger
(``Ledger.signing_key``), so one public key vouches for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from credence.engine import Decision
from credence.errors import InputFileError
from credence.ledger import SubjectRow
from credence.receipt import (
    Receipt,
    key_id,
    load_receipt,
    public_pem,
    read_public_key,
    sign_receipt,
)
from credence.service.ledger import Ledger, master_key
from credence.settings import Settings
from credence.signing import signing_key


def issue_receipt(
    ledger: Ledger, row: SubjectRow, decision: Decision, *, decision_id: str
) -> Receipt:
    """The signed receipt of a decision about ``row``, on the ledger as it stands now."""
    key, public = ledger.signing_key
    stored = ledger.stored_policy_at(decision.as_of)
    head = ledger.store.chain_head()
    return sign_receipt(
        decision_id=decision_id,
        subject_lookup=row.lookup,
        entitlement=decision.entitlement,
        outcome=decision.outcome,
        reason_codes=tuple(r.code for r in decision.reasons),
        override=decision.override,
        policy=(stored.name, stored.version, stored.digest),
        ledger=(head.records, head.chain_hash),
        as_of=decision.as_of,
        issued_at=ledger.clock.now(),
        key=key,
        public=public,
    )


def public_key_pem(settings: Settings) -> str:
    """The ledger's public key as PEM, for checking receipts and checkpoints offline.

    Raises:
        CryptoKeyError: when no master key is at hand.
    """
    return public_pem(signing_key(master_key(settings)).public_key())


@dataclass(frozen=True, slots=True)
class PublicKey:
    """The ledger's public key: its short id and its PEM."""

    key_id: str
    pem: str


def ledger_public_key(ledger: Ledger) -> PublicKey:
    """The open ledger's public key."""
    key, public = ledger.signing_key
    return PublicKey(key_id(public), public_pem(key.public_key()))


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(f"cannot read the {what}: {e}", path=str(path)) from e


def verify_receipt_file(path: Path, *, public_key: Path | None = None) -> Receipt:
    """Check a receipt file's signature, against ``public_key`` (a PEM file) when given.

    Raises:
        InputFileError: when a file cannot be read.
        ReceiptInvalid: when the receipt is malformed, altered, or signed by another key.
    """
    key = None
    if public_key is not None:
        key = read_public_key(_read(public_key, "public key"), origin=str(public_key))
    return load_receipt(_read(path, "receipt"), origin=str(path), public_key=key)
