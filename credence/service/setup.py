"""Creating a ledger: schema, master key, and the active policy."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from credence.clock import Clock, SystemClock
from credence.crypto import (
    KeyRing,
    create_key_file,
    new_master_key,
    parse_master_key,
    read_key_file,
)
from credence.errors import PolicyError
from credence.ledger import Store, StoredPolicy, open_store
from credence.policy import LoadedPolicy, load_policy
from credence.policy.lint import lint_errors
from credence.policy.load import SourceMap
from credence.service.ledger import KEY_FINGERPRINT, check_key, refuse_foreign, sqlite_path
from credence.settings import Settings


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
    written: Path | None = None
    done = False
    store: Store | None = None
    try:
        store = open_store(settings.db)
        store.migrate()
        check_key(store, keys, source=key_source)
        active = store.active_policy()
        changed = active is None or active.digest != loaded.digest
        counts = store.counts()
        if changed and active is not None and counts["records"]:
            _refuse_switch(active, loaded, counts["records"], new_version=new_version)
        if unwritten is not None:
            create_key_file(unwritten[0], unwritten[1])
            written = unwritten[0]
        if changed:
            policy = loaded.policy
            store.add_policy(
                StoredPolicy(policy.name, policy.version, loaded.digest, loaded.source, now)
            )
        if store.get_meta(KEY_FINGERPRINT) is None:
            store.set_meta(KEY_FINGERPRINT, keys.fingerprint)  # the last write: it binds the key
        done = True
        return InitReport(
            db=settings.db,
            key_file=written,
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
            if written is not None:
                written.unlink(missing_ok=True)
            _remove_new_ledger(new_file)
