"""The garbage collector in a server process: what starting up built is left out of its passes.

Python's full collection walks every tracked object. A server process holds
some 175,000 of them before its first request (the modules, the app, the
compiled policy), so each full pass stopped the event loop for 40-145 ms, and
under load a pass came every second or so: that, not the work, was the
99th-percentile decision (bench/results/api-2026-12-03.md). Those objects
live as long as the process. ``gc.freeze()`` moves them to a generation the
collector never walks, and a full pass then costs 7-16 ms.
"""

from __future__ import annotations

import gc


def freeze_startup() -> None:
    """Collect what starting up left as garbage, then freeze the rest for the process's life.

    Call once, after the app is built and before it serves. Only in a server
    process: objects frozen here are never freed, so a process that builds and
    drops apps (a test suite) would keep every one.
    """
    gc.collect()
    gc.freeze()
