"""The access model end to end, in process: who can do what, and what the subject sees."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Cast
from tests.api.test_errors import assert_error_shape


def _rows(*events: str, provider: str = "bank-a", subject: str = "flows") -> list[dict[str, Any]]:
    return [
        {
            "provider": provider,
            "provider_event_id": event,
            "subject_scheme": "custom",
            "subject_id": subject,
            "subject_kind": "person",
            "type": "bill.paid",
            "occurred_at": "2026-10-01T00:00:00Z",
            "attributes": {"days_late": 0, "amount": 10.0},
        }
        for event in events
    ]


def test_a_provider_key_sends_records_and_nothing_else(client: TestClient, cast: Cast) -> None:
    headers = cast.headers("provider")
    sent = client.post("/v1/records", headers=headers, json=_rows("flow-1", "flow-2"))
    assert sent.status_code == 200
    assert sent.json() == {"rows": 2, "inserted": 2, "unchanged": 0, "rejected": 0, "rejects": []}
    again = client.post("/v1/records", headers=headers, json=_rows("flow-1", "flow-2"))
    assert again.json()["unchanged"] == 2
    decision = {"subject": cast.own, "entitlement": "deposit_free_rental"}
    for method, path, body in [
        ("POST", "/v1/decisions", decision),
        ("GET", f"/v1/subjects/{cast.own}/score?context=rentals", None),
        ("GET", "/v1/parties", None),
        ("GET", "/v1/policy", None),
        ("POST", "/v1/sign-in-tokens", {"subject": cast.own}),
    ]:
        response = client.request(method, path, headers=headers, json=body)
        assert response.status_code == 403, path
    assert client.get("/v1/me", headers=headers).status_code == 401


def test_a_row_naming_another_provider_is_refused(client: TestClient, cast: Cast) -> None:
    rows = _rows("flow-own") + _rows("flow-theirs", provider="city-utilities")
    body = client.post("/v1/records", headers=cast.headers("provider"), json=rows).json()
    assert (body["inserted"], body["rejected"]) == (1, 1)
    assert body["rejects"][0]["index"] == 1
    assert body["rejects"][0]["code"] == "record.provider"


def test_ndjson_bodies_are_accepted(client: TestClient, cast: Cast) -> None:
    text = "\n".join(json.dumps(r) for r in _rows("flow-nd-1", "flow-nd-2"))
    response = client.post(
        "/v1/records",
        headers={**cast.headers("provider"), "content-type": "application/x-ndjson"},
        content=text,
    )
    assert response.json()["inserted"] == 2


def test_a_decision_with_consent_has_reasons_and_the_subject_sees_who_asked(
    client: TestClient, cast: Cast
) -> None:
    response = client.post(
        "/v1/decisions",
        headers=cast.headers("relying_party"),
        json={"subject": cast.own, "entitlement": "deposit_free_rental"},
    )
    assert response.status_code == 200
    decision = response.json()
    assert decision["outcome"] in ("granted", "denied")
    assert decision["consent_id"] == cast.consent_id
    assert decision["reason_codes"] == [r["code"] for r in decision["reasons"]]
    assert all(r["text"] for r in decision["reasons"])
    assert "records" not in decision
    log = client.get("/v1/me/accesses", headers=cast.headers("subject")).json()
    mine = [
        a
        for a in log
        if a["party"] == "acme-rentals" and a["action"] == "decide deposit_free_rental"
    ]
    assert mine and mine[-1]["context"] == "rentals" and mine[-1]["consent_id"] == cast.consent_id


def test_without_consent_a_relying_party_learns_nothing(client: TestClient, cast: Cast) -> None:
    answers = []
    for subject in (cast.other, cast.unknown):
        response = client.post(
            "/v1/decisions",
            headers=cast.headers("relying_party"),
            json={"subject": subject, "entitlement": "deposit_free_rental"},
        )
        assert response.status_code == 403
        assert_error_shape(response.json(), "consent.missing")
        answers.append(response.text.replace(subject, "SUBJECT"))
    assert answers[0] == answers[1]


def test_an_unknown_entitlement_is_404_whoever_the_subject(client: TestClient, cast: Cast) -> None:
    response = client.post(
        "/v1/decisions",
        headers=cast.headers("relying_party"),
        json={"subject": cast.own, "entitlement": "rental_suspension_unknown"},
    )
    assert response.status_code == 404
    assert_error_shape(response.json(), "entitlement.not_found")


def test_the_subject_sees_their_own_account(client: TestClient, cast: Cast) -> None:
    headers = cast.headers("subject")
    me = client.get("/v1/me", headers=headers).json()
    assert me["subject"] == {"scheme": "custom", "id": "alice", "kind": "person"}
    score = client.get("/v1/me/score", headers=headers).json()
    assert (score["score"], score["tier"]) == (me["score"]["score"], me["score"]["tier"])
    explanation = client.get("/v1/me/explanation", headers=headers).json()
    assert explanation["score"]["score"] == score["score"]
    records = client.get("/v1/me/records", headers=headers).json()
    assert records and all("expires_at" in r and "points" in r for r in records)
    negative = [r for r in records if r["points"] < 0]
    assert all(r["expires_at"] for r in negative)  # every negative record expires
    assert client.get("/v1/me/notices", headers=headers).status_code == 200
    consents = client.get("/v1/me/consents", headers=headers).json()
    assert [c["id"] for c in consents] == [cast.consent_id, cast.spare_consent_id]


def test_a_revoked_consent_stops_the_next_request(client: TestClient, cast: Cast) -> None:
    headers = cast.headers("subject")
    given = client.post(
        "/v1/me/consents",
        headers=headers,
        json={"party": "acme-rentals", "context": "lending", "scope": "decision"},
    )
    assert given.status_code == 201
    consent = given.json()["consent"]
    assert "acme-rentals" in given.json()["receipt"]
    ask = {"subject": cast.own, "entitlement": "preferred_loan_rate"}
    rp = cast.headers("relying_party")
    assert client.post("/v1/decisions", headers=rp, json=ask).status_code == 200
    revoked = client.delete(f"/v1/me/consents/{consent['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = client.post("/v1/decisions", headers=rp, json=ask)
    assert refused.status_code == 403
    assert_error_shape(refused.json(), "consent.missing")


def test_a_score_needs_a_decision_and_score_consent(client: TestClient, cast: Cast) -> None:
    rp = cast.headers("relying_party")
    ok = client.get(f"/v1/subjects/{cast.own}/score", params={"context": "rentals"}, headers=rp)
    assert ok.status_code == 200 and isinstance(ok.json()["score"], int)
    # alice's lending consent (if any) is decision-only, and lending has none now
    refused = client.get(
        f"/v1/subjects/{cast.own}/score", params={"context": "lending"}, headers=rp
    )
    assert refused.status_code == 403


def test_operator_manages_parties_and_keys_and_a_revoked_key_fails_at_once(
    client: TestClient, cast: Cast
) -> None:
    op = cast.headers("operator")
    made = client.post(
        "/v1/parties",
        headers=op,
        json={"name": "flow-lender", "kind": "relying_party", "contexts": ["lending"]},
    )
    assert made.status_code == 201
    assert client.get("/v1/parties/flow-lender", headers=op).json()["contexts"] == ["lending"]
    key = client.post("/v1/parties/flow-lender/keys", headers=op).json()
    theirs = {"Authorization": f"Bearer {key['token']}"}
    ask = {"subject": cast.unknown, "entitlement": "preferred_loan_rate"}
    assert client.post("/v1/decisions", headers=theirs, json=ask).status_code == 403
    outside = {"subject": cast.own, "entitlement": "deposit_free_rental"}  # rentals: not declared
    refused = client.post("/v1/decisions", headers=theirs, json=outside)
    assert refused.status_code == 403
    assert_error_shape(refused.json(), "consent.missing")  # outside its contexts: no consent counts
    listed = client.get("/v1/keys", params={"party": "flow-lender"}, headers=op).json()
    assert [k["key_id"] for k in listed] == [key["key_id"]] and "token" not in listed[0]
    rotated = client.post(f"/v1/keys/{key['key_id']}/rotate", headers=op).json()
    assert client.post("/v1/decisions", headers=theirs, json=ask).status_code == 401
    fresh = {"Authorization": f"Bearer {rotated['token']}"}
    assert client.post("/v1/decisions", headers=fresh, json=ask).status_code == 403
    revoked = client.post(f"/v1/keys/{rotated['key_id']}/revoke", headers=op)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    failed = client.post("/v1/decisions", headers=fresh, json=ask)
    assert failed.status_code == 401
    assert_error_shape(failed.json(), "auth.failed")


def test_a_subject_signs_in_once_and_out(client: TestClient, cast: Cast) -> None:
    op = cast.headers("operator")
    issued = client.post("/v1/sign-in-tokens", headers=op, json={"subject": cast.other})
    assert issued.status_code == 201
    token = issued.json()["sign_in_token"]
    session = client.post("/v1/sessions", json={"sign_in_token": token})
    assert session.status_code == 200 and session.json()["subject"] == cast.other
    again = client.post("/v1/sessions", json={"sign_in_token": token})
    assert again.status_code == 401  # single use
    mine = {"Authorization": f"Bearer {session.json()['session_token']}"}
    assert client.get("/v1/me", headers=mine).json()["subject"]["id"] == "bob"
    assert client.delete("/v1/sessions", headers=mine).status_code == 204
    assert client.get("/v1/me", headers=mine).status_code == 401


def test_the_policy_report_has_the_active_version_and_lint(client: TestClient, cast: Cast) -> None:
    body = client.get("/v1/policy", headers=cast.headers("operator")).json()
    assert body["name"] == "consumer-trust"
    assert body["lint_errors"] == 0
    assert body["lint_warnings"] == len([d for d in body["diagnostics"] if d["level"] != "error"])


@pytest.mark.parametrize("token", ["", "nonsense", "ck_live_0000"])
def test_a_bad_token_is_401_in_the_one_shape(client: TestClient, token: str) -> None:
    response = client.get("/v1/parties", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert_error_shape(response.json(), "auth.failed")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/parties/bank%00a", None),
        ("GET", "/v1/keys?party=bank%00a", None),
        ("POST", "/v1/parties", {"name": "x", "kind": "reviewer", "contexts": ["a\x00b"]}),
    ],
)
def test_nul_in_a_request_is_422_not_a_store_error(
    client: TestClient, cast: Cast, method: str, path: str, body: Any
) -> None:
    """Regression: a NUL in a party name reached PostgreSQL and came back as a 503."""
    response = client.request(method, path, headers=cast.headers("operator"), json=body)
    assert response.status_code == 422
    assert_error_shape(response.json(), "request.invalid")


def test_nul_in_a_consent_request_is_422(client: TestClient, cast: Cast) -> None:
    response = client.post(
        "/v1/me/consents",
        headers=cast.headers("subject"),
        json={"party": "acme\x00", "context": "rentals", "entitlements": ["a\x00"]},
    )
    assert response.status_code == 422
