"""Opening a ledger for a use case: the store, the keys and the active policy together."""

from __future__ import annotations

import hmac
import shlex
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ParamSpec, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credence.clock import Clock, SystemClock
from credence.crypto import KeyRing, parse_master_key, read_key_file
from credence.engine import CompiledPolicy, compile_policy
from credence.errors import (
    CryptoKeyError,
    PolicyNotFound,
    StoreError,
    StoreNotInitialised,
    StoreUnavailable,
)
from credence.ledger import Store, StoredPolicy, SubjectRow, open_store
from credence.ledger.commits import Later, TurnTaken
from credence.ledger.sqlite import foreign_tables
from credence.policy import LoadedPolicy, parse_policy
from credence.settings import Settings
from credence.signing import public_bytes, signing_key

P = ParamSpec("P")
T = TypeVar("T")

KEY_FINGERPRINT = "key_fingerprint"
_LEGACY_POSTGRES_KEY = "credence.key"  # where a PostgreSQL ledger's key once defaulted to


@dataclass
class Ledger:
    """An open ledger: its store, its key ring, its active policy and a clock."""

    store: Store
    keys: KeyRing
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    _compiled: dict[str, tuple[LoadedPolicy, CompiledPolicy]] = field(
        default_factory=dict, init=False, repr=False
    )

    def unit_of_work(self) -> AbstractContextManager[None]:
        """One transaction for every store call inside the block (reads included).

        It commits when the block ends cleanly and rolls back on any exception,
        so a use case that checks, reads, logs and writes lands whole or not at
        all; a nested block joins the outer one.
        """
        return self.store.transaction()

    async def on_loop(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``call`` on the running event loop's thread, its commits left for later.

        For a store in this process (``store.in_process``): the call's units of work
        end in the store's open write group (``Store.commit_later``), committed with
        those of the requests the loop runs next, and this returns once they are
        durable. When another process holds the writer before the call has written,
        it waits for the writer without stopping the loop and runs the call again.

        Raises:
            StoreError: the failure of the commit that held the call's writes.
        """
        # The block holds no await: other requests run on this thread while this one waits.
        while True:
            later = Later()
            try:
                with self.store.commit_later() as later:
                    return call(*args, **kwargs)
            except TurnTaken as taken:
                await taken.turn()
            finally:
                await later.durable()

    @cached_property
    def versions(self) -> list[StoredPolicy]:
        """Every policy version the ledger has had, in activation order."""
        return self.store.policy_versions()

    def stored_policy_at(self, at: int) -> StoredPolicy:
        """The policy version in effect at ``at``; the first version covers every earlier time.

        Raises:
            PolicyNotFound: when the ledger has no policy yet.
        """
        found = version_in_effect(self.versions, at)
        if found is None:
            raise PolicyNotFound(
                "the ledger has no policy", suggestion="run `credence init --policy FILE`"
            )
        return found

    def _load(self, stored: StoredPolicy) -> tuple[LoadedPolicy, CompiledPolicy]:
        hit = self._compiled.get(stored.digest)
        if hit is None:
            loaded = parse_policy(
                stored.source, origin=f"ledger policy {stored.name} {stored.version}"
            )
            hit = self._compiled[stored.digest] = (loaded, compile_policy(loaded.policy))
        return hit

    def policy_at(self, at: int) -> CompiledPolicy:
        """The version in effect at ``at``, compiled (scores as of ``at`` use it).

        Raises:
            PolicyNotFound: when the ledger has no policy yet.
        """
        return self._load(self.stored_policy_at(at))[1]

    @cached_property
    def loaded_policy(self) -> LoadedPolicy:
        """The policy in effect now, parsed from the exact text stored.

        Raises:
            PolicyNotFound: when the ledger has no policy yet.
        """
        return self._load(self.stored_policy_at(self.clock.now()))[0]

    @cached_property
    def policy(self) -> CompiledPolicy:
        """The policy in effect now, compiled for the engine."""
        return self._load(self.stored_policy_at(self.clock.now()))[1]

    @cached_property
    def signing_key(self) -> tuple[Ed25519PrivateKey, bytes]:
        """The ledger's Ed25519 key (checkpoints, signed events, decision receipts) and its
        raw public key, derived from the master key once per open ledger.

        Raises:
            CryptoKeyError: when no master key is at hand.
        """
        key = signing_key(master_key(self.settings))
        return key, public_bytes(key.public_key())

    def forget_policies(self) -> None:
        """Read the versions again after a new one was stored."""
        for name in ("versions", "loaded_policy", "policy"):
            self.__dict__.pop(name, None)


def version_in_effect(versions: Sequence[StoredPolicy], at: int) -> StoredPolicy | None:
    """The version in effect at ``at``: the latest to take effect by then, else the first.

    Of versions taking effect at the same time, the one activated last wins.
    """
    if not versions:
        return None
    started = [(v.effective, i) for i, v in enumerate(versions) if v.effective <= at]
    if not started:
        return min(enumerate(versions), key=lambda p: (p[1].effective, p[0]))[1]
    return versions[max(started)[1]]


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
    path = settings.resolved_key_file()
    try:
        return KeyRing(read_key_file(path))
    except CryptoKeyError as e:
        legacy = Path(_LEGACY_POSTGRES_KEY)
        moved = "://" in settings.db and settings.key_file is None and not path.exists()
        if moved and legacy.is_file():
            e.suggestion = (
                f"a PostgreSQL ledger's key used to default to ./{legacy}; if that one is "
                f"this ledger's, move it to {path} (or set CREDENCE_KEY_FILE)"
            )
        raise


def master_key(settings: Settings) -> bytes:
    """The master key's bytes, from ``CREDENCE_MASTER_KEY`` or the key file.

    Raises:
        CryptoKeyError: when no usable key is found.
    """
    if settings.master_key is not None:
        return parse_master_key(settings.master_key.get_secret_value())
    return read_key_file(settings.resolved_key_file())


def key_source(settings: Settings) -> str:
    """Where the master key is read from: CREDENCE_MASTER_KEY, or the key file's path."""
    if settings.master_key is not None:
        return "CREDENCE_MASTER_KEY"
    return str(settings.resolved_key_file())


def check_key(store: Store, keys: KeyRing, *, source: str | None = None) -> None:
    """Refuse a master key other than the one the ledger was created with.

    ``source`` says where the key came from, for the message.

    Raises:
        CryptoKeyError: when the fingerprints differ.
    """
    stored = store.get_meta(KEY_FINGERPRINT)
    if stored is not None and stored != keys.fingerprint:
        where = f" ({source})" if source else ""
        raise CryptoKeyError(
            f"this master key{where} is not the one the ledger was created with",
            suggestion="use the key file written by `credence init` (CREDENCE_KEY_FILE), or "
            "its CREDENCE_MASTER_KEY",
        )


def sqlite_path(db: str) -> Path | None:
    """The file of a SQLite ledger address; None for memory or PostgreSQL."""
    return None if db == "memory:" or "://" in db else Path(db)


def refuse_foreign(db: str) -> None:
    """Refuse a SQLite file that holds another application's tables.

    Raises:
        StoreUnavailable: code ``store.foreign``, naming some of its tables; or
            when the file is not a SQLite database at all.
    """
    path = sqlite_path(db)
    if path is None:
        return
    tables = foreign_tables(path)
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise StoreUnavailable(
            f"a SQLite database of something else, not a Credence ledger (its tables: {shown}); "
            "Credence will not add its tables to it",
            path=str(path),
            code="store.foreign",
            suggestion="pass a new path, or the path of a ledger created by `credence init`",
        )


def open_initialised_store(settings: Settings, *, read_only: bool = False) -> Store:
    """The ledger's store, refusing a missing ledger or an old schema (never creating one).

    ``read_only`` never writes to a SQLite ledger or its directory (an auditor's copy).

    Raises:
        StoreUnavailable, StoreNotInitialised: when it cannot be used.
    """
    if "://" not in settings.db and settings.db != "memory:" and not Path(settings.db).exists():
        raise StoreNotInitialised(
            f"no ledger at {settings.db}",
            suggestion=f"create it with `credence init --db {shlex.quote(settings.db)} "
            "--policy FILE`",
        )
    store = open_store(settings.db, read_only=read_only)
    try:
        store.check_schema()
    except StoreNotInitialised:
        store.close()
        refuse_foreign(settings.db)  # another application's database: init would refuse it too
        raise
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
        check_key(store, keys, source=key_source(settings))
        yield Ledger(store=store, keys=keys, settings=settings, clock=clock or SystemClock())
    finally:
        store.close()
