"""Disputes (FCRA §611): a subject disputes a record, its provider answers, a reviewer decides.

Every use case takes an open ``Ledger`` and runs as one unit of work; each
step is chained as an event (``dispute.filed``, ``dispute.information``,
``dispute.answered``, ``dispute.resolved``, ``dispute.lapsed``), carrying digests
of the texts rather than the texts. The clock and the state machine are
``credence.engine.disputes``: an open dispute past its deadline is lapsed on
every read, before any sweep writes it down.

A dispute that ends ``upheld`` or ``lapsed`` drops its record for every as-of
time: ``scoring_records`` is what every scoring read goes through, and
``struck_keys`` what batch exports leave out. The record is named by its
idempotency key, so a resend, a purge, a rebuild from the ledger or a restore
of a backup never brings it back. While a dispute is open, an adverse decision
resting on its record is held (``apply``). See docs/due-process.md.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from credence.engine import Decision, Outcome
from credence.engine import disputes as rules
from credence.engine.compiled import CompiledPolicy
from credence.engine.decisions import HELD, Statement
from credence.errors import DisputeInvalid, DisputeNotFound, DisputeStateError
from credence.ledger import DisputeNote, DisputeRow, SubjectRow
from credence.service.access import authorize
from credence.service.history import log_access
from credence.service.ledger import Ledger
from credence.service.parties import Party, PartyKind
from credence.service.sessions import SubjectSession, check_session
from credence.service.subjects import identity, resolve
from credence.types import DAY_US, Notice, Record, SubjectRef

MAX_TEXT = 5_000
MAX_URL = 2_000
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class DisputeView:
    """A dispute as its subject, the record's provider and a reviewer see it.

    ``state`` is the state now (an open dispute past its deadline reads ``lapsed``);
    ``resolution`` is how it ended, None while open. ``days_left`` counts whole
    days to the deadline, 0 once it has ended.
    """

    id: str
    record: str  # provider:provider_event_id, as /v1/me/records names it
    provider: str
    provider_event_id: str
    statement: str
    evidence: str | None
    notes: tuple[DisputeNote, ...]
    state: str
    filed_at: int
    deadline: int
    extended: bool
    provider_due: int
    frivolous_until: int
    answer: str | None
    answer_record: str | None
    answered_at: int | None
    resolution: str | None
    resolved_at: int | None
    resolved_by: str | None
    reason: str | None
    days_left: int

    @property
    def statements(self) -> tuple[str, ...]:
        """What the subject said: the statement, then each piece of information added."""
        return (self.statement, *(n.text for n in self.notes))


def format_record_id(provider: str, provider_event_id: str) -> str:
    """The id a subject sees for one of their records."""
    return f"{provider}:{provider_event_id}"


def parse_record_id(text: str) -> Key:
    """``provider:provider_event_id`` as a record key.

    Raises:
        DisputeInvalid: when it is not of that form.
    """
    provider, sep, event_id = text.partition(":")
    if not sep or not provider or not event_id:
        raise DisputeInvalid(
            f"{text!r} is not a record id",
            suggestion="use the id /v1/me/records shows: provider:provider_event_id",
        )
    return provider, event_id


def view(row: DisputeRow, *, now: int) -> DisputeView:
    """A stored dispute as it stands at ``now``."""
    state = rules.state_at(row.state, row.deadline, now)
    ended = state != rules.OPEN
    resolved_at = row.resolved_at
    if state == rules.LAPSED and resolved_at is None:
        resolved_at = row.deadline  # lapsed by the clock, not yet swept
    return DisputeView(
        id=row.id,
        record=format_record_id(row.provider, row.provider_event_id),
        provider=row.provider,
        provider_event_id=row.provider_event_id,
        statement=row.statement,
        evidence=row.evidence,
        notes=row.notes,
        state=state,
        filed_at=row.filed_at,
        deadline=row.deadline,
        extended=row.extended,
        provider_due=rules.provider_due(row.filed_at),
        frivolous_until=rules.frivolous_until(row.filed_at),
        answer=row.answer,
        answer_record=row.answer_record,
        answered_at=row.answered_at,
        resolution=state if ended else None,
        resolved_at=resolved_at if ended else None,
        resolved_by=row.resolved_by,
        reason=row.reason,
        days_left=0 if ended else rules.days_left(row.deadline, now),
    )


# --- what scoring reads ------------------------------------------------------------
def struck_keys(disputes: Iterable[DisputeRow], *, now: int) -> frozenset[Key]:
    """The records dropped for good at ``now``: those of upheld or lapsed disputes."""
    return frozenset(
        (d.provider, d.provider_event_id)
        for d in disputes
        if rules.strikes(d.state, d.deadline, now)
    )


def ledger_struck_records(ledger: Ledger) -> frozenset[tuple[int, str, str]]:
    """Every record any dispute has dropped by now, as (subject key, provider, event id)."""
    now = ledger.clock.now()
    rows = ledger.store.all_disputes(states=(rules.OPEN, *rules.STRIKING))
    return frozenset(
        (d.subject_key, d.provider, d.provider_event_id)
        for d in rows
        if rules.strikes(d.state, d.deadline, now)
    )


def ledger_struck_keys(ledger: Ledger) -> frozenset[Key]:
    """Every record any dispute has dropped by now, across the ledger (for batch input)."""
    return frozenset((provider, event) for _, provider, event in ledger_struck_records(ledger))


def without_struck(records: Sequence[Record], struck: frozenset[Key]) -> list[Record]:
    """``records`` less the struck ones (their retractions stay: they withdraw nothing then)."""
    if not struck:
        return list(records)
    return [r for r in records if r.key not in struck]


def scoring_records(ledger: Ledger, subject_key: int) -> list[Record]:
    """A subject's records as scoring considers them: stored, less those disputes dropped."""
    return scoring_input(ledger, subject_key)[0]


def scoring_input(ledger: Ledger, subject_key: int) -> tuple[list[Record], list[DisputeRow]]:
    """``scoring_records`` and the subject's disputes it read to get them (for ``apply``)."""
    records = ledger.store.records(subject_key)
    disputes = ledger.store.disputes(subject_key)
    if not disputes:
        return records, disputes
    return without_struck(records, struck_keys(disputes, now=ledger.clock.now())), disputes


def apply(
    ledger: Ledger,
    policy: CompiledPolicy,
    row: SubjectRow,
    records: Sequence[Record],
    outcome: Outcome,
    decision: Decision,
    *,
    notices: Sequence[Notice],
    disputes: Sequence[DisputeRow],
) -> Decision:
    """A decision with what the subject's disputes do to it: held while an open dispute is
    what makes it adverse, and carrying the statements of rejected disputes on the
    records it counts. ``disputes`` are the subject's, as ``scoring_input`` read them."""
    if not disputes:
        return decision
    now = ledger.clock.now()
    open_ = {
        (d.provider, d.provider_event_id): (d.id, d.deadline)
        for d in disputes
        if rules.state_at(d.state, d.deadline, now) == rules.OPEN
    }
    counting = {c.record.key for c in outcome.contributions if c.value != 0.0}
    statements = tuple(
        Statement(d.id, d.provider, d.provider_event_id, d.statement)
        for d in disputes
        if d.state == rules.REJECTED and (d.provider, d.provider_event_id) in counting
    )
    hold = rules.hold_of(
        policy, records, decision, disputed=open_, subject_kind=row.kind, notices=notices
    )
    if hold is not None:
        decision = replace(decision, outcome=HELD, allowed=True, hold=hold)
    return replace(decision, statements=statements) if statements else decision


# --- checks ------------------------------------------------------------------------
def _text(value: str, *, what: str) -> str:
    text = value.strip()
    if not text:
        raise DisputeInvalid(f"the {what} is empty", suggestion=f"say what is wrong in the {what}")
    if len(text) > MAX_TEXT:
        raise DisputeInvalid(f"the {what} is longer than {MAX_TEXT} characters")
    return text


def _url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL:
        raise DisputeInvalid(
            f"the evidence link {url!r} is not an http(s) address",
            suggestion="link to the evidence, e.g. https://example.org/receipt.pdf",
        )
    return url


def _said(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def _digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def _chain(ledger: Ledger, row: DisputeRow, kind: str, **fields: Any) -> None:
    payload = {
        "dispute": row.id,
        "provider": row.provider,
        "provider_event_id": row.provider_event_id,
        **fields,
    }
    ledger.store.append_event(
        row.subject_key,
        kind=f"dispute.{kind}",
        at=ledger.clock.now(),
        payload=json.dumps(payload, sort_keys=True, separators=(",", ":")),
    )


def _own(ledger: Ledger, session: SubjectSession, dispute_id: str) -> DisputeRow:
    row = ledger.store.dispute(dispute_id)
    if row is None or row.subject_key != session.subject_key:
        raise DisputeNotFound(
            f"you filed no dispute {dispute_id!r}", suggestion="list your disputes"
        )
    return row


def _state(ledger: Ledger, row: DisputeRow) -> str:
    return rules.state_at(row.state, row.deadline, ledger.clock.now())


# --- the subject -------------------------------------------------------------------
def file_dispute(
    ledger: Ledger,
    session: SubjectSession,
    record_id: str,
    statement: str,
    evidence_url: str | None = None,
) -> DisputeView:
    """The signed-in subject disputes one of their records, with a statement.

    ``record_id`` is the id ``/v1/me/records`` shows (``provider:provider_event_id``). A record disputed before can be
    disputed again only with new information (a statement or evidence not given yet).

    Raises:
        AuthenticationFailed: when the session has expired.
        DisputeInvalid: for a record the subject does not have, a retraction, an empty
            statement, a bad link, or a repeat with nothing new.
        DisputeStateError: when a dispute of that record is open, or one dropped it.
    """
    check_session(ledger, session)
    key = parse_record_id(record_id)
    text = _text(statement, what="statement")
    evidence = _url(evidence_url)
    with ledger.unit_of_work():
        now = ledger.clock.now()
        records = ledger.store.records(session.subject_key)
        found = next((r for r in records if r.key == key), None)
        if found is None:
            raise DisputeInvalid(
                f"you have no record {record_id!r} to dispute",
                suggestion="list your records: GET /v1/me/records",
            )
        if found.retracts is not None:
            raise DisputeInvalid(
                f"{record_id!r} is a retraction: it scores nothing itself",
                suggestion="dispute the record it withdraws, if that still counts",
            )
        earlier = [
            d
            for d in ledger.store.disputes(session.subject_key)
            if (d.provider, d.provider_event_id) == key
        ]
        for d in earlier:
            state = rules.state_at(d.state, d.deadline, now)
            if state == rules.OPEN:
                raise DisputeStateError(
                    f"dispute {d.id} of {record_id!r} is still open",
                    suggestion="add information to it instead",
                    details={"dispute": d.id, "state": state},
                )
            if state in rules.STRIKING:
                raise DisputeStateError(
                    f"{record_id!r} no longer counts: dispute {d.id} {state}",
                    details={"dispute": d.id, "state": state},
                )
        said = {_said(s) for d in earlier for s in (d.statement, *(n.text for n in d.notes))}
        shown = {d.evidence for d in earlier} | {n.evidence for d in earlier for n in d.notes}
        if earlier and _said(text) in said and (evidence is None or evidence in shown):
            raise DisputeInvalid(
                f"{record_id!r} was disputed before, and this says nothing new",
                suggestion="a record can be disputed again only with new information",
            )
        row = DisputeRow(
            id="dsp_" + secrets.token_hex(12),
            subject_key=session.subject_key,
            provider=key[0],
            provider_event_id=key[1],
            statement=text,
            evidence=evidence,
            filed_at=now,
            deadline=rules.deadline(now, extended=False),
        )
        ledger.store.add_dispute(row)
        _chain(
            ledger,
            row,
            "filed",
            statement_sha256=_digest(text),
            evidence_sha256=_digest(evidence),
            deadline=row.deadline,
        )
    return view(row, now=now)


def add_information(
    ledger: Ledger,
    session: SubjectSession,
    dispute_id: str,
    text: str,
    evidence_url: str | None = None,
) -> DisputeView:
    """The subject adds information to their open dispute; within its first 30 days, this
    extends the deadline once by 15 days.

    Raises:
        AuthenticationFailed, DisputeNotFound, DisputeInvalid;
        DisputeStateError: when the dispute has ended (lapsed included).
    """
    check_session(ledger, session)
    said = _text(text, what="information")
    evidence = _url(evidence_url)
    with ledger.unit_of_work():
        now = ledger.clock.now()
        row = _own(ledger, session, dispute_id)
        rules.transition(_state(ledger, row), rules.ADD_INFORMATION, dispute_id=row.id)
        extends = rules.extends(row.filed_at, at=now, extended=row.extended)
        row = replace(
            row,
            notes=(*row.notes, DisputeNote(now, said, evidence)),
            extended=row.extended or extends,
            deadline=rules.deadline(row.filed_at, extended=row.extended or extends),
        )
        ledger.store.save_dispute(row)
        _chain(
            ledger,
            row,
            "information",
            text_sha256=_digest(said),
            evidence_sha256=_digest(evidence),
            deadline=row.deadline,
            extended=extends,
        )
    return view(row, now=now)


def own_disputes(ledger: Ledger, session: SubjectSession) -> list[DisputeView]:
    """Every dispute the signed-in subject filed, oldest first, as they stand now.

    Raises:
        AuthenticationFailed: when the session has expired.
    """
    check_session(ledger, session)
    with ledger.unit_of_work():
        now = ledger.clock.now()
        return [view(d, now=now) for d in ledger.store.disputes(session.subject_key)]


def acting_for(ledger: Ledger, ref: SubjectRef) -> SubjectSession:
    """A session for a subject whose identity the operator verified, for the command line.

    Raises:
        SubjectNotFound, IdentifierError.
    """
    with ledger.unit_of_work():
        row = resolve(ledger, ref)
        return SubjectSession(row.key, identity(ledger, row), row.kind, ledger.clock.now() + DAY_US)


# --- the record's provider ---------------------------------------------------------
def _as_provider(ledger: Ledger, party: Party, dispute_id: str) -> DisputeRow:
    authorize(party, "disputes.answer")
    row = ledger.store.dispute(dispute_id)
    if row is None or row.provider != party.name:
        raise DisputeNotFound(f"no dispute {dispute_id!r} of a record of {party.name}")
    return row


def _log(ledger: Ledger, party: Party, row: DisputeRow, action: str) -> None:
    log_access(
        ledger,
        row.subject_key,
        party=party.name,
        action=action,
        context=None,
        consent_id=None,
        purpose=f"dispute {row.id}",
    )


def provider_disputes(ledger: Ledger, party: Party) -> list[DisputeView]:
    """Every dispute of the provider's records, oldest first; each read is logged for its
    subject.

    Raises:
        Forbidden: when the party is not a provider.
    """
    authorize(party, "disputes.answer")
    with ledger.unit_of_work():
        now = ledger.clock.now()
        rows = ledger.store.all_disputes(provider=party.name)
        for row in rows:
            _log(ledger, party, row, "dispute read")
        return [view(r, now=now) for r in rows]


def answer_dispute(
    ledger: Ledger,
    party: Party,
    dispute_id: str,
    answer: str,
    correcting_record: str | None = None,
) -> DisputeView:
    """The record's provider answers an open dispute once: ``verified``, ``corrected``
    (naming the correcting record it sent, by its provider_event_id) or ``retracted``.

    Raises:
        Forbidden: when the party is not a provider.
        DisputeNotFound: for a dispute not of this provider's records.
        DisputeInvalid: for an unknown answer, or a correcting record missing or not
            of the same subject.
        DisputeStateError: when the dispute has ended or was answered already.
    """
    if answer not in rules.ANSWERS:
        raise DisputeInvalid(
            f"{answer!r} is not an answer", suggestion=f"answer {', '.join(rules.ANSWERS)}"
        )
    with ledger.unit_of_work():
        now = ledger.clock.now()
        row = _as_provider(ledger, party, dispute_id)
        rules.transition(_state(ledger, row), rules.ANSWER, dispute_id=row.id)
        if row.answer is not None:
            raise DisputeStateError(
                f"dispute {row.id} was answered already ({row.answer})",
                details={"state": row.state, "answer": row.answer},
            )
        correcting: str | None = None
        if answer == "corrected":
            if not correcting_record:
                raise DisputeInvalid(
                    "a correction names the correcting record",
                    suggestion="send the correcting record, then give its provider_event_id",
                )
            owner = ledger.store.find_record_subjects([(party.name, correcting_record)])
            if owner.get((party.name, correcting_record)) != row.subject_key:
                raise DisputeInvalid(
                    f"{party.name} sent no record {correcting_record!r} of this subject",
                    suggestion="send the correcting record first",
                )
            correcting = correcting_record
        elif correcting_record:
            raise DisputeInvalid(f"an answer {answer!r} names no correcting record")
        row = replace(row, answer=answer, answer_record=correcting, answered_at=now)
        ledger.store.save_dispute(row)
        _log(ledger, party, row, "dispute answer")
        _chain(ledger, row, "answered", answer=answer, correcting_record=correcting)
    return view(row, now=now)


# --- reviewers -----------------------------------------------------------------------
def _reviewer(party: Party) -> None:
    authorize(party, "disputes.resolve")


def resolve_dispute(
    ledger: Ledger, party: Party, dispute_id: str, outcome: str, reason: str
) -> DisputeView:
    """A reviewer or operator ends an open dispute: ``upheld`` (the record is dropped for
    good), ``rejected`` (it stays; the statement stays with it), or ``frivolous``
    (terminated, within 5 business days of filing). Always with a reason.

    Raises:
        Forbidden: for another kind of party.
        DisputeNotFound, DisputeInvalid (unknown outcome, empty reason);
        DisputeStateError: when it has ended (lapsed included), or for ``frivolous``
            after its 5 business days.
    """
    _reviewer(party)
    action = rules.OUTCOMES.get(outcome)
    if action is None:
        raise DisputeInvalid(
            f"{outcome!r} is not an outcome", suggestion=f"use {', '.join(rules.OUTCOMES)}"
        )
    why = _text(reason, what="reason")
    with ledger.unit_of_work():
        now = ledger.clock.now()
        row = ledger.store.dispute(dispute_id)
        if row is None:
            raise DisputeNotFound(f"no dispute {dispute_id!r}", suggestion="list open disputes")
        after = rules.transition(_state(ledger, row), action, dispute_id=row.id)
        if action == rules.TERMINATE and now >= rules.frivolous_until(row.filed_at):
            raise DisputeStateError(
                f"dispute {row.id} can no longer be terminated as frivolous: that is done "
                "within 5 business days of filing",
                suggestion="uphold or reject it",
                details={"state": row.state, "action": action},
            )
        row = replace(row, state=after, resolved_at=now, resolved_by=party.name, reason=why)
        ledger.store.save_dispute(row)
        _log(ledger, party, row, f"dispute {outcome}")
        _chain(ledger, row, "resolved", outcome=after, reason_sha256=_digest(why))
    return view(row, now=now)


def open_disputes(ledger: Ledger, *, party: Party | None = None) -> list[DisputeView]:
    """The review queue: every dispute open now, soonest deadline first.

    With ``party``, it must be a reviewer or operator, and the read is logged.

    Raises:
        Forbidden: for another kind of party.
    """
    if party is not None:
        _reviewer(party)
    with ledger.unit_of_work():
        now = ledger.clock.now()
        rows = [
            r
            for r in ledger.store.all_disputes(states=(rules.OPEN,))
            if rules.state_at(r.state, r.deadline, now) == rules.OPEN
        ]
        if party is not None:
            for row in rows:
                _log(ledger, party, row, "dispute review")
    return sorted((view(r, now=now) for r in rows), key=lambda v: (v.deadline, v.id))


def sweep(ledger: Ledger) -> list[DisputeView]:
    """Write down every dispute the clock has lapsed (it counted as lapsed already);
    returns them. Running it again writes nothing."""
    with ledger.unit_of_work():
        now = ledger.clock.now()
        lapsed: list[DisputeRow] = []
        for row in ledger.store.all_disputes(states=(rules.OPEN,)):
            if rules.state_at(row.state, row.deadline, now) != rules.LAPSED:
                continue
            after = rules.transition(rules.OPEN, rules.LAPSE, dispute_id=row.id)
            row = replace(row, state=after, resolved_at=row.deadline)
            ledger.store.save_dispute(row)
            _chain(ledger, row, "lapsed", deadline=row.deadline)
            lapsed.append(row)
    return [view(r, now=now) for r in lapsed]


def operator(ledger: Ledger) -> Party:
    """The operator the settings name, acting from the command line."""
    return Party(ledger.settings.actor, PartyKind.OPERATOR, (), 0)


ERASED = "[erased]"


def forget_texts(ledger: Ledger, subject_key: int) -> int:
    """Blank the statements, information and links of an erased subject's disputes, in the
    open unit of work; states, deadlines and dropped records stay. Returns how many."""
    rows = ledger.store.disputes(subject_key)
    for row in rows:
        notes = tuple(DisputeNote(n.at, ERASED, None) for n in row.notes)
        ledger.store.save_dispute(replace(row, statement=ERASED, evidence=None, notes=notes))
    return len(rows)
