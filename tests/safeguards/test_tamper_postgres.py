"""Tamper evidence on PostgreSQL: a sample of each kind of tampering, done in SQL, is found."""

from __future__ import annotations

import random

import psycopg
import pytest
from tamper import KINDS, tamper, verify
from test_tamper import _build

RUNS = 25


@pytest.mark.parametrize("kind", KINDS)
def test_random_tamperings_are_detected_on_postgres(postgres_url: str, kind: str) -> None:
    _build(postgres_url)
    rng = random.Random(f"pg-{kind}")
    with psycopg.connect(postgres_url) as conn:
        assert verify(conn).ok
        conn.rollback()
        missed = []
        for _ in range(RUNS):
            try:
                done = tamper(conn, rng, kind, mark="%s")
                report = verify(conn)
            finally:
                conn.rollback()
            if report.ok:
                missed.append(done)
        assert missed == []
