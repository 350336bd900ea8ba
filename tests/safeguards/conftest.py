"""The safeguard commands on the CLI app, whether or not the core CLI registers them yet."""

from __future__ import annotations

from credence import cli_ledger
from credence.cli import app

if not any(c.name == "verify" for c in app.registered_commands):
    cli_ledger.register(app)
