"""``credence serve``: the HTTP service and the web pages on uvicorn, over one ledger per process."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from credence.cli.common import DbOption, err, settings_for
from credence.errors import UsageError
from credence.service.ledger import open_ledger
from credence.settings import Settings

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


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
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Server processes, each with its own ledger connections "
            "(default: CREDENCE_SERVE_WORKERS).",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (/v1, OpenAPI at /openapi.json, docs at /docs) and the web pages (/)."""
    if log_level not in _LOG_LEVELS:
        raise UsageError(
            f"--log-level must be critical, error, warning, info or debug, not {log_level!r}"
        )
    run_server(settings_for(db), host=host, port=port, log_level=log_level, workers=workers)


def run_server(
    settings: Settings,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    workers: int | None = None,
) -> None:
    """Serve one ledger's API and pages until interrupted.

    Raises:
        UsageError: when the [api] extra is not installed.
    """
    try:
        import uvicorn

        from credence.api import create_app
        from credence.api.collector import freeze_startup
    except ImportError as e:
        raise UsageError(
            f"the HTTP service needs its extra dependencies ({e.name} is missing)",
            suggestion="pip install 'credence[web]'",
        ) from e
    pages = " and the web pages at /" if pages_available() else ""
    count = workers if workers is not None else settings.serve_workers
    if count == 1:
        with open_ledger(settings) as ledger:
            app = create_app(ledger)
            freeze_startup()
            config = uvicorn.Config(
                app, host=host, port=port, log_level=log_level, access_log=False, lifespan="off"
            )
            server = uvicorn.Server(config)
            err.print(
                f"serving {settings.db} on http://{host}:{port} (API docs at /docs{pages})",
                markup=False,
            )
            server.run()
        return
    # Check the ledger here, so a wrong --db fails once with one line, not in every worker.
    with open_ledger(settings):
        pass
    # Each worker is a new process that reads its settings from the environment, as this
    # command did; --db is the one setting given here otherwise.
    os.environ["CREDENCE_DB"] = settings.db
    err.print(
        f"serving {settings.db} on http://{host}:{port} with {count} workers "
        f"(API docs at /docs{pages})",
        markup=False,
    )
    uvicorn.run(
        "credence.api.workers:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=count,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        # A worker that does not answer the supervisor's ping in time is killed and
        # replaced; a busy machine takes longer than uvicorn's 5 s to start one.
        timeout_worker_healthcheck=60,
    )


def pages_available() -> bool:
    """Whether the web pages' extra ([web]: Jinja2, Babel, python-multipart) is installed."""
    from importlib.util import find_spec

    return all(find_spec(m) is not None for m in ("fastapi", "jinja2", "babel", "multipart"))


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the app."""
    app.command()(serve)
