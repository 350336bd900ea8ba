"""Parties sign in to the web console: a signed session bound to one of their API keys.

A party proves who it is with an API key, or with a short-lived sign-in token
the command line issues for it (``issue_party_sign_in_token``), and gets a
session token for a browser cookie. Both tokens are values signed with a key
derived from the ledger's master key (``signed_value``), so nothing new is
stored: each names the API key it was issued on, and every request checks
that key is still active, so revoking or rotating the key ends the session at
once. A party session is never a subject's session: the subject portal
accepts only ``credence.service.sessions``.

Signed values are also what the web pages use for their CSRF form tokens
(purpose ``csrf``): a random nonce signed by the ledger, which a forger cannot
mint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from credence.errors import AuthenticationFailed, UsageError
from credence.ledger import KeyRow
from credence.service.ledger import Ledger
from credence.service.parties import Party, authenticate, get_party
from credence.types import MICROS

SIGN_IN_TTL_US = 15 * 60 * MICROS
MAX_SIGN_IN_TTL_US = 24 * 3600 * MICROS
SIGN_IN = "party-sign-in"
SESSION = "party-session"


def _secret(ledger: Ledger) -> bytes:
    # A keyed hash under the master key's lookup key is a pseudo-random key of its own:
    # it never leaves the process and changes with the master key.
    return ledger.keys.lookup("credence-web", "signed values v1")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_value(ledger: Ledger, purpose: str, payload: dict[str, Any]) -> str:
    """``payload`` signed for one purpose: ``<body>.<signature>``, URL- and cookie-safe."""
    body = _b64(orjson.dumps(payload))
    mac = hmac.new(_secret(ledger), f"{purpose}.{body}".encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def signed_payload(ledger: Ledger, purpose: str, value: str) -> dict[str, Any] | None:
    """The payload of a value signed for ``purpose``, or None if it is not one."""
    body, _, mac = value.strip().partition(".")
    if not body or not mac or len(value) > 4096:
        return None
    expected = hmac.new(_secret(ledger), f"{purpose}.{body}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        payload = orjson.loads(_unb64(body))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


@dataclass(frozen=True, slots=True)
class PartySignIn:
    """A sign-in token to hand to a party's person: shown once, valid until ``expires_at``."""

    token: str
    party: Party
    expires_at: int


@dataclass(frozen=True, slots=True)
class PartySession:
    """A signed-in party: who, on which API key, until when."""

    party: Party
    key_id: str
    expires_at: int


def _failed(what: str) -> AuthenticationFailed:
    return AuthenticationFailed(
        f"the {what} is not valid (unknown, expired, or its API key revoked)",
        suggestion="sign in again with a current API key"
        if what == "session"
        else "ask for a new sign-in link (`credence party sign-in`), or use your API key",
    )


def _active_key(ledger: Ledger, party: str) -> KeyRow:
    active = [k for k in ledger.store.keys(party) if k.revoked_at is None]
    if not active:
        raise UsageError(
            f"{party} has no active API key to sign in on",
            suggestion=f"create one with `credence key create {party}`",
        )
    return active[-1]


def issue_party_sign_in_token(
    ledger: Ledger, party_name: str, *, ttl_us: int = SIGN_IN_TTL_US
) -> PartySignIn:
    """A sign-in token for a party's web console, bound to its newest active API key.

    It can be used more than once until it expires (default 15 minutes);
    revoking that key voids it and every session started with it.

    Raises:
        PartyNotFound: when no such party is registered.
        UsageError: when the party has no active key, or for a lifetime not in (0, 1 day].
    """
    if not 0 < ttl_us <= MAX_SIGN_IN_TTL_US:
        raise UsageError("a sign-in token lasts more than 0 seconds and at most a day")
    with ledger.unit_of_work():
        party = get_party(ledger, party_name)
        key = _active_key(ledger, party.name)
        expires = ledger.clock.now() + ttl_us
    payload = {"p": party.name, "k": key.key_id, "e": expires, "n": secrets.token_hex(8)}
    return PartySignIn(signed_value(ledger, SIGN_IN, payload), party, expires)


def _check(ledger: Ledger, purpose: str, token: str, what: str) -> PartySession:
    payload = signed_payload(ledger, purpose, token)
    if payload is None:
        raise _failed(what)
    name, key_id, expires = payload.get("p"), payload.get("k"), payload.get("e")
    if not (isinstance(name, str) and isinstance(key_id, str) and isinstance(expires, int)):
        raise _failed(what)
    with ledger.unit_of_work():
        key = ledger.store.key(key_id)
        row = ledger.store.party(name)
        now = ledger.clock.now()
    if key is None or key.revoked_at is not None or key.party != name or row is None:
        raise _failed(what)
    if now >= expires:
        raise _failed(what)
    return PartySession(get_party(ledger, name), key_id, expires)


def start_party_session(
    ledger: Ledger, *, api_key: str | None = None, sign_in_token: str | None = None
) -> tuple[str, PartySession]:
    """A session from an API key or a party sign-in token; returns the session token and session.

    The session lasts ``settings.session_minutes`` and ends early when its key is revoked.

    Raises:
        AuthenticationFailed: for an invalid key or token (one message for every cause).
        UsageError: when neither or both are given.
    """
    if (api_key is None) == (sign_in_token is None):
        raise UsageError("sign in with either an API key or a sign-in token")
    if api_key is not None:
        party = authenticate(ledger, api_key)
        key_id = api_key.strip().split("_")[1]
    else:
        assert sign_in_token is not None
        started = _check(ledger, SIGN_IN, sign_in_token, "sign-in token")
        party, key_id = started.party, started.key_id
    expires = ledger.clock.now() + ledger.settings.session_minutes * 60 * MICROS
    payload = {"p": party.name, "k": key_id, "e": expires, "n": secrets.token_hex(8)}
    return signed_value(ledger, SESSION, payload), PartySession(party, key_id, expires)


def authenticate_party_session(ledger: Ledger, session_token: str) -> PartySession:
    """The signed-in party of a session token.

    Raises:
        AuthenticationFailed: for a forged or expired token, or one whose API key
            has been revoked or whose party is gone.
    """
    return _check(ledger, SESSION, session_token, "session")
