"""Signed decision receipts: what a decision was, on which policy and ledger state, signed.

A receipt (``credence-receipt/1``) names the decision id, the subject's lookup
hash (never the identifier), the entitlement, the outcome, its reason codes,
the override that changed it (if any), the policy's name, version and content
hash, the ledger head it was computed on (record count and chain hash), the
as-of and issue times. It is signed with the ledger's Ed25519 key (the one that
signs checkpoints; the ``format`` field keeps a receipt from ever reading as a
checkpoint) over its canonical JSON: keys sorted, no spaces. Anyone holding
the public key can check one offline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from credence.errors import ReceiptInvalid
from credence.types import format_time

FORMAT = "credence-receipt/1"
FIELDS = (
    "format",
    "decision_id",
    "subject",
    "entitlement",
    "outcome",
    "reason_codes",
    "override",
    "policy",
    "ledger",
    "as_of",
    "issued_at",
)


def key_id(public: bytes) -> str:
    """A short name for a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public).hexdigest()[:16]


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The raw 32-byte public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo), the form ``openssl`` and others read."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@dataclass(frozen=True, slots=True)
class Receipt:
    """A signed receipt: its body (``FIELDS``), the signer's public key and the signature."""

    body: dict[str, Any]
    public_key: bytes
    signature: bytes

    @property
    def decision_id(self) -> str:
        """The decision this receipt is for."""
        return str(self.body["decision_id"])

    def to_dict(self) -> dict[str, Any]:
        """The receipt as JSON: the body, readable times, the key id, key and signature."""
        return {
            **self.body,
            "as_of_utc": format_time(int(self.body["as_of"])),
            "issued_at_utc": format_time(int(self.body["issued_at"])),
            "key_id": key_id(self.public_key),
            "public_key": base64.b64encode(self.public_key).decode(),
            "signature": base64.b64encode(self.signature).decode(),
        }

    def to_bytes(self) -> bytes:
        """The receipt's file text (and what the decision log keeps)."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def payload(body: dict[str, Any]) -> bytes:
    """The exact bytes signed: the body's canonical JSON (keys sorted, compact)."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def sign_receipt(
    *,
    decision_id: str,
    subject_lookup: bytes,
    entitlement: str,
    outcome: str,
    reason_codes: tuple[str, ...],
    override: str | None,
    policy: tuple[str, str, str],
    ledger: tuple[int, bytes],
    as_of: int,
    issued_at: int,
    key: Ed25519PrivateKey,
    public: bytes,
) -> Receipt:
    """Sign a receipt for one decision (``policy``: name, version, digest; ``ledger``:
    record count and chain hash). ``public`` is ``key``'s raw public key, passed in so it is
    computed once per ledger, not per decision."""
    name, version, digest = policy
    records, head = ledger
    body: dict[str, Any] = {
        "format": FORMAT,
        "decision_id": decision_id,
        "subject": subject_lookup.hex(),
        "entitlement": entitlement,
        "outcome": outcome,
        "reason_codes": list(reason_codes),
        "override": override,
        "policy": {"name": name, "version": version, "digest": digest},
        "ledger": {"records": records, "head": head.hex()},
        "as_of": as_of,
        "issued_at": issued_at,
    }
    return Receipt(body, public, key.sign(payload(body)))


def read_public_key(text: str, *, origin: str) -> bytes:
    """A raw Ed25519 public key from PEM text (``credence key public``) or base64 of 32 bytes.

    Raises:
        ReceiptInvalid: when it is neither.
    """
    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN"):
            loaded = serialization.load_pem_public_key(stripped.encode())
            if not isinstance(loaded, Ed25519PublicKey):
                raise ValueError("not an Ed25519 public key")
            return raw_public(loaded)
        raw = base64.b64decode(stripped, validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
        return raw
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as e:
        raise ReceiptInvalid(
            f"not an Ed25519 public key: {e}",
            path=origin,
            suggestion="pass the file written by `credence key public --out FILE`",
        ) from e


def load_receipt(text: str | bytes, *, origin: str, public_key: bytes | None = None) -> Receipt:
    """A receipt from its JSON, with its signature checked.

    With ``public_key`` the receipt must be signed by that key; without, by the
    key it carries (which proves it unaltered, not who signed it).

    Raises:
        ReceiptInvalid: when it is malformed, altered, or signed by another key.
    """
    try:
        document: Any = orjson.loads(text)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document")
        missing = [f for f in FIELDS if f not in document]
        if missing:
            raise ValueError(f"missing field(s): {', '.join(missing)}")
        body = {f: document[f] for f in FIELDS}
        carried = base64.b64decode(document["public_key"], validate=True)
        signature = base64.b64decode(document["signature"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(public_key or carried)
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError) as e:
        raise ReceiptInvalid(
            f"the receipt cannot be read: {e}",
            path=origin,
            suggestion="pass a receipt written by `credence decide --receipt FILE` or returned "
            "by POST /v1/decisions",
        ) from e
    if public_key is not None and carried != public_key:
        raise ReceiptInvalid(
            f"the receipt names key {key_id(carried)}, not the given key {key_id(public_key)}",
            path=origin,
            suggestion="check it with the public key of the ledger that issued it",
        )
    try:
        key.verify(signature, payload(body))
    except InvalidSignature as e:
        raise ReceiptInvalid(
            "the receipt's signature does not match its contents (it was altered)",
            path=origin,
        ) from e
    return Receipt(body, carried, signature)
