"""Subjects sign in: an operator-issued sign-in token, exchanged once for a session.

The operator verifies a subject's identity elsewhere (a production deployment
puts its identity provider in front of this step) and issues a short-lived,
single-use sign-in token; the subject exchanges it for a session token that
lasts ``settings.session_minutes``. Both are kept only as hashes
(``credence.service.tokens``).
"""

from __future__ import annotations

from dataclasses import dataclass

from credence.errors import AuthenticationFailed, UsageError
from credence.ledger import SessionRow, SignInRow
from credence.service import tokens
from credence.service.ledger import Ledger
from credence.service.subjects import identity, resolve
from credence.types import MICROS, SubjectRef

SIGN_IN_TTL_US = 15 * 60 * MICROS
MAX_SIGN_IN_TTL_US = 24 * 3600 * MICROS


@dataclass(frozen=True, slots=True)
class SignInToken:
    """A sign-in token to hand to the subject: shown this once."""

    token: str
    subject: SubjectRef
    expires_at: int


@dataclass(frozen=True, slots=True)
class SubjectSession:
    """A signed-in subject: who, of what kind, until when."""

    subject_key: int
    subject: SubjectRef
    kind: str
    expires_at: int


def _failed(what: str) -> AuthenticationFailed:
    return AuthenticationFailed(
        f"the {what} is not valid (unknown, expired or used)",
        suggestion="ask the operator for a new sign-in token"
        if what == "sign-in token"
        else "sign in again",
    )


def issue_sign_in_token(
    ledger: Ledger, ref: SubjectRef, *, ttl_us: int = SIGN_IN_TTL_US
) -> SignInToken:
    """A single-use sign-in token for a subject, valid ``ttl_us`` (default 15 minutes).

    An operator action: the caller has verified the subject's identity.

    Raises:
        SubjectNotFound, IdentifierError: when the identifier names no stored subject.
        UsageError: for a lifetime not above zero or over a day.
    """
    if not 0 < ttl_us <= MAX_SIGN_IN_TTL_US:
        raise UsageError(
            "a sign-in token lasts more than 0 seconds and at most a day",
            suggestion="e.g. --ttl 15m",
        )
    with ledger.unit_of_work():
        row = resolve(ledger, ref)
        now = ledger.clock.now()
        new = tokens.new_token(tokens.SIGN_IN)
        expires = now + ttl_us
        ledger.store.add_sign_in(SignInRow(new.token_id, row.key, new.secret_hash, now, expires))
    return SignInToken(new.token, identity(ledger, row), expires)


def start_session(ledger: Ledger, sign_in_token: str) -> tuple[str, SubjectSession]:
    """Exchange a sign-in token (once) for a session; returns the session token and session.

    Raises:
        AuthenticationFailed: for a malformed, unknown, expired or used token,
            or a subject erased since it was issued.
    """
    parsed = tokens.parse(tokens.SIGN_IN, sign_in_token)
    with ledger.unit_of_work():
        row = ledger.store.sign_in(parsed[0]) if parsed is not None else None
        secret = parsed[1] if parsed is not None else None
        ok = tokens.matches(secret, row.secret_hash if row is not None else None)
        now = ledger.clock.now()
        if row is None or not ok or row.used_at is not None or now >= row.expires_at:
            raise _failed("sign-in token")
        if not ledger.store.use_sign_in(row.token_id, at=now):  # another request won
            raise _failed("sign-in token")
        subject = ledger.store.subject(row.subject_key)
        if subject is None or subject.sealed_id is None:
            raise _failed("sign-in token")
        new = tokens.new_token(tokens.SESSION)
        expires = now + ledger.settings.session_minutes * 60 * MICROS
        ledger.store.add_session(
            SessionRow(new.token_id, subject.key, new.secret_hash, now, expires)
        )
        session = SubjectSession(subject.key, identity(ledger, subject), subject.kind, expires)
    return new.token, session


def _session_row(ledger: Ledger, session_token: str) -> SessionRow:
    parsed = tokens.parse(tokens.SESSION, session_token)
    row = ledger.store.session(parsed[0]) if parsed is not None else None
    secret = parsed[1] if parsed is not None else None
    ok = tokens.matches(secret, row.secret_hash if row is not None else None)
    if row is None or not ok or row.ended_at is not None or ledger.clock.now() >= row.expires_at:
        raise _failed("session")
    return row


def authenticate_session(ledger: Ledger, session_token: str) -> SubjectSession:
    """The signed-in subject of a session token.

    Raises:
        AuthenticationFailed: for a malformed, unknown, expired or ended session,
            or one whose subject has been erased.
    """
    # Two current reads and no unit of work (which would wait for the SQLite writer): a
    # session ended or a subject erased after them is refused by the next request.
    row = _session_row(ledger, session_token)
    subject = ledger.store.subject(row.subject_key)
    if subject is None or subject.sealed_id is None:
        raise _failed("session")
    return SubjectSession(subject.key, identity(ledger, subject), subject.kind, row.expires_at)


def end_session(ledger: Ledger, session_token: str) -> None:
    """Sign out: the session token fails from now on.

    Raises:
        AuthenticationFailed: when the session is not valid (already ended, expired, unknown).
    """
    with ledger.unit_of_work():
        row = _session_row(ledger, session_token)
        ledger.store.end_session(row.session_id, at=ledger.clock.now())


def check_session(ledger: Ledger, session: SubjectSession) -> None:
    """Refuse a session object that has expired since it was authenticated.

    Raises:
        AuthenticationFailed: when it has.
    """
    if ledger.clock.now() >= session.expires_at:
        raise _failed("session")
