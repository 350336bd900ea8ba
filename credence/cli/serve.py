"""``credence serve``: the HTTP service on uvicorn, over one ledger opened for the process."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from credence.cli.common import DbOption, err, settings_for
from credence.errors import UsageError
from credence.service.ledger import open_ledger


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
    """Serve the HTTP API (/v1, OpenAPI at /openapi.json, docs at /docs) until interrupted."""
    try:
        import uvicorn

        from credence.api import create_app
    except ImportError as e:
        raise UsageError(
            f"the HTTP service needs its extra dependencies ({e.name} is missing)",
            suggestion="pip install 'credence[api]'",
        ) from e
    if log_level not in ("critical", "error", "warning", "info", "debug"):
        raise UsageError(
            f"--log-level must be critical, error, warning, info or debug, not {log_level!r}"
        )
    settings = settings_for(db)
    count = workers if workers is not None else settings.serve_workers
    if count == 1:
        with open_ledger(settings) as ledger:
            app = create_app(ledger)
            config = uvicorn.Config(
                app, host=host, port=port, log_level=log_level, access_log=False, lifespan="off"
            )
            server = uvicorn.Server(config)
            err.print(
                f"serving {settings.db} on http://{host}:{port} (docs at /docs)", markup=False
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
        f"serving {settings.db} on http://{host}:{port} with {count} workers (docs at /docs)",
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


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the app."""
    app.command()(serve)
