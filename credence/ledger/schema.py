"""The ledger's tables in SQLAlchemy Core, shared by the SQLite and PostgreSQL stores.

All times are BIGINT epoch microseconds, UTC. Every table but ``meta``,
``policies`` and ``providers`` carries ``subject_key`` so PostgreSQL can be
distributed by subject (see docs/postgres.md). The Alembic revisions under
``credence/ledger/migrations`` create exactly these tables; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)

# The head Alembic revision this code reads and writes; ``check_schema`` wants exactly it.
HEAD_REVISION = "0007"

# SQLite only auto-assigns an INTEGER PRIMARY KEY (the rowid); PostgreSQL gets a BIGINT identity.
KeyType = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

policies = Table(
    "policies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("digest", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("activated_at", BigInteger, nullable=False),
    # When the version takes effect; a change that worsens outcomes waits out its notice.
    Column("effective_at", BigInteger, nullable=True),
)

# Proposed versions kept beside the active one; activating one adds it to ``policies``.
policy_candidates = Table(
    "policy_candidates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("digest", Text, nullable=False, unique=True),
    Column("source", Text, nullable=False),
    Column("proposed_at", BigInteger, nullable=False),
)

providers = Table(
    "providers",
    metadata,
    Column("id", Text, primary_key=True),
    Column("first_seen_at", BigInteger, nullable=False),
)

subjects = Table(
    "subjects",
    metadata,
    Column("subject_key", KeyType, primary_key=True, autoincrement=True),
    Column("lookup", LargeBinary, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("scheme", Text, nullable=False),
    Column("sealed_id", LargeBinary, nullable=True),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)

records = Table(
    "records",
    metadata,
    Column("seq", KeyType, primary_key=True, autoincrement=True),
    # No foreign keys: append resolves subject keys and registers providers in the same
    # transaction, and per-row RI checks would cost PostgreSQL most of its bulk speed.
    Column("subject_key", BigInteger, nullable=False),
    Column("provider", Text, nullable=False),
    Column("provider_event_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    # attributes and evidence are NULL once the record is purged or its subject erased.
    Column("attributes", Text, nullable=True),
    Column("evidence", Text, nullable=True),
    Column("retracts", Text, nullable=True),
    Column("content_hash", LargeBinary, nullable=False),
    Column("ingested_at", BigInteger, nullable=False),
    # sha256 over the previous record's chain hash and this record's kept fields (ledger/chain.py).
    Column("chain_hash", LargeBinary, nullable=False),
    Column("purged_at", BigInteger, nullable=True),
    # The seq of the event (purge or erasure) that tombstoned it; its digest names this seq.
    Column("purged_by", BigInteger, nullable=True),
    UniqueConstraint("provider", "provider_event_id"),
    # Serves records(subject_key) in occurred_at order; ties (same microsecond) are sorted
    # per subject. The wider index with provider and event id cost a third of append speed.
    Index(None, "subject_key", "occurred_at"),
    sqlite_autoincrement=True,
)

# One row (id = 1): the last record's seq and chain hash, and how many records there are.
# Appends lock it, so they are serialised and the chain has one order.
chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("chain_hash", LargeBinary, nullable=False),
    Column("records", BigInteger, nullable=False),
)

# The event chain (ledger/chain.py): purges, erasures and later kinds, each chained like a
# record. ``records`` and ``targets`` are how many records it tombstoned and a digest of
# their seqs. seq is given (1, 2, ...): the chain hash covers it.
events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("subject_key", BigInteger, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("targets", LargeBinary, nullable=False),
    Column("payload", Text, nullable=True),
    Column("chain_hash", LargeBinary, nullable=False),
    # Ed25519 over chain_hash with the checkpoint key, for purges and erasures.
    Column("signature", LargeBinary, nullable=True),
)

# One row (id = 1): how many events there are and the last one's chain hash. Writers of
# events lock it, so the event chain has one order.
event_head = Table(
    "event_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("events", BigInteger, nullable=False),
    Column("chain_hash", LargeBinary, nullable=False),
)

notices = Table(
    "notices",
    metadata,
    Column("id", KeyType, primary_key=True, autoincrement=True),
    Column("subject_key", BigInteger, nullable=False, index=True),
    Column("entitlement", Text, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("effective_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=True),
)

access_log = Table(
    "access_log",
    metadata,
    Column("id", KeyType, primary_key=True, autoincrement=True),
    Column("subject_key", BigInteger, nullable=False, index=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    # Since revision 0004; NULL on rows logged before, and for reads needing no consent.
    Column("context", Text, nullable=True),
    Column("consent_id", Text, nullable=True),
)

# --- parties, keys, sessions, consents, decisions (revision 0004) -------------------
# Secrets are never stored: only the sha256 of each token's secret part.
parties = Table(
    "parties",
    metadata,
    Column("name", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("contexts", Text, nullable=False),  # a JSON list
    Column("created_at", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("party", Text, nullable=False, index=True),
    Column("secret_hash", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

sign_ins = Table(
    "sign_ins",
    metadata,
    Column("token_id", Text, primary_key=True),
    Column("subject_key", BigInteger, nullable=False, index=True),
    Column("secret_hash", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("subject_key", BigInteger, nullable=False, index=True),
    Column("secret_hash", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
)

consents = Table(
    "consents",
    metadata,
    Column("id", Text, primary_key=True),
    Column("subject_key", BigInteger, nullable=False, index=True),
    Column("party", Text, nullable=False),
    Column("context", Text, nullable=False),
    Column("entitlements", Text, nullable=False),  # a JSON list; empty: the whole context
    Column("scope", Text, nullable=False),
    Column("granted_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("subject_key", BigInteger, nullable=False, index=True),
    Column("party", Text, nullable=False),
    Column("entitlement", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("reasons", Text, nullable=False),  # a JSON list of reason codes
    Column("as_of", BigInteger, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("receipt", LargeBinary, nullable=True),  # the signed receipt, once there is one
)

# --- disputes (revision 0006) --------------------------------------------------------
# One row per dispute; its steps are chained as events too. The record is named by its
# idempotency key, which a resend, a purge or a restore keeps.
disputes = Table(
    "disputes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("subject_key", BigInteger, nullable=False, index=True),
    Column("provider", Text, nullable=False, index=True),
    Column("provider_event_id", Text, nullable=False),
    Column("statement", Text, nullable=False),
    Column("evidence", Text, nullable=True),
    Column("filed_at", BigInteger, nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
    Column("extended", Integer, nullable=False),  # 0 or 1
    Column("notes", Text, nullable=False),  # a JSON list of {at, text, evidence}
    Column("answer", Text, nullable=True),
    Column("answer_record", Text, nullable=True),
    Column("answered_at", BigInteger, nullable=True),
    Column("resolved_at", BigInteger, nullable=True),
    Column("resolved_by", Text, nullable=True),
    Column("reason", Text, nullable=True),
)


# --- due process: overrides, review requests, notices given (revision 0007) ---------------
overrides = Table(
    "overrides",
    metadata,
    Column("id", Text, primary_key=True),
    Column("subject_key", BigInteger, nullable=False, index=True),
    Column("entitlement", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("set_by", Text, nullable=False),
    Column("set_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False, index=True),
    Column("ended_at", BigInteger, nullable=True),
    Column("ended_by", Text, nullable=True),
    Column("review_id", Text, nullable=True),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", Text, primary_key=True),
    Column("subject_key", BigInteger, nullable=False, index=True),
    Column("decision_id", Text, nullable=False, index=True),
    Column("entitlement", Text, nullable=False),
    Column("statement", Text, nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("state", Text, nullable=False, index=True),
    Column("resolved_at", BigInteger, nullable=True),
    Column("reviewer", Text, nullable=True),
    Column("resolution", Text, nullable=True),
    Column("override_id", Text, nullable=True),
)

subject_notices = Table(
    "subject_notices",
    metadata,
    # Taken from ``outbox_head`` under its row lock, so seqs commit in order.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("subject_key", BigInteger, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("entitlement", Text, nullable=False),
    Column("outcome", Text, nullable=True),
    Column("decision_id", Text, nullable=True),
    Column("issued_at", BigInteger, nullable=False),
    Column("dispute_by", BigInteger, nullable=True),
    Column("body", Text, nullable=False),
)

outbox_head = Table(
    "outbox_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
)
