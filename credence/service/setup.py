"""Creating a ledger: schema, master key, and the active policy.

``init_ledger`` is the one use case that takes the settings rather than an open
``Ledger``: it creates what ``open_ledger`` opens.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from credence.clock import Clock, SystemClock
from credence.crypto import (
    KeyRing,
    create_key_file,
    new_master_key,
    parse_master_key,
    read_key_file,
)
from credence.errors import CredenceError, CryptoKeyError, PolicyError, UsageError
from credence.ledger import PartyRow, Store, StoredPolicy, open_store
from credence.policy import LoadedPolicy, load_policy
from credence.policy.lint import lint_errors
from credence.policy.load import SourceMap
from credence.service.ledger import (
    KEY_FINGERPRINT,
    Ledger,
    check_key,
    refuse_foreign,
    sqlite_path,
)
from credence.settings import Settings

DEMO_META = "demo"
POLICY = "consumer-trust.yaml"


def bundled_policy(name: str = POLICY) -> Path:
    """The path of a policy shipped with the package (the files of examples/policies)."""
    return Path(str(resources.files("credence") / "bundled_policies" / name))


def clear_demo_ledger(db: Path) -> None:
    """Remove an earlier demo ledger at ``db``; refuse to touch anything else.

    Raises:
        UsageError: when ``db`` exists and is not a demo ledger.
    """
    if not db.exists():
        return
    try:
        store = open_store(str(db))
    except CredenceError:
        is_demo = False
    else:
        try:
            store.check_schema()
            is_demo = store.get_meta(DEMO_META) is not None
        except CredenceError:
            is_demo = False
        finally:
            store.close()
    if not is_demo:
        raise UsageError(f"{db} exists and is not a Credence demo ledger; choose another --db")
    for suffix in ("", "-wal", "-shm", ".key"):
        Path(str(db) + suffix).unlink(missing_ok=True)


def mark_demo_ledger(ledger: Ledger, note: str) -> None:
    """Mark a ledger as a demo one, which ``clear_demo_ledger`` may remove."""
    ledger.store.set_meta(DEMO_META, note)


@dataclass(frozen=True, slots=True)
class InitReport:
    """What ``init`` did."""

    db: str
    key_file: Path | None  # the key file written, if a new one was
    key_source: str  # where the master key is: its file, or CREDENCE_MASTER_KEY
    policy_name: str
    policy_version: str
    policy_changed: bool
    counts: dict[str, int]


def refuse_unlawful(loaded: LoadedPolicy) -> None:
    """Refuse a policy the safeguard linter finds errors in.

    Raises:
        PolicyError: code ``policy.unlawful``, with every error located in ``problems``.
    """
    errors = lint_errors(loaded.policy, source_map=SourceMap(loaded.source), origin=loaded.origin)
    if errors:
        first = errors[0]
        raise PolicyError(
            f"the policy breaks {len(errors)} safeguard(s); first: {first.message}",
            path=loaded.origin,
            line=first.line,
            code="policy.unlawful",
            suggestion=f"run `credence lint {loaded.origin}` for every diagnostic",
            problems=[
                PolicyError(d.message, path=d.origin, line=d.line, suggestion=d.fix, code=d.code)
                for d in errors
            ],
        )


def _keys(settings: Settings) -> tuple[KeyRing, str, tuple[Path, str] | None]:
    """The key ring, where its key is, and the key file still to write (for a new key).

    Nothing is written here: a new key is written only once the ledger has
    accepted it, so a refused ``init`` leaves no key file behind.
    """
    if settings.master_key is not None:
        master = parse_master_key(settings.master_key.get_secret_value())
        return KeyRing(master), "CREDENCE_MASTER_KEY", None
    path = settings.resolved_key_file()
    if path.exists():
        return KeyRing(read_key_file(path)), str(path), None
    text = new_master_key()
    return KeyRing(parse_master_key(text)), str(path), (path, text)


def _refuse_switch(
    active: StoredPolicy, loaded: LoadedPolicy, records: int, *, new_version: bool
) -> None:
    """Refuse to replace the policy of a ledger with records, unless told to (and the
    new text has a new version).

    Raises:
        PolicyError: code ``policy.switch_refused``.
    """
    policy = loaded.policy
    if (active.name, active.version) == (policy.name, policy.version):
        raise PolicyError(
            f"the ledger's active policy is {active.name} {active.version} with other text; "
            "a changed policy needs a new version",
            path=loaded.origin,
            code="policy.switch_refused",
            suggestion="raise `version:` in the policy file, then run `credence init` again",
        )
    if new_version:
        return
    raise PolicyError(
        f"the ledger holds {records} records under policy {active.name} {active.version}; "
        f"init will not make {policy.name} {policy.version} active unless told to",
        path=loaded.origin,
        code="policy.switch_refused",
        details={"records": records},
        suggestion="add --new-version to store it as a new version of the ledger's policy "
        "(every record is then scored under it)",
    )


def _remove_new_ledger(path: Path | None) -> None:
    """Remove a SQLite ledger this ``init`` created, with its WAL files."""
    if path is None:
        return
    for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
        with suppress(OSError):
            leftover.unlink(missing_ok=True)


def init_ledger(
    settings: Settings,
    policy_file: Path,
    *,
    new_version: bool = False,
    clock: Clock | None = None,
) -> InitReport:
    """Create or upgrade the ledger and make ``policy_file`` its active policy.

    Safe to run again: the schema is upgraded in place, the key is kept, and
    the policy is stored only when its text changed. A ledger that already
    holds records keeps its policy unless ``new_version`` says to store this
    one as a new version. A refused or failed run leaves nothing behind: no
    new key file, and no new SQLite file.

    Raises:
        PolicyError: when the policy is invalid, breaks a safeguard, or would
            replace the policy of a ledger with records without ``new_version``.
        StoreError, CryptoKeyError: when the ledger or key cannot be set up.
    """
    loaded = load_policy(policy_file)
    refuse_unlawful(loaded)
    now = (clock or SystemClock()).now()
    keys, key_source, unwritten = _keys(settings)
    refuse_foreign(settings.db)
    path = sqlite_path(settings.db)
    new_file = path if path is not None and not path.exists() else None
    staged: _StagedKey | None = None
    done = False
    store: Store | None = None
    try:
        if unwritten is not None:  # before the ledger is touched: can the key be kept there?
            staged = _StagedKey(*unwritten)
        store = open_store(settings.db)
        store.migrate()
        check_key(store, keys, source=key_source)
        active = store.active_policy()
        changed = active is None or active.digest != loaded.digest
        counts = store.counts()
        if changed and active is not None and counts["records"]:
            _refuse_switch(active, loaded, counts["records"], new_version=new_version)
        if staged is not None:
            staged.commit()
        if changed:
            policy = loaded.policy
            store.add_policy(
                StoredPolicy(policy.name, policy.version, loaded.digest, loaded.source, now)
            )
        # The operator the command line acts as is a party like any other caller.
        store.add_party(PartyRow(settings.actor, "operator", (), now))
        if store.get_meta(KEY_FINGERPRINT) is None:
            store.set_meta(KEY_FINGERPRINT, keys.fingerprint)  # the last write: it binds the key
        done = True
        return InitReport(
            db=settings.db,
            key_file=None if staged is None else staged.path,
            key_source=key_source,
            policy_name=loaded.policy.name,
            policy_version=loaded.policy.version,
            policy_changed=changed,
            counts=counts,
        )
    finally:
        if store is not None:
            store.close()
        if not done:
            if staged is not None:
                staged.discard()
            _remove_new_ledger(new_file)


class _StagedKey:
    """A new key file, first written under a temporary name beside its place (so a key that
    cannot be written there fails ``init`` before the ledger is touched), then linked into
    place once the ledger accepts it; discarded, with any directory made for it, otherwise.

    Raises:
        CryptoKeyError: when the file cannot be written, or exists when it is linked.
    """

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self._made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
        self._staged = path.with_name(f".{path.name}.{os.getpid()}.new")
        self._linked = False
        try:
            create_key_file(self._staged, text)
        except BaseException:
            self.discard()
            raise

    def commit(self) -> None:
        try:
            os.link(self._staged, self.path)  # refuses, as O_EXCL does, a file there already
        except FileExistsError as e:
            raise CryptoKeyError(f"key file {self.path} exists already", path=str(self.path)) from e
        except OSError as e:  # a file system without hard links: rename, having looked
            if self.path.exists():
                raise CryptoKeyError(
                    f"key file {self.path} exists already", path=str(self.path)
                ) from e
            os.replace(self._staged, self.path)
        self._linked = True
        self._staged.unlink(missing_ok=True)

    def discard(self) -> None:
        for leftover in (self._staged, *([self.path] if self._linked else [])):
            with suppress(OSError):
                leftover.unlink(missing_ok=True)
        for directory in self._made:  # deepest first; only those still empty
            with suppress(OSError):
                directory.rmdir()
