"""The SQL stores' per-subject logs and access model, beside the records in ``sql.py``.

Notices, the access log, parties and keys, sign-ins and sessions, consents
and decisions: small tables written one row at a time, in SQLAlchemy Core,
shared by SQLite and PostgreSQL. Each call joins the open unit of work, if any.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Collection
from typing import Any

import orjson
from sqlalchemy import Row, Table, select, update
from sqlalchemy.sql.elements import ColumnElement

from credence.ledger import schema as t
from credence.ledger.accounts import (
    ConsentRow,
    DecisionRow,
    KeyRow,
    PartyRow,
    SessionRow,
    SignInRow,
)
from credence.ledger.disputes import DisputeNote, DisputeRow
from credence.ledger.sql import SQLStore, _subject
from credence.ledger.store import Access, SubjectRow
from credence.types import Notice


def _names(value: str) -> tuple[str, ...]:
    return tuple(json.loads(value))


def _party(row: Row[Any]) -> PartyRow:
    return PartyRow(row.name, row.kind, _names(row.contexts), row.created_at)


def _key(row: Row[Any]) -> KeyRow:
    return KeyRow(row.key_id, row.party, bytes(row.secret_hash), row.created_at, row.revoked_at)


def _sign_in(row: Row[Any]) -> SignInRow:
    return SignInRow(
        row.token_id,
        row.subject_key,
        bytes(row.secret_hash),
        row.created_at,
        row.expires_at,
        row.used_at,
    )


def _session(row: Row[Any]) -> SessionRow:
    return SessionRow(
        row.session_id,
        row.subject_key,
        bytes(row.secret_hash),
        row.created_at,
        row.expires_at,
        row.ended_at,
    )


def _consent(row: Row[Any]) -> ConsentRow:
    return ConsentRow(
        id=row.id,
        subject_key=row.subject_key,
        party=row.party,
        context=row.context,
        entitlements=_names(row.entitlements),
        scope=row.scope,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _decision(row: Row[Any]) -> DecisionRow:
    return DecisionRow(
        id=row.id,
        subject_key=row.subject_key,
        party=row.party,
        entitlement=row.entitlement,
        outcome=row.outcome,
        reasons=_names(row.reasons),
        as_of=row.as_of,
        at=row.at,
        receipt=None if row.receipt is None else bytes(row.receipt),
    )


def _notes(value: str) -> tuple[DisputeNote, ...]:
    return tuple(DisputeNote(n["at"], n["text"], n.get("evidence")) for n in json.loads(value))


def _dispute(row: Row[Any]) -> DisputeRow:
    return DisputeRow(
        id=row.id,
        subject_key=row.subject_key,
        provider=row.provider,
        provider_event_id=row.provider_event_id,
        statement=row.statement,
        evidence=row.evidence,
        filed_at=row.filed_at,
        deadline=row.deadline,
        state=row.state,
        extended=bool(row.extended),
        notes=_notes(row.notes),
        answer=row.answer,
        answer_record=row.answer_record,
        answered_at=row.answered_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        reason=row.reason,
    )


def _dispute_steps(dispute: DisputeRow) -> dict[str, Any]:
    """The columns a dispute's later steps write (the texts change only when erased)."""
    return {
        "statement": dispute.statement,
        "evidence": dispute.evidence,
        "deadline": dispute.deadline,
        "state": dispute.state,
        "extended": int(dispute.extended),
        "notes": json.dumps(
            [{"at": n.at, "text": n.text, "evidence": n.evidence} for n in dispute.notes],
            ensure_ascii=False,
        ),
        "answer": dispute.answer,
        "answer_record": dispute.answer_record,
        "answered_at": dispute.answered_at,
        "resolved_at": dispute.resolved_at,
        "resolved_by": dispute.resolved_by,
        "reason": dispute.reason,
    }


# The hot path of a decision as fixed SQL on the driver's cursor (see SQLStore._fetch):
# the same columns, conditions and order as the Core statements they replace.
_INSERT_NOTICE = (
    "INSERT INTO notices (subject_key, entitlement, issued_at, effective_at, ends_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_NOTICES = (
    "SELECT entitlement, issued_at, effective_at, ends_at FROM notices "
    "WHERE subject_key = ? ORDER BY issued_at, id"
)
_INSERT_ACCESS = (
    "INSERT INTO access_log (subject_key, at, actor, action, purpose, context, consent_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_PARTY = "SELECT name, kind, contexts, created_at FROM parties WHERE name = ?"
_KEY = "SELECT key_id, party, secret_hash, created_at, revoked_at FROM api_keys WHERE key_id = ?"
_CONSENTS = (
    "SELECT id, subject_key, party, context, entitlements, scope, granted_at, expires_at, "
    "revoked_at FROM consents WHERE subject_key = ? ORDER BY granted_at, id"
)
_INSERT_DECISION = (
    "INSERT INTO decisions (id, subject_key, party, entitlement, outcome, reasons, as_of, "
    "at, receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_DisputeColumns = namedtuple(  # a row as _dispute reads it, by name
    "_DisputeColumns",
    "id subject_key provider provider_event_id statement evidence filed_at deadline state "
    "extended notes answer answer_record answered_at resolved_at resolved_by reason",
)
_DISPUTES = (
    f"SELECT {', '.join(_DisputeColumns._fields)} FROM disputes "
    "WHERE subject_key = ? ORDER BY filed_at, id"
)


class SQLLogStore(SQLStore):
    """A SQL ledger with its per-subject logs and access model (see the module docstring)."""

    # --- plumbing ------------------------------------------------------------
    def _insert(self, table: Table, **values: Any) -> None:
        with self._errors(), self._write() as conn:
            conn.execute(table.insert().values(**values))

    def _one(self, query: Any) -> Row[Any] | None:
        with self._read() as conn:
            row: Row[Any] | None = conn.execute(query).one_or_none()
            return row

    def _all(self, query: Any) -> list[Row[Any]]:
        with self._read() as conn:
            return list(conn.execute(query))

    def _close(self, table: Table, where: ColumnElement[bool], column: str, at: int) -> bool:
        """Set ``column`` to ``at`` where it is still NULL; whether a row changed."""
        statement = update(table).where(where, table.c[column].is_(None)).values({column: at})
        with self._errors(), self._write() as conn:
            return bool(conn.execute(statement).rowcount)

    # --- subjects ------------------------------------------------------------
    def subject(self, subject_key: int) -> SubjectRow | None:
        row = self._one(select(t.subjects).where(t.subjects.c.subject_key == subject_key))
        return None if row is None else _subject(row)

    # --- notices and accesses ------------------------------------------------
    def add_notice(self, subject_key: int, notice: Notice) -> None:
        self._run(
            _INSERT_NOTICE,
            (
                subject_key,
                notice.entitlement,
                notice.issued_at,
                notice.effective_at,
                notice.ends_at,
            ),
        )

    def notices(self, subject_key: int) -> list[Notice]:
        return [Notice(*row) for row in self._fetch(_NOTICES, (subject_key,))]

    def log_access(self, access: Access) -> None:
        self._run(
            _INSERT_ACCESS,
            (
                access.subject_key,
                access.at,
                access.actor,
                access.action,
                access.purpose,
                access.context,
                access.consent_id,
            ),
        )

    def accesses(self, subject_key: int) -> list[Access]:
        query = (
            select(t.access_log)
            .where(t.access_log.c.subject_key == subject_key)
            .order_by(t.access_log.c.at, t.access_log.c.id)
        )
        return [
            Access(
                row.subject_key,
                row.at,
                row.actor,
                row.action,
                row.purpose,
                row.context,
                row.consent_id,
            )
            for row in self._all(query)
        ]

    # --- parties and keys ----------------------------------------------------
    def add_party(self, party: PartyRow) -> bool:
        if self.party(party.name) is not None:
            return False
        self._insert(
            t.parties,
            name=party.name,
            kind=party.kind,
            contexts=json.dumps(list(party.contexts)),
            created_at=party.created_at,
        )
        return True

    def party(self, name: str) -> PartyRow | None:
        rows = self._fetch(_PARTY, (name,))
        if not rows:
            return None
        name, kind, contexts, created_at = rows[0]
        return PartyRow(name, kind, _names(contexts), created_at)

    def parties(self) -> list[PartyRow]:
        return [_party(row) for row in self._all(select(t.parties).order_by(t.parties.c.name))]

    def add_key(self, key: KeyRow) -> None:
        self._insert(
            t.api_keys,
            key_id=key.key_id,
            party=key.party,
            secret_hash=key.secret_hash,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )

    def key(self, key_id: str) -> KeyRow | None:
        rows = self._fetch(_KEY, (key_id,))
        if not rows:
            return None
        key_id, party, secret_hash, created_at, revoked_at = rows[0]
        return KeyRow(key_id, party, bytes(secret_hash), created_at, revoked_at)

    def keys(self, party: str | None = None) -> list[KeyRow]:
        query = select(t.api_keys).order_by(t.api_keys.c.created_at, t.api_keys.c.key_id)
        if party is not None:
            query = query.where(t.api_keys.c.party == party)
        return [_key(row) for row in self._all(query)]

    def revoke_key(self, key_id: str, *, at: int) -> bool:
        return self._close(t.api_keys, t.api_keys.c.key_id == key_id, "revoked_at", at)

    # --- sign-ins and sessions -----------------------------------------------
    def add_sign_in(self, token: SignInRow) -> None:
        self._insert(
            t.sign_ins,
            token_id=token.token_id,
            subject_key=token.subject_key,
            secret_hash=token.secret_hash,
            created_at=token.created_at,
            expires_at=token.expires_at,
            used_at=token.used_at,
        )

    def sign_in(self, token_id: str) -> SignInRow | None:
        row = self._one(select(t.sign_ins).where(t.sign_ins.c.token_id == token_id))
        return None if row is None else _sign_in(row)

    def use_sign_in(self, token_id: str, *, at: int) -> bool:
        return self._close(t.sign_ins, t.sign_ins.c.token_id == token_id, "used_at", at)

    def add_session(self, session: SessionRow) -> None:
        self._insert(
            t.sessions,
            session_id=session.session_id,
            subject_key=session.subject_key,
            secret_hash=session.secret_hash,
            created_at=session.created_at,
            expires_at=session.expires_at,
            ended_at=session.ended_at,
        )

    def session(self, session_id: str) -> SessionRow | None:
        row = self._one(select(t.sessions).where(t.sessions.c.session_id == session_id))
        return None if row is None else _session(row)

    def end_session(self, session_id: str, *, at: int) -> bool:
        return self._close(t.sessions, t.sessions.c.session_id == session_id, "ended_at", at)

    # --- consents and decisions ----------------------------------------------
    def add_consent(self, consent: ConsentRow) -> None:
        self._insert(
            t.consents,
            id=consent.id,
            subject_key=consent.subject_key,
            party=consent.party,
            context=consent.context,
            entitlements=json.dumps(list(consent.entitlements)),
            scope=consent.scope,
            granted_at=consent.granted_at,
            expires_at=consent.expires_at,
            revoked_at=consent.revoked_at,
        )

    def consent(self, consent_id: str) -> ConsentRow | None:
        row = self._one(select(t.consents).where(t.consents.c.id == consent_id))
        return None if row is None else _consent(row)

    def consents(self, subject_key: int) -> list[ConsentRow]:
        return [
            ConsentRow(
                id=id_,
                subject_key=key,
                party=party,
                context=context,
                entitlements=_names(entitlements),
                scope=scope,
                granted_at=granted_at,
                expires_at=expires_at,
                revoked_at=revoked_at,
            )
            for (
                id_,
                key,
                party,
                context,
                entitlements,
                scope,
                granted_at,
                expires_at,
                revoked_at,
            ) in self._fetch(_CONSENTS, (subject_key,))
        ]

    def revoke_consent(self, consent_id: str, *, at: int) -> bool:
        return self._close(t.consents, t.consents.c.id == consent_id, "revoked_at", at)

    def add_decision(self, decision: DecisionRow) -> None:
        self._run(
            _INSERT_DECISION,
            (
                decision.id,
                decision.subject_key,
                decision.party,
                decision.entitlement,
                decision.outcome,
                orjson.dumps(list(decision.reasons)).decode(),
                decision.as_of,
                decision.at,
                decision.receipt,
            ),
        )

    def decisions(self, subject_key: int) -> list[DecisionRow]:
        query = (
            select(t.decisions)
            .where(t.decisions.c.subject_key == subject_key)
            .order_by(t.decisions.c.at, t.decisions.c.id)
        )
        return [_decision(row) for row in self._all(query)]

    # --- disputes --------------------------------------------------------------
    def add_dispute(self, dispute: DisputeRow) -> None:
        self._insert(
            t.disputes,
            id=dispute.id,
            subject_key=dispute.subject_key,
            provider=dispute.provider,
            provider_event_id=dispute.provider_event_id,
            filed_at=dispute.filed_at,
            **_dispute_steps(dispute),
        )

    def save_dispute(self, dispute: DisputeRow) -> None:
        statement = (
            update(t.disputes)
            .where(t.disputes.c.id == dispute.id)
            .values(**_dispute_steps(dispute))
        )
        with self._errors(), self._write() as conn:
            conn.execute(statement)

    def dispute(self, dispute_id: str) -> DisputeRow | None:
        row = self._one(select(t.disputes).where(t.disputes.c.id == dispute_id))
        return None if row is None else _dispute(row)

    def disputes(self, subject_key: int) -> list[DisputeRow]:
        rows = self._fetch(_DISPUTES, (subject_key,))
        return [_dispute(_DisputeColumns(*row)) for row in rows]  # type: ignore[arg-type]

    def all_disputes(
        self, *, provider: str | None = None, states: Collection[str] | None = None
    ) -> list[DisputeRow]:
        query = select(t.disputes).order_by(t.disputes.c.filed_at, t.disputes.c.id)
        if provider is not None:
            query = query.where(t.disputes.c.provider == provider)
        if states is not None:
            query = query.where(t.disputes.c.state.in_(list(states)))
        return [_dispute(row) for row in self._all(query)]
