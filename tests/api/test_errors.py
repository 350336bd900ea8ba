"""Every error the API answers has the one shape, built from CredenceError."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from credence.api import errors
from credence.errors import CredenceError, PolicyError, SubjectNotFound, UsageError


def assert_error_shape(body: Any, code: str) -> None:
    """``{"error": {"code", "message", ...}}`` and nothing else at the top."""
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "path", "line", "suggestion", "details", "problems"}


def _app() -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.get("/located")
    def located() -> None:
        raise PolicyError(
            "bad rule",
            path="policy.yaml",
            line=12,
            suggestion="did you mean `days_late`?",
            problems=[CredenceError("first", line=3)],
        )

    @app.get("/missing")
    def missing() -> None:
        raise SubjectNotFound("no such subject")

    @app.get("/usage")
    def usage() -> None:
        raise UsageError("cannot work")

    @app.get("/defect")
    def defect() -> None:
        raise RuntimeError("a bug")

    @app.get("/typed/{n}")
    def typed(n: int) -> int:
        return n

    return app


@pytest.fixture(scope="module")
def plain() -> TestClient:
    return TestClient(_app(), raise_server_exceptions=False)


def test_a_credence_error_keeps_its_status_and_location(plain: TestClient) -> None:
    response = plain.get("/located")
    assert response.status_code == 422
    body = response.json()
    assert_error_shape(body, "policy.invalid")
    assert body["error"]["path"] == "policy.yaml"
    assert body["error"]["line"] == 12
    assert body["error"]["suggestion"] == "did you mean `days_late`?"
    assert body["error"]["problems"] == [{"code": "credence.error", "message": "first", "line": 3}]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/missing", 404, "subject.not_found"),
        ("/usage", 400, "usage.invalid"),
        ("/typed/abc", 422, "request.invalid"),
        ("/nowhere", 404, "route.not_found"),
    ],
)
def test_every_failure_is_in_the_one_shape(
    plain: TestClient, path: str, status: int, code: str
) -> None:
    response = plain.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert_error_shape(response.json(), code)


def test_a_schema_failure_names_the_field(plain: TestClient) -> None:
    body = plain.get("/typed/abc").json()
    assert body["error"]["path"] == "path.n"
    assert body["error"]["details"]["problems"][0]["at"] == "path.n"


def test_a_wrong_method_is_405_in_the_shape(plain: TestClient) -> None:
    response = plain.post("/missing")
    assert response.status_code == 405
    assert_error_shape(response.json(), "route.method_not_allowed")


def test_a_defect_is_500_in_the_shape_and_says_nothing_more(
    plain: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = plain.get("/defect")
    assert response.status_code == 500
    assert_error_shape(response.json(), "internal.error")
    assert "a bug" not in response.text
    assert "a bug" in caplog.text
