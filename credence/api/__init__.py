"""Credence's HTTP service (FastAPI): one app factory, one router per kind of caller."""

from credence.api.app import create_app

__all__ = ["create_app"]
