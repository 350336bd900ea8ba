"""The one settings object, built at the entry point and passed in.

Every field is read from a ``CREDENCE_``-prefixed environment variable (or
given directly); unknown ``CREDENCE_`` variables are refused so a typo never
silently falls back to a default. Library code never reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
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
        description="Where the master key is kept. Default: the database path plus `.key`.",
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
        """The key file: ``key_file``, or the database path plus ``.key``."""
        if self.key_file is not None:
            return self.key_file
        if "://" in self.db:
            return Path("credence.key")
        return Path(self.db + ".key")


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
        raise UsageError(f"invalid setting {PREFIX}{where.upper()}: {first['msg']}") from e
