"""Disputes over HTTP, in process: a subject disputes a record, the decision resting on it is
held, the provider answers, a reviewer rejects, and the statement goes with the decision."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Cast
from tests.api.test_errors import assert_error_shape


def _default(event: str) -> dict[str, Any]:
    return {
        "provider": "bank-a",
        "provider_event_id": event,
        "subject_scheme": "custom",
        "subject_id": "alice",
        "subject_kind": "person",
        "type": "loan.defaulted",
        "occurred_at": "2026-06-01T00:00:00Z",
        "attributes": {"amount": 5000.0},
    }


def test_a_dispute_holds_the_decision_it_rests_on_until_it_is_resolved(
    client: TestClient, cast: Cast
) -> None:
    subject, provider = cast.headers("subject"), cast.headers("provider")
    reviewer, operator = cast.headers("reviewer"), cast.headers("operator")
    sent = client.post("/v1/records", headers=provider, json=[_default("d-1"), _default("d-2")])
    assert sent.json()["inserted"] == 2
    ask = {"subject": cast.own, "entitlement": "credit_limit_review"}
    before = client.post("/v1/decisions", headers=operator, json=ask).json()
    assert before["outcome"] in ("pending", "restricted") and before["hold"] is None
    ids = [r["id"] for r in client.get("/v1/me/records", headers=subject).json()]
    assert "bank-a:d-2" in ids
    filed = client.post(
        "/v1/me/disputes",
        headers=subject,
        json={"record": "bank-a:d-2", "statement": "I never had this loan"},
    )
    assert filed.status_code == 201, filed.text
    dispute = filed.json()
    assert (dispute["state"], dispute["days_left"], dispute["record"]) == ("open", 30, "bank-a:d-2")
    again = client.post(
        "/v1/me/disputes", headers=subject, json={"record": "bank-a:d-2", "statement": "again"}
    )
    assert again.status_code == 409
    assert_error_shape(again.json(), "dispute.state")
    held = client.post("/v1/decisions", headers=operator, json=ask).json()
    assert (held["outcome"], held["allowed"]) == ("held", True)
    assert held["hold"] == {
        "outcome": before["outcome"],
        "disputes": [dispute["id"]],
        "until": dispute["deadline"],
    }
    seen = client.get("/v1/provider/disputes", headers=provider).json()
    assert dispute["id"] in [d["id"] for d in seen]
    answered = client.post(
        f"/v1/provider/disputes/{dispute['id']}/answer",
        headers=provider,
        json={"answer": "verified"},
    )
    assert answered.json()["answer"] == "verified"
    queue = client.get("/v1/disputes", headers=reviewer).json()
    assert [d["id"] for d in queue] == [dispute["id"]]
    resolved = client.post(
        f"/v1/disputes/{dispute['id']}/resolution",
        headers=reviewer,
        json={"outcome": "rejected", "reason": "The loan contract is signed"},
    )
    assert resolved.json()["state"] == "rejected"
    after = client.post("/v1/decisions", headers=operator, json=ask).json()
    assert after["outcome"] == before["outcome"] and after["hold"] is None
    assert after["statements"] == [
        {"dispute": dispute["id"], "record": "bank-a:d-2", "text": "I never had this loan"}
    ]
    mine = client.get("/v1/me/disputes", headers=subject).json()
    assert [(d["id"], d["resolution"], d["reason"]) for d in mine] == [
        (dispute["id"], "rejected", "The loan contract is signed")
    ]
    late = client.post(
        f"/v1/me/disputes/{dispute['id']}/information", headers=subject, json={"text": "more"}
    )
    assert late.status_code == 409
    assert_error_shape(late.json(), "dispute.state")
