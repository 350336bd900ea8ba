"""Signed checkpoints of the ledger's hash chain, for an outside party to hold.

A checkpoint is the chain head (last seq, its chain hash, the record count),
the event chain's head (event count and chain hash) and the time it was
taken, signed with Ed25519. Checkpoints written before the event chain
(``credence-checkpoint/1``) still load and vouch for the records only. The
signing key is derived from the master key by HKDF (its own label), so it is
never in the ledger; the public key travels in the checkpoint file. An outside party keeps the
file: a later ledger whose chain does not pass through that head exactly
(a record or event edited, reordered, removed, or the tail truncated) fails
``credence verify --checkpoint FILE``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from credence.errors import CredenceError
from credence.ledger.chain import EventsHead, Head
from credence.types import format_time

FORMAT = "credence-checkpoint/2"
RECORDS_ONLY = "credence-checkpoint/1"  # before the event chain: records only
_INVALID = "checkpoint.invalid"


def signing_key(master: bytes) -> Ed25519PrivateKey:
    """The checkpoint signing key derived from the 32-byte master key."""
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"credence checkpoint signing v1"
    ).derive(master)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    """The raw 32-byte public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed chain head: what an outside party holds."""

    head: Head
    at: int  # epoch microseconds, UTC
    public_key: bytes
    signature: bytes

    def payload(self) -> bytes:
        """The exact bytes signed: compact JSON, keys sorted."""
        return _payload(self.head, self.at)

    def to_json(self) -> str:
        """The checkpoint file's text."""
        body = {
            **_body(self.head, self.at),
            "at_utc": format_time(self.at),
            "public_key": base64.b64encode(self.public_key).decode(),
            "signature": base64.b64encode(self.signature).decode(),
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def _body(head: Head, at: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "format": FORMAT if head.events is not None else RECORDS_ONLY,
        "seq": head.seq,
        "records": head.records,
        "head": head.chain_hash.hex(),
        "at": at,
    }
    if head.events is not None:
        body["events"] = head.events.events
        body["events_head"] = head.events.chain_hash.hex()
    return body


def _payload(head: Head, at: int) -> bytes:
    return orjson.dumps(_body(head, at), option=orjson.OPT_SORT_KEYS)


def sign(head: Head, *, at: int, key: Ed25519PrivateKey) -> Checkpoint:
    """Sign a chain head taken at ``at`` (with its event chain's head, when it has one)."""
    return Checkpoint(head, at, public_bytes(key.public_key()), key.sign(_payload(head, at)))


def load(text: str, *, origin: str) -> Checkpoint:
    """A checkpoint from its file text, with its signature checked against its public key.

    Raises:
        CredenceError: code ``checkpoint.invalid`` when it is malformed or the signature fails.
    """
    try:
        body: Any = orjson.loads(text)
        if not isinstance(body, dict) or body.get("format") not in (FORMAT, RECORDS_ONLY):
            raise ValueError(f"not a {FORMAT} file")
        events = None
        if body["format"] == FORMAT:
            events = EventsHead(int(body["events"]), bytes.fromhex(body["events_head"]))
        head = Head(int(body["seq"]), bytes.fromhex(body["head"]), int(body["records"]), events)
        at = int(body["at"])
        public = base64.b64decode(body["public_key"], validate=True)
        signature = base64.b64decode(body["signature"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(public)
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError) as e:
        raise CredenceError(
            f"the checkpoint cannot be read: {e}",
            path=origin,
            code=_INVALID,
            suggestion="pass a file written by `credence checkpoint --out FILE`",
        ) from e
    checkpoint = Checkpoint(head, at, public, signature)
    try:
        key.verify(signature, checkpoint.payload())
    except InvalidSignature as e:
        raise CredenceError(
            "the checkpoint's signature does not match its contents (the file was altered)",
            path=origin,
            code=_INVALID,
        ) from e
    return checkpoint
