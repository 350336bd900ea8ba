"""Creating a ledger: schema, master key, and the active policy.

``init_ledger`` is the one use case that takes the settings rather than an open
``Ledger``: it creates what ``open_ledger`` opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from credence.clock import Clock, SystemClock
from credence.crypto import KeyRing, create_key_file, parse_master_key, read_key_file
from credence.errors import CredenceError, PolicyError, UsageError
from credence.ledger import PartyRow, StoredPolicy, open_store
from credence.policy import LoadedPolicy, load_policy
from credence.policy.lint import lint_errors
from credence.policy.load import SourceMap
from credence.service.ledger import KEY_FINGERPRINT, Ledger, check_key
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


def _keys(settings: Settings) -> tuple[KeyRing, Path | None]:
    if settings.master_key is not None:
        return KeyRing(parse_master_key(settings.master_key.get_secret_value())), None
    path = settings.resolved_key_file()
    if path.exists():
        return KeyRing(read_key_file(path)), None
    return KeyRing(create_key_file(path)), path


def init_ledger(settings: Settings, policy_file: Path, *, clock: Clock | None = None) -> InitReport:
    """Create or upgrade the ledger and make ``policy_file`` its active policy.

    Safe to run again: the schema is upgraded in place, the key is kept, and
    the policy is stored only when its text changed.

    Raises:
        PolicyError: when the policy is invalid or breaks a safeguard.
        StoreError, CryptoKeyError: when the ledger or key cannot be set up.
    """
    loaded = load_policy(policy_file)
    refuse_unlawful(loaded)
    now = (clock or SystemClock()).now()
    store = open_store(settings.db)
    try:
        store.migrate()
        keys, written = _keys(settings)
        check_key(store, keys)
        if store.get_meta(KEY_FINGERPRINT) is None:
            store.set_meta(KEY_FINGERPRINT, keys.fingerprint)
        active = store.active_policy()
        changed = active is None or active.digest != loaded.digest
        if changed:
            policy = loaded.policy
            store.add_policy(
                StoredPolicy(policy.name, policy.version, loaded.digest, loaded.source, now)
            )
        # The operator the command line acts as is a party like any other caller.
        store.add_party(PartyRow(settings.actor, "operator", (), now))
        return InitReport(
            db=settings.db,
            key_file=written,
            policy_name=loaded.policy.name,
            policy_version=loaded.policy.version,
            policy_changed=changed,
            counts=store.counts(),
        )
    finally:
        store.close()
