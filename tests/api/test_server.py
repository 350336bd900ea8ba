"""``credence serve`` as a real server, over the network, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx2

from tests.api.conftest import Server
from tests.api.test_errors import assert_error_shape


def test_the_server_is_ready_with_the_ledger_policy(server: Server) -> None:
    ready = httpx2.get(server.url + "/v1/ready").json()
    assert ready == {
        "status": "ready",
        "policy_name": "consumer-trust",
        "policy_version": ready["policy_version"],
        "records": 41,
    }
    assert httpx2.get(server.url + "/v1/health").json() == {"status": "ok"}


def test_the_server_publishes_its_openapi_and_docs(server: Server) -> None:
    spec = httpx2.get(server.url + "/openapi.json").json()
    assert spec["info"]["title"] == "Credence"
    assert "/v1/ready" in spec["paths"]
    docs = httpx2.get(server.url + "/docs")
    assert docs.status_code == 200 and "openapi.json" in docs.text


def test_an_unknown_path_is_404_in_the_one_shape(server: Server) -> None:
    response = httpx2.get(server.url + "/v1/nowhere")
    assert response.status_code == 404
    assert_error_shape(response.json(), "route.not_found")


def test_a_body_over_the_limit_is_413_before_it_is_read(server: Server) -> None:
    limit = server.settings.max_body_bytes
    response = httpx2.post(
        server.url + "/v1/records",
        content=b"[" + b" " * limit + b"]",
        headers={"content-type": "application/json", **server.cast.headers("provider")},
    )
    assert response.status_code == 413
    assert_error_shape(response.json(), "request.too_large")


def test_a_chunked_body_over_the_limit_is_413(server: Server) -> None:
    limit = server.settings.max_body_bytes

    def chunks():  # type: ignore[no-untyped-def]
        chunk = b" " * 65536
        for _ in range(limit // len(chunk) + 2):
            yield chunk

    response = httpx2.post(
        server.url + "/v1/records",
        content=chunks(),
        headers={"content-type": "application/json", **server.cast.headers("provider")},
    )
    assert response.status_code == 413
    assert_error_shape(response.json(), "request.too_large")
