"""Bearer tokens: API keys, sign-in tokens and sessions, shown once and kept only as hashes.

A token reads ``<prefix>_<id>_<secret>``: the id (64 random bits, hex) is
public and finds the stored row; the secret (256 random bits from
``secrets``) is never stored, only its sha256, which is compared in constant
time. A random secret of that size needs no slow hash: nothing can be guessed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

API_KEY = "cred"
SIGN_IN = "csign"
SESSION = "csess"

_SHAPE = re.compile(r"^([a-z]+)_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_DUMMY = bytes(32)


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token to hand out once, its public id, and the hash to store."""

    token: str
    token_id: str
    secret_hash: bytes


def digest(secret: str) -> bytes:
    """The stored form of a token's secret part."""
    return hashlib.sha256(secret.encode("ascii")).digest()


def new_token(prefix: str) -> NewToken:
    """A fresh random token of the given kind."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)  # 43 characters
    return NewToken(f"{prefix}_{token_id}_{secret}", token_id, digest(secret))


def parse(prefix: str, token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed token of this kind, else None."""
    match = _SHAPE.match(token.strip())
    if match is None or match.group(1) != prefix:
        return None
    return match.group(2), match.group(3)


def matches(secret: str | None, stored: bytes | None) -> bool:
    """Whether a secret is the one stored, in constant time (also when nothing is stored)."""
    given = digest(secret) if secret is not None else _DUMMY
    return hmac.compare_digest(given, stored if stored is not None else _DUMMY) and (
        secret is not None and stored is not None
    )
