"""Where a route's blocking work runs: on the loop's thread for an in-process store, else a pool thread."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi.routing import APIRoute

from credence.api.app import API_ROUTERS
from credence.api.deps import LedgerRoute, on_store
from credence.ledger.commits import Later
from credence.service.ledger import Ledger


@dataclass
class _Store:
    in_process: bool

    @contextmanager
    def commit_later(self) -> Iterator[Later]:
        yield Later()


def _thread_of_call(in_process: bool) -> tuple[int, int]:
    ledger = Ledger.__new__(Ledger)
    ledger.store = _Store(in_process)  # type: ignore[assignment]

    async def main() -> tuple[int, int]:
        ran = await on_store(ledger, threading.get_ident)
        return threading.get_ident(), ran

    return asyncio.run(main())


def test_an_in_process_store_is_called_on_the_loops_own_thread() -> None:
    loop_thread, ran = _thread_of_call(in_process=True)
    assert ran == loop_thread


def test_a_networked_store_is_called_on_a_pool_thread() -> None:
    loop_thread, ran = _thread_of_call(in_process=False)
    assert ran != loop_thread


def test_every_plain_api_endpoint_that_reads_the_store_names_the_ledger() -> None:
    # LedgerRoute finds the store through the ``ledger`` argument; an endpoint that
    # reached it any other way would run on the loop even for PostgreSQL.
    routes = [r for router in API_ROUTERS for r in router.routes]
    assert routes and all(isinstance(r, LedgerRoute) for r in routes)
    plain = {
        r.path: inspect.signature(inspect.unwrap(r.endpoint)).parameters
        for r in routes
        if isinstance(r, APIRoute) and not inspect.iscoroutinefunction(inspect.unwrap(r.endpoint))
    }
    assert {path for path, params in plain.items() if "ledger" not in params} == {"/health"}
