"""The operator: parties, keys, subjects' sign-in tokens, and the active policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from credence.api.auth import PartyDep
from credence.api.deps import LedgerDep, LedgerRoute
from credence.api.models import SUBJECT_PATTERN, Model
from credence.service import parties
from credence.service.access import authorize
from credence.service.parties import Party, PartyKind
from credence.service.sessions import issue_sign_in_token
from credence.service.status import policy_report
from credence.types import SubjectRef, format_time

router = APIRouter(tags=["operator"], route_class=LedgerRoute)


def acting(action: str) -> Callable[[Party], Awaitable[Party]]:
    """A dependency: the calling party, once the service allows it ``action``."""

    async def allowed(party: PartyDep) -> Party:
        authorize(party, action)
        return party

    return allowed


Operator = Annotated[Party, Depends(acting("parties.manage"))]
KeyManager = Annotated[Party, Depends(acting("keys.manage"))]
SignInIssuer = Annotated[Party, Depends(acting("sign_in.issue"))]
Name = Annotated[str, Path(min_length=1, max_length=200)]
KeyId = Annotated[str, Path(min_length=1, max_length=100)]


class PartyIn(Model):
    """A party to register."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    kind: PartyKind
    contexts: list[str] = Field(default_factory=list, max_length=50)


class PartyOut(BaseModel):
    """A registered party."""

    name: str
    kind: str
    contexts: list[str]
    created_at: str


def party_out(p: Party) -> PartyOut:
    return PartyOut(
        name=p.name,
        kind=str(p.kind),
        contexts=list(p.contexts),
        created_at=format_time(p.created_at),
    )


class IssuedKeyOut(BaseModel):
    """A new API key: ``token`` is shown this once and stored only as a hash."""

    key_id: str
    party: str
    token: str
    created_at: str


class KeyOut(BaseModel):
    """An API key, without its secret."""

    key_id: str
    party: str
    created_at: str
    revoked_at: str | None


def issued_out(k: parties.IssuedKey) -> IssuedKeyOut:
    return IssuedKeyOut(
        key_id=k.key_id, party=k.party, token=k.token, created_at=format_time(k.created_at)
    )


def key_out(k: parties.KeyInfo) -> KeyOut:
    return KeyOut(
        key_id=k.key_id,
        party=k.party,
        created_at=format_time(k.created_at),
        revoked_at=None if k.revoked_at is None else format_time(k.revoked_at),
    )


@router.get("/parties", response_model=list[PartyOut], summary="List parties (operator)")
def get_parties(ledger: LedgerDep, _op: Operator) -> list[PartyOut]:
    """Every registered party."""
    return [party_out(p) for p in parties.list_parties(ledger)]


@router.post(
    "/parties", response_model=PartyOut, status_code=201, summary="Register a party (operator)"
)
def post_party(body: PartyIn, ledger: LedgerDep, _op: Operator) -> PartyOut:
    """Register a provider, relying party, reviewer or operator."""
    return party_out(
        parties.add_party(ledger, body.name, kind=body.kind, contexts=tuple(body.contexts))
    )


@router.get("/parties/{name}", response_model=PartyOut, summary="One party (operator)")
def get_party(name: Name, ledger: LedgerDep, _op: Operator) -> PartyOut:
    """One registered party."""
    return party_out(parties.get_party(ledger, name))


@router.post(
    "/parties/{name}/keys",
    response_model=IssuedKeyOut,
    status_code=201,
    summary="New API key (operator)",
)
def post_key(name: Name, ledger: LedgerDep, _op: KeyManager) -> IssuedKeyOut:
    """A new API key for the party; its token is in this answer only."""
    return issued_out(parties.create_key(ledger, name))


@router.get("/keys", response_model=list[KeyOut], summary="List API keys (operator)")
def get_keys(
    ledger: LedgerDep,
    _op: KeyManager,
    party: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> list[KeyOut]:
    """Every API key (of one party), without secrets."""
    return [key_out(k) for k in parties.list_keys(ledger, party_name=party)]


@router.post("/keys/{key_id}/revoke", response_model=KeyOut, summary="Revoke an API key (operator)")
def post_revoke(key_id: KeyId, ledger: LedgerDep, _op: KeyManager) -> KeyOut:
    """Revoke a key; it fails at once."""
    return key_out(parties.revoke_key(ledger, key_id))


@router.post(
    "/keys/{key_id}/rotate",
    response_model=IssuedKeyOut,
    status_code=201,
    summary="Rotate an API key (operator)",
)
def post_rotate(key_id: KeyId, ledger: LedgerDep, _op: KeyManager) -> IssuedKeyOut:
    """Revoke a key and issue its party a new one."""
    return issued_out(parties.rotate_key(ledger, key_id))


class SignInRequest(Model):
    """The subject whose identity was verified elsewhere."""

    subject: str = Field(
        min_length=3, max_length=512, pattern=SUBJECT_PATTERN, examples=["custom:alice"]
    )


class SignInOut(BaseModel):
    """A single-use sign-in token to hand to the subject."""

    sign_in_token: str
    subject: str
    expires_at: str


@router.post(
    "/sign-in-tokens",
    response_model=SignInOut,
    status_code=201,
    summary="Issue a subject sign-in token (operator)",
)
def post_sign_in(body: SignInRequest, ledger: LedgerDep, _op: SignInIssuer) -> SignInOut:
    """A short-lived, single-use token the subject exchanges at POST /v1/sessions."""
    issued = issue_sign_in_token(ledger, SubjectRef.parse(body.subject))
    return SignInOut(
        sign_in_token=issued.token,
        subject=str(issued.subject),
        expires_at=format_time(issued.expires_at),
    )


class DiagnosticOut(BaseModel):
    """One lint finding about the active policy."""

    code: str
    level: str
    message: str
    element: str
    line: int | None
    fix: str | None


class PolicyOut(BaseModel):
    """The active policy version and its lint result now."""

    name: str
    version: str
    digest: str
    activated_at: str
    lint_errors: int
    lint_warnings: int
    diagnostics: list[DiagnosticOut]


@router.get("/policy", response_model=PolicyOut, summary="Active policy and lint result (operator)")
def get_policy(ledger: LedgerDep, party: PartyDep) -> PolicyOut:
    """The active policy version, and what the safeguard linter says about it."""
    report = policy_report(ledger, party)
    found = [
        DiagnosticOut(
            code=d.code,
            level=str(d.level),
            message=d.message,
            element=d.element,
            line=d.line,
            fix=d.fix,
        )
        for d in report.diagnostics
    ]
    return PolicyOut(
        name=report.name,
        version=report.version,
        digest=report.digest,
        activated_at=format_time(report.activated_at),
        lint_errors=sum(1 for d in report.diagnostics if d.is_error),
        lint_warnings=sum(1 for d in report.diagnostics if not d.is_error),
        diagnostics=found,
    )
