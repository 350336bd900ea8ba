"""What every route may ask for: the open ledger; and where a route's blocking work runs."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from credence.errors import RequestInvalid
from credence.service.ledger import Ledger

P = ParamSpec("P")
T = TypeVar("T")


async def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(_ledger)]


async def refuse_nul(request: Request) -> None:
    """Refuse NUL in the path or query: no name or identifier has one, and PostgreSQL cannot store it.

    Raises:
        RequestInvalid: when there is one.
    """
    if "\x00" in request.scope["path"] or b"%00" in request.scope["query_string"].lower():
        raise RequestInvalid("the path and query may not contain NUL (U+0000)")


async def on_store(ledger: Ledger, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking service call where it costs the least for the ledger's store.

    A store in this process (SQLite, memory) only computes: its calls run right
    here on the event loop's thread, one at a time, as its one writer runs them
    anyway. A thread pool would add hand-offs and a contest for the GIL at every
    SQLite call, which halved the decisions a server answers
    (bench/results/api-2026-12-02-loop.md). A networked store (PostgreSQL) mostly
    waits on round trips, which pool threads overlap.

    On the loop, the call's units of work leave their commit for later
    (``Ledger.on_loop``): the store commits them together with those of the
    requests the loop runs next, and this returns once they are durable.
    """
    if not ledger.store.in_process:
        return await run_in_threadpool(call, *args, **kwargs)
    return await ledger.on_loop(call, *args, **kwargs)


def _placed(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A plain-function endpoint as a coroutine that runs it through ``on_store``."""

    @functools.wraps(endpoint)
    async def run(**kwargs: Any) -> Any:
        ledger = kwargs.get("ledger")
        if ledger is None:  # an endpoint without the ledger reads no store
            return endpoint(**kwargs)
        return await on_store(ledger, endpoint, **kwargs)

    return run


class LedgerRoute(APIRoute):
    """An API route whose plain-function endpoint runs through ``on_store``.

    FastAPI would run it, and then validate its response, on pool threads; here
    both happen on the loop's thread for an in-process store, and only the
    endpoint goes to a pool thread for a networked one. Coroutine endpoints are
    left as they are: they decide for themselves (bulk ingest stays on a pool
    thread so that it does not hold up the loop).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _placed(endpoint)
        super().__init__(path, endpoint, **kwargs)
