"""``credence serve --workers 2``: two processes on one port, each with its own ledger,
one access model — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from credence.service.ledger import open_ledger
from tests.api.conftest import Server, backend_settings, make_cast, running_server

DECISION = {"entitlement": "deposit_free_rental"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("workers")
    with backend_settings(request.param, folder, request) as settings:
        with open_ledger(settings) as ledger:
            cast = make_cast(ledger)
        with running_server(settings, folder, cast, workers=2) as s:
            yield s


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _serving_children(pid: int) -> list[int]:
    """The serving process's children that run a worker (not multiprocessing's helpers)."""
    return [
        child
        for child in _children(pid)
        if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_two_workers_serve_one_port(workers: Server) -> None:
    assert len(_serving_children(workers.process.pid)) == 2
    assert httpx2.get(workers.url + "/v1/ready").json()["status"] == "ready"


def test_concurrent_decisions_are_each_logged_once(workers: Server) -> None:
    cast = workers.cast
    given = httpx2.post(
        workers.url + "/v1/me/consents",
        headers=cast.headers("subject"),
        json={"party": "acme-rentals", "context": "rentals"},
    )
    assert given.status_code == 201, given.text  # valid whatever ran before
    before = httpx2.get(workers.url + "/v1/me/decisions", headers=cast.headers("subject")).json()

    def decide(_: int) -> str:
        # A new connection per request, so both workers take their share.
        response = httpx2.post(
            workers.url + "/v1/decisions",
            headers=cast.headers("relying_party"),
            json={"subject": cast.own, **DECISION},
        )
        assert response.status_code == 200, response.text
        decision_id: str = response.json()["decision_id"]
        return decision_id

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(decide, range(40)))
    assert len(set(made)) == 40
    after = httpx2.get(workers.url + "/v1/me/decisions", headers=cast.headers("subject")).json()
    assert sorted(d["id"] for d in after) == sorted([d["id"] for d in before] + made)


def test_a_revoked_consent_is_refused_by_every_worker(workers: Server) -> None:
    cast = workers.cast
    subject = cast.headers("subject")
    given = httpx2.post(
        workers.url + "/v1/me/consents",
        headers=subject,
        json={"party": "acme-rentals", "context": "rentals"},
    )
    assert given.status_code == 201, given.text
    consent_id = given.json()["consent"]["id"]
    # Revoke every consent alice gave acme-rentals for rentals, then ask many times.
    for consent in httpx2.get(workers.url + "/v1/me/consents", headers=subject).json():
        if consent["party"] == "acme-rentals" and consent["revoked_at"] is None:
            revoked = httpx2.delete(
                workers.url + f"/v1/me/consents/{consent['id']}", headers=subject
            )
            assert revoked.status_code == 200
    assert consent_id
    statuses = {
        httpx2.post(
            workers.url + "/v1/decisions",
            headers=cast.headers("relying_party"),
            json={"subject": cast.own, **DECISION},
        ).status_code
        for _ in range(20)
    }
    assert statuses == {403}
