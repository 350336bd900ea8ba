"""Commits left for later: what a server on an event loop awaits before it answers.

A store that runs in the server's process (SQLite) runs its units of work on
the event loop's own thread, one after another. Committing each one there
would wait on an fsync per request with the loop stopped, and the requests
that arrived meanwhile could not share that commit. Inside
``Store.commit_later()``, a unit of work instead ends in the store's open
write group and returns; the group commits once the loop has run the requests
already waiting (``asyncio``'s ``call_soon``), and every request that joined
it awaits ``Later.durable()`` before it answers. So a caller still sees only
durable writes, or the error of the commit that failed.

A store that commits on its own (memory, PostgreSQL) hands out a ``Later``
that has nothing to wait for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol


class TurnTaken(Exception):  # a signal to the caller, not a failure
    """Another process holds the writer, and the call inside ``commit_later()`` has written
    nothing yet: await ``turn()``, which waits for the writer without stopping the loop,
    then run the call again from the start.

    The loop goes on serving requests meanwhile, where waiting inside the call
    would stop it for as long as the other process keeps the writer.
    """

    def __init__(self, turn: Callable[[], Awaitable[None]]) -> None:
        super().__init__("another process holds the ledger's writer")
        self.turn = turn


class Pending(Protocol):
    """One commit a unit of work joined: it is done once committed or failed."""

    def finished(self) -> bool:
        """Whether the commit has been made, or has failed."""

    def waiter(self) -> asyncio.Future[None] | None:
        """What the loop awaits until then (None once finished)."""

    def failure(self) -> BaseException | None:
        """Why the commit failed, as the caller should see it; None when it did not."""


class Later:
    """The commits that this thread's units of work joined inside ``commit_later()``."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: list[Pending] = []

    def joined(self, pending: Pending) -> None:
        """A unit of work ended in ``pending``: the caller may answer once it is durable."""
        if not self._pending or self._pending[-1] is not pending:
            self._pending.append(pending)

    def open_writes(self) -> bool:
        """Whether a unit of work here ended in a commit still to be made."""
        return any(not p.finished() for p in self._pending)

    def wrote(self) -> bool:
        """Whether a unit of work here has ended cleanly (committed or not)."""
        return bool(self._pending)

    async def durable(self) -> None:
        """Return once every unit of work joined here is committed.

        Raises:
            StoreError: the failure of a commit that held one of them.
        """
        for pending in self._pending:
            waiter = pending.waiter()
            if waiter is not None:
                # Shielded: a request that goes away does not cancel its peers' commit.
                await asyncio.shield(waiter)
            failure = pending.failure()
            if failure is not None:
                raise failure


def settle(waiter: asyncio.Future[None]) -> None:
    """Wake what awaits ``waiter``, from any thread."""
    loop = waiter.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _set(waiter)
    else:
        loop.call_soon_threadsafe(_set, waiter)


def _set(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def on_this_loop(callback: Callable[[], object]) -> asyncio.Future[None]:
    """A waiter on the running loop, and ``callback`` run once the loop has run what is
    ready now.

    Raises:
        RuntimeError: when no event loop runs on this thread.
    """
    loop = asyncio.get_running_loop()
    loop.call_soon(callback)
    return loop.create_future()
