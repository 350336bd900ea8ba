"""``credence serve``: the HTTP service on uvicorn, over one ledger opened for the process."""

from __future__ import annotations

from typing import Annotated

import typer

from credence.cli.common import DbOption, err, settings_for
from credence.errors import UsageError
from credence.service.ledger import open_ledger
from credence.settings import Settings


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="TCP port to listen on.", min=0, max=65535)
    ] = 8000,
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level", help="uvicorn's log level: critical, error, warning, info, debug."
        ),
    ] = "info",
) -> None:
    """Serve the HTTP API (/v1, OpenAPI at /openapi.json, docs at /docs) and the web pages (/)."""
    if log_level not in ("critical", "error", "warning", "info", "debug"):
        raise UsageError(
            f"--log-level must be critical, error, warning, info or debug, not {log_level!r}"
        )
    run_server(settings_for(db), host=host, port=port, log_level=log_level)


def run_server(settings: Settings, *, host: str, port: int, log_level: str = "info") -> None:
    """Serve one ledger's API and pages until interrupted.

    Raises:
        UsageError: when the [api] extra is not installed.
    """
    try:
        import uvicorn

        from credence.api import create_app
    except ImportError as e:
        raise UsageError(
            f"the HTTP service needs its extra dependencies ({e.name} is missing)",
            suggestion="pip install 'credence[web]'",
        ) from e
    with open_ledger(settings) as ledger:
        app = create_app(ledger)
        config = uvicorn.Config(
            app, host=host, port=port, log_level=log_level, access_log=False, lifespan="off"
        )
        server = uvicorn.Server(config)
        pages = " and the web pages at /" if pages_available() else ""
        err.print(
            f"serving {settings.db} on http://{host}:{port} (API docs at /docs{pages})",
            markup=False,
        )
        server.run()


def pages_available() -> bool:
    """Whether the web pages' extra ([web]: Jinja2, Babel, python-multipart) is installed."""
    from importlib.util import find_spec

    return all(find_spec(m) is not None for m in ("fastapi", "jinja2", "babel", "multipart"))


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the app."""
    app.command()(serve)
