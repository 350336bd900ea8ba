"""The app each ``credence serve --workers N`` process builds for itself.

uvicorn starts every worker as a fresh process that imports ``worker_app``
and calls it; a ledger cannot cross that boundary, so each worker opens its
own, from the settings the serving command passed on in the environment
(this is an entry point: it reads ``CREDENCE_*`` like the command line does),
and closes it when the worker shuts down.
"""

from __future__ import annotations

from contextlib import ExitStack

from fastapi import FastAPI

from credence.api.app import create_app
from credence.api.collector import freeze_startup
from credence.service.ledger import open_ledger
from credence.settings import load_settings


def worker_app() -> FastAPI:
    """A worker's app over a ledger opened for this process alone (the uvicorn factory)."""
    stack = ExitStack()
    ledger = stack.enter_context(open_ledger(load_settings()))
    try:
        app = create_app(ledger, on_shutdown=stack.close)
    except BaseException:
        stack.close()
        raise
    freeze_startup()
    return app
