"""Opening a ledger for a use case: the store, the keys and the active policy together."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from credence.clock import Clock, SystemClock
from credence.crypto import KeyRing, parse_master_key, read_key_file
from credence.engine import CompiledPolicy, compile_policy
from credence.errors import CryptoKeyError, PolicyNotFound, StoreError, StoreNotInitialised
from credence.ledger import Store, SubjectRow, open_store
from credence.policy import LoadedPolicy, parse_policy
from credence.settings import Settings

KEY_FINGERPRINT = "key_fingerprint"


@dataclass
class Ledger:
    """An open ledger: its store, its key ring, its active policy and a clock."""

    store: Store
    keys: KeyRing
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    def unit_of_work(self) -> AbstractContextManager[None]:
        """One transaction for every store call inside the block (reads included).

        It commits when the block ends cleanly and rolls back on any exception,
        so a use case that checks, reads, logs and writes lands whole or not at
        all; a nested block joins the outer one.
        """
        return self.store.transaction()

    @cached_property
    def loaded_policy(self) -> LoadedPolicy:
        """The active policy, parsed from the exact text stored.

        Raises:
            PolicyNotFound: when the ledger has no policy yet.
        """
        stored = self.store.active_policy()
        if stored is None:
            raise PolicyNotFound(
                "the ledger has no policy", suggestion="run `credence init --policy FILE`"
            )
        return parse_policy(stored.source, origin=f"ledger policy {stored.name} {stored.version}")

    @cached_property
    def policy(self) -> CompiledPolicy:
        """The active policy, compiled for the engine."""
        return compile_policy(self.loaded_policy.policy)


ERASED = "[erased]"  # what an erased subject's identifier reads as


def identifier_of(keys: KeyRing, row: SubjectRow) -> str:
    """The plaintext identifier of a stored subject (``[erased]`` once shredded).

    The identifier opened must hash to the subject's lookup: a sealed
    identifier copied from another subject row would otherwise name the wrong
    person, since neither the hash chain nor AES-GCM ties it to its row.

    Raises:
        CryptoKeyError: when the master key does not open it.
        StoreError: code ``ledger.tampered`` when it is not this subject's identifier.
    """
    if row.sealed_id is None or row.wrapped_key is None:
        return ERASED
    identifier = keys.open(row.sealed_id, row.wrapped_key)
    if not hmac.compare_digest(keys.lookup(row.scheme, identifier), row.lookup):
        raise StoreError(
            f"subject {row.key}'s sealed identifier is not its own: the ledger was altered",
            code="ledger.tampered",
            details={"subject_key": row.key},
            suggestion="restore the subjects table from a backup and compare",
        )
    return identifier


def key_ring(settings: Settings) -> KeyRing:
    """The key ring from ``CREDENCE_MASTER_KEY`` or the key file.

    Raises:
        CryptoKeyError: when no usable key is found.
    """
    if settings.master_key is not None:
        return KeyRing(parse_master_key(settings.master_key.get_secret_value()))
    return KeyRing(read_key_file(settings.resolved_key_file()))


def check_key(store: Store, keys: KeyRing) -> None:
    """Refuse a master key other than the one the ledger was created with.

    Raises:
        CryptoKeyError: when the fingerprints differ.
    """
    stored = store.get_meta(KEY_FINGERPRINT)
    if stored is not None and stored != keys.fingerprint:
        raise CryptoKeyError(
            "this master key is not the one the ledger was created with",
            suggestion="use the key file written by `credence init`, or its CREDENCE_MASTER_KEY",
        )


def open_initialised_store(settings: Settings) -> Store:
    """The ledger's store, refusing a missing ledger or an old schema (never creating one).

    Raises:
        StoreUnavailable, StoreNotInitialised: when it cannot be used.
    """
    if "://" not in settings.db and settings.db != "memory:" and not Path(settings.db).exists():
        raise StoreNotInitialised(
            f"no ledger at {settings.db}",
            suggestion=f"create it with `credence init --db {settings.db} --policy FILE`",
        )
    store = open_store(settings.db)
    try:
        store.check_schema()
    except BaseException:
        store.close()
        raise
    return store


@contextmanager
def open_ledger(settings: Settings, *, clock: Clock | None = None) -> Iterator[Ledger]:
    """Open an initialised ledger for a use case, and close it afterwards.

    Raises:
        StoreUnavailable, StoreNotInitialised, CryptoKeyError: when it cannot be used.
    """
    store = open_initialised_store(settings)
    try:
        keys = key_ring(settings)
        check_key(store, keys)
        yield Ledger(store=store, keys=keys, settings=settings, clock=clock or SystemClock())
    finally:
        store.close()
