"""The one settings object, built at the entry point and passed in.

Every field is read from a ``CREDENCE_``-prefixed environment variable (or
given directly); unknown ``CREDENCE_`` variables are refused so a typo never
silently falls back to a default. Library code never reads the environment.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from credence.errors import UsageError

PREFIX = "CREDENCE_"
# Variables under this prefix belong to the test suite, not to Credence itself.
_RESERVED = ("CREDENCE_TEST_",)


class Settings(BaseSettings):
    """Credence's settings; each field is documented in docs/settings.md."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="forbid", frozen=True)

    db: str = Field(
        default="credence.db",
        description="The ledger: a SQLite file path, or a postgresql:// URL.",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="The 32-byte master key, base64 or hex. Unset: read the key file.",
    )
    key_file: Path | None = Field(
        default=None,
        description="Where the master key is kept. Default: for SQLite, the database path plus "
        "`.key`; for PostgreSQL, a file named after the server and database in the key directory.",
    )
    key_dir: Path = Field(
        default=Path("~/.config/credence/keys"),
        description="Where the master keys of PostgreSQL ledgers are kept, one file per server "
        "and database, unless CREDENCE_KEY_FILE names one.",
    )
    max_future_skew: timedelta = Field(
        default=timedelta(days=1),
        ge=timedelta(0),
        le=timedelta(days=366),
        description="How far past the ingesting machine's clock a record's occurred_at may be "
        "(clocks disagree): seconds, or an ISO 8601 duration such as P1D or PT2H.",
    )
    batch_size: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Records written per transaction when ingesting.",
    )
    ingest_worker: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Whether ingest appends to a SQLite or PostgreSQL ledger through a worker "
        "process, so reading and writing run on two cores: `on`, `off`, or `auto` (on once a "
        "run has written 20,000 rows).",
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="The largest HTTP request body `credence serve` accepts, in bytes; a larger "
        "one is refused with 413 before it is read whole.",
    )
    actor: str = Field(
        default="operator",
        min_length=1,
        description="The operator party the command line acts as, as written in the access "
        "log of each subject read.",
    )
    session_minutes: int = Field(
        default=60,
        ge=1,
        le=1_440,
        description="How long a subject's session lasts after it signs in, in minutes.",
    )
    trusted_proxies: tuple[str, ...] = Field(
        default=(),
        description="Addresses or networks (comma-separated, e.g. `127.0.0.1,10.0.0.0/8`) of the "
        "reverse proxies whose `X-Forwarded-Proto` the web pages believe, so cookies are marked "
        "Secure behind a TLS-terminating proxy. Empty: only a request made over https counts.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        """A comma-separated list, as an environment variable gives it, as networks."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            for part in value:
                try:
                    ipaddress.ip_network(str(part), strict=False)
                except ValueError as e:
                    raise ValueError(f"{part!r} is not an IP address or network") from e
            return tuple(str(part) for part in value)
        return value

    @field_validator("max_future_skew", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        """A plain number of seconds, as an environment variable gives it, as seconds."""
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+(\.\d+)?\s*", value):
            return float(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings reads the environment itself, so a given mapping is the whole truth.
        return (init_settings,)

    def resolved_key_file(self) -> Path:
        """The key file: ``key_file``, else the SQLite path plus ``.key``, else (PostgreSQL)
        ``<key_dir>/postgresql-<host>-<port>-<database>.key``.

        A PostgreSQL ledger's key is named after its server and database, so a
        command finds it from any directory and two databases never share one.
        """
        if self.key_file is not None:
            return self.key_file.expanduser()
        if "://" in self.db:
            return self.key_dir.expanduser() / postgres_key_name(self.db)
        return Path(self.db + ".key")


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def postgres_key_name(url: str) -> str:
    """The key file name of a PostgreSQL ledger: ``postgresql-<host>-<port>-<database>.key``.

    Defaults as libpq has them: host ``localhost``, port 5432, the database
    named after the user; any character unsafe in a file name becomes ``_``.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host") or ["localhost"])[0]
    try:
        port = parts.port or int((query.get("port") or ["5432"])[0])
    except ValueError:
        port = 5432
    user = unquote(parts.username or "") or (query.get("user") or ["postgres"])[0]
    database = unquote(parts.path.lstrip("/")) or (query.get("dbname") or [user])[0]
    name = "-".join(_UNSAFE_NAME.sub("_", part) for part in (host, str(port), database))
    return f"postgresql-{name}.key"


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``CREDENCE_`` variables that name no setting."""
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(
        name
        for name in environ
        if name.startswith(PREFIX) and name not in known and not name.startswith(_RESERVED)
    )


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from the environment plus explicit overrides (e.g. CLI options).

    Raises:
        UsageError: for an unknown ``CREDENCE_`` variable or an invalid value.
    """
    env = os.environ if environ is None else environ
    unknown = unknown_variables(env)
    if unknown:
        known = ", ".join(PREFIX + n.upper() for n in Settings.model_fields)
        raise UsageError(f"unknown setting {unknown[0]}", suggestion=f"known settings: {known}")
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        fields = {
            name: env[PREFIX + name.upper()]
            for name in Settings.model_fields
            if PREFIX + name.upper() in env
        }
        return Settings(**{**fields, **given})  # type: ignore[arg-type]
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"]
        if first["type"].startswith("time_delta"):  # pydantic names the Python type
            message = "give a number of seconds or an ISO 8601 duration such as PT2H or P1D"
        raise UsageError(f"invalid setting {PREFIX}{where.upper()}: {message}") from e
