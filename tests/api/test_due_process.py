"""Due process over HTTP, in process: receipts, review, overrides, notices and the outbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from credence.service.receipts import verify_receipt_file
from tests.api.conftest import Cast
from tests.api.test_errors import assert_error_shape


def _refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert_error_shape(response.json(), code)


def test_a_decision_over_http_carries_a_receipt_the_public_key_verifies(
    client: TestClient, cast: Cast, tmp_path: Path
) -> None:
    answer = client.post(
        "/v1/decisions",
        headers=cast.headers("relying_party"),
        json={"subject": cast.own, "entitlement": "deposit_free_rental"},
    ).json()
    receipt = answer["receipt"]
    assert receipt["decision_id"] == answer["decision_id"]
    assert receipt["outcome"] == answer["outcome"] and receipt["override"] is None
    assert receipt["reason_codes"] == answer["reason_codes"]
    key = client.get("/v1/receipts/public-key").json()
    assert receipt["key_id"] == key["key_id"]
    (tmp_path / "r.json").write_text(json.dumps(receipt))
    (tmp_path / "k.pem").write_text(key["public_key_pem"])
    checked = verify_receipt_file(tmp_path / "r.json", public_key=tmp_path / "k.pem")
    assert checked.decision_id == answer["decision_id"]
    mine = client.get("/v1/me/decisions", headers=cast.headers("subject")).json()
    logged = next(d for d in mine if d["id"] == answer["decision_id"])
    assert logged["party"] == "acme-rentals" and logged["receipt"] == receipt


def test_review_override_and_notices_from_request_to_outbox(client: TestClient, cast: Cast) -> None:
    subject, reviewer, operator = (cast.headers(r) for r in ("subject", "reviewer", "operator"))
    decided = client.post(
        "/v1/decisions",
        headers=operator,
        json={"subject": cast.own, "entitlement": "preferred_loan_rate"},
    ).json()
    assert decided["outcome"] == "denied"
    asked = client.post(
        "/v1/me/reviews",
        headers=subject,
        json={"decision_id": decided["decision_id"], "statement": "that bill was paid"},
    )
    assert asked.status_code == 201, asked.text
    review = asked.json()
    assert (review["state"], review["days_left"]) == ("open", 30)
    twice = client.post(
        "/v1/me/reviews", headers=subject, json={"decision_id": decided["decision_id"]}
    )
    _refused(twice, 409, "review.conflict")
    queue = client.get("/v1/queue", headers=reviewer).json()
    assert review["id"] in [c["id"] for c in queue["cases"]]
    wrong = client.post(
        f"/v1/reviews/{review['id']}/resolution",
        headers=reviewer,
        json={"resolution": "overridden", "reason": "paid"},
    )
    _refused(wrong, 422, "review.invalid")
    done = client.post(
        f"/v1/reviews/{review['id']}/resolution",
        headers=reviewer,
        json={"resolution": "overridden", "reason": "the bill was paid", "outcome": "granted"},
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "overridden"
    again = client.post(
        f"/v1/reviews/{review['id']}/resolution",
        headers=reviewer,
        json={"resolution": "confirmed", "reason": "again"},
    )
    _refused(again, 409, "review.conflict")
    now = client.post(
        "/v1/decisions",
        headers=operator,
        json={"subject": cast.own, "entitlement": "preferred_loan_rate"},
    ).json()
    assert (now["outcome"], now["override"]) == ("granted", done.json()["override_id"])
    (override,) = [
        o
        for o in client.get("/v1/me/overrides", headers=subject).json()
        if o["id"] == now["override"]
    ]
    assert override["review_id"] == review["id"] and override["set_by"] == "fair-review"
    notices = client.get("/v1/me/notices", headers=subject).json()
    kinds = [(n["kind"], n["entitlement"]) for n in notices]
    assert ("adverse", "preferred_loan_rate") in kinds and (
        "review",
        "preferred_loan_rate",
    ) in kinds
    ended = client.delete(f"/v1/operator/overrides/{override['id']}", headers=operator)
    assert ended.status_code == 200 and ended.json()["state"] == "ended"
    gone = client.delete(f"/v1/operator/overrides/{override['id']}", headers=operator)
    _refused(gone, 404, "override.not_found")

    seqs, after = [], 0
    while True:
        page = client.get(
            "/v1/operator/notices", params={"after": after, "limit": 2}, headers=operator
        ).json()
        seqs += [n["seq"] for n in page["notices"]]
        after = page["next_after"]
        if not page["more"]:
            break
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) >= len(notices)
    assert {n["seq"] for n in notices} <= set(seqs)


def test_override_requests_that_cannot_work_are_4xx(client: TestClient, cast: Cast) -> None:
    operator = cast.headers("operator")
    body = {"subject": cast.other, "entitlement": "credit_limit_review", "reason": "x"}
    imposed = client.post(
        "/v1/operator/overrides", headers=operator, json={**body, "outcome": "restricted"}
    )
    _refused(imposed, 422, "override.invalid")
    far = client.post(
        "/v1/operator/overrides",
        headers=operator,
        json={**body, "outcome": "not_restricted", "ends_at": "2099-01-01T00:00:00Z"},
    )
    _refused(far, 422, "override.invalid")
