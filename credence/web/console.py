"""The operator console under ``/console``."""

from __future__ import annotations

from credence.web import page_router

router = page_router()
