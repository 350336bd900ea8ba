"""Alembic environment: runs on the connection the store hands over, never from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from credence.ledger.schema import metadata


def run() -> None:
    """Run the migrations on ``config.attributes["connection"]``, inside its transaction."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "Credence migrations run through Store.migrate() (credence init), not the alembic CLI"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
