"""The access model as one table: every endpoint × every role × own / other / unknown subject.

Read a row as: this endpoint, asked about alice (own: the subject who
consented to acme-rentals, and the signed-in subject), bob (other: known, no
consent), or nobody (unknown: no such subject), answers these statuses to
each role. ``-`` marks an endpoint that names no subject: only the own
column is asked. Any status not in the table fails the test, so there are
no unexpected allows. It runs against a real ``credence serve`` on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from tests.api.conftest import ROLES, Cast, Server


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Callable[[str, str], Any] | None = None  # (subject, unique) -> JSON body
    values: tuple[tuple[str, str], ...] = ()  # path parameters other than the subject


def _record(subject: str, unique: str) -> list[dict[str, Any]]:
    scheme, _, ident = subject.partition(":")
    if ident == "nobody":  # a record about a new subject creates it: keep nobody unknown
        ident = f"newcomer-{unique}"
    return [
        {
            "provider": "bank-a",
            "provider_event_id": f"matrix-{unique}",
            "subject_scheme": scheme,
            "subject_id": ident,
            "subject_kind": "person",
            "type": "bill.paid",
            "occurred_at": "2026-10-01T00:00:00Z",
            "attributes": {"days_late": 0, "amount": 10.0},
        }
    ]


ENDPOINTS: dict[str, Call] = {
    "records": Call("POST", "/v1/records", _record),
    "decision": Call(
        "POST", "/v1/decisions", lambda s, _u: {"subject": s, "entitlement": "deposit_free_rental"}
    ),
    "decision-lending": Call(
        "POST", "/v1/decisions", lambda s, _u: {"subject": s, "entitlement": "preferred_loan_rate"}
    ),
    "score": Call("GET", "/v1/subjects/{subject}/score?context=rentals"),
    "score-lending": Call("GET", "/v1/subjects/{subject}/score?context=lending"),
    "sign-in": Call("POST", "/v1/sign-in-tokens", lambda s, _u: {"subject": s}),
    "session": Call("POST", "/v1/sessions", lambda _s, _u: {"sign_in_token": "sit_x_notatoken"}),
    "me": Call("GET", "/v1/me"),
    "me-score": Call("GET", "/v1/me/score"),
    "me-explanation": Call("GET", "/v1/me/explanation"),
    "me-records": Call("GET", "/v1/me/records"),
    "me-notices": Call("GET", "/v1/me/notices"),
    "me-accesses": Call("GET", "/v1/me/accesses"),
    "me-decisions": Call("GET", "/v1/me/decisions"),
    "me-consents": Call("GET", "/v1/me/consents"),
    "me-consent": Call(
        "POST",
        "/v1/me/consents",
        lambda _s, _u: {"party": "acme-rentals", "context": "rentals", "scope": "decision+score"},
    ),
    "me-revoke": Call(
        "DELETE", "/v1/me/consents/{consent_id}", values=(("consent_id", "cns_000000000000"),)
    ),
    "parties": Call("GET", "/v1/parties"),
    "party-add": Call("POST", "/v1/parties", lambda _s, u: {"name": f"m-{u}", "kind": "reviewer"}),
    "party": Call("GET", "/v1/parties/{name}", values=(("name", "bank-a"),)),
    "key-add": Call("POST", "/v1/parties/{name}/keys", values=(("name", "fair-review"),)),
    "keys": Call("GET", "/v1/keys"),
    "key-revoke": Call("POST", "/v1/keys/{key_id}/revoke", values=(("key_id", "key_unknown"),)),
    "key-rotate": Call("POST", "/v1/keys/{key_id}/rotate", values=(("key_id", "key_unknown"),)),
    "policy": Call("GET", "/v1/policy"),
    "health": Call("GET", "/v1/health"),
    "ready": Call("GET", "/v1/ready"),
    "sign-out": Call("DELETE", "/v1/sessions"),
}

# own: alice, who consented to acme-rentals for rentals (decision+score) and is the signed-in
# subject; other: bob, known, no consent; unknown: nobody. Operators and reviewers decide
# without consent (logged); relying parties only under consent, and an unknown subject is
# refused exactly like an unconsented one. Sign-out is last: it ends alice's session.
#
# endpoint          role             own  other unknown
MATRIX = """
records             anonymous        401  401   401
records             operator         403  403   403
records             provider         200  200   200
records             relying_party    403  403   403
records             reviewer         403  403   403
records             subject          401  401   401
decision            anonymous        401  401   401
decision            operator         200  200   404
decision            provider         403  403   403
decision            relying_party    200  403   403
decision            reviewer         200  200   404
decision            subject          401  401   401
decision-lending    relying_party    403  403   403
score               anonymous        401  401   401
score               operator         403  403   403
score               provider         403  403   403
score               relying_party    200  403   403
score               reviewer         403  403   403
score               subject          401  401   401
score-lending       relying_party    403  403   403
sign-in             anonymous        401  401   401
sign-in             operator         201  201   404
sign-in             provider         403  403   403
sign-in             relying_party    403  403   403
sign-in             reviewer         403  403   403
sign-in             subject          401  401   401
session             anonymous        401  -     -
session             operator         401  -     -
session             subject          401  -     -
me                  anonymous        401  -     -
me                  operator         401  -     -
me                  provider         401  -     -
me                  relying_party    401  -     -
me                  reviewer         401  -     -
me                  subject          200  -     -
me-score            anonymous        401  -     -
me-score            relying_party    401  -     -
me-score            subject          200  -     -
me-explanation      anonymous        401  -     -
me-explanation      relying_party    401  -     -
me-explanation      subject          200  -     -
me-records          anonymous        401  -     -
me-records          operator         401  -     -
me-records          provider         401  -     -
me-records          relying_party    401  -     -
me-records          reviewer         401  -     -
me-records          subject          200  -     -
me-notices          anonymous        401  -     -
me-notices          relying_party    401  -     -
me-notices          subject          200  -     -
me-accesses         anonymous        401  -     -
me-accesses         operator         401  -     -
me-accesses         relying_party    401  -     -
me-accesses         subject          200  -     -
me-decisions        anonymous        401  -     -
me-decisions        relying_party    401  -     -
me-decisions        subject          200  -     -
me-consents         anonymous        401  -     -
me-consents         operator         401  -     -
me-consents         relying_party    401  -     -
me-consents         subject          200  -     -
me-consent          anonymous        401  -     -
me-consent          operator         401  -     -
me-consent          relying_party    401  -     -
me-consent          subject          201  -     -
me-revoke           anonymous        401  -     -
me-revoke           relying_party    401  -     -
me-revoke           subject          404  -     -
parties             anonymous        401  -     -
parties             operator         200  -     -
parties             provider         403  -     -
parties             relying_party    403  -     -
parties             reviewer         403  -     -
parties             subject          401  -     -
party-add           anonymous        401  -     -
party-add           operator         201  -     -
party-add           provider         403  -     -
party-add           relying_party    403  -     -
party-add           reviewer         403  -     -
party-add           subject          401  -     -
party               anonymous        401  -     -
party               operator         200  -     -
party               provider         403  -     -
party               relying_party    403  -     -
party               reviewer         403  -     -
party               subject          401  -     -
key-add             anonymous        401  -     -
key-add             operator         201  -     -
key-add             provider         403  -     -
key-add             relying_party    403  -     -
key-add             reviewer         403  -     -
key-add             subject          401  -     -
keys                anonymous        401  -     -
keys                operator         200  -     -
keys                provider         403  -     -
keys                relying_party    403  -     -
keys                reviewer         403  -     -
keys                subject          401  -     -
key-revoke          anonymous        401  -     -
key-revoke          operator         404  -     -
key-revoke          provider         403  -     -
key-revoke          relying_party    403  -     -
key-revoke          reviewer         403  -     -
key-revoke          subject          401  -     -
key-rotate          anonymous        401  -     -
key-rotate          operator         404  -     -
key-rotate          provider         403  -     -
key-rotate          relying_party    403  -     -
key-rotate          reviewer         403  -     -
key-rotate          subject          401  -     -
policy              anonymous        401  -     -
policy              operator         200  -     -
policy              provider         403  -     -
policy              relying_party    403  -     -
policy              reviewer         200  -     -
policy              subject          401  -     -
health              anonymous        200  -     -
health              provider         200  -     -
ready               anonymous        200  -     -
ready               relying_party    200  -     -
sign-out            anonymous        401  -     -
sign-out            operator         401  -     -
sign-out            relying_party    401  -     -
sign-out            subject          204  -     -
"""


def _rows() -> list[tuple[str, str, str, int]]:
    rows = []
    for line in MATRIX.strip().splitlines():
        endpoint, role, *statuses = line.split()
        assert endpoint in ENDPOINTS and role in ROLES, line
        for target, status in zip(("own", "other", "unknown"), statuses, strict=True):
            if status != "-":
                rows.append((endpoint, role, target, int(status)))
    return rows


ROWS = _rows()


def test_the_table_covers_every_endpoint_of_the_api(server: Server) -> None:
    spec = httpx2.get(server.url + "/openapi.json").json()
    served = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    covered = {
        (c.method, c.path.split("?")[0].replace("{subject}", "{ref}")) for c in ENDPOINTS.values()
    }
    assert served == covered


def _target(cast: Cast, target: str) -> str:
    return {"own": cast.own, "other": cast.other, "unknown": cast.unknown}[target]


@pytest.mark.parametrize(("endpoint", "role", "target", "expected"), ROWS)
def test_authorization_matrix(
    server: Server, endpoint: str, role: str, target: str, expected: int
) -> None:
    call = ENDPOINTS[endpoint]
    subject = _target(server.cast, target)
    unique = f"{endpoint}-{role}-{target}"
    response = httpx2.request(
        call.method,
        server.url + call.path.format(subject=subject, **dict(call.values)),
        headers=server.cast.headers(role),
        json=None if call.body is None else call.body(subject, unique),
    )
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert set(response.json()) == {"error"}


def test_every_endpoint_is_in_the_table() -> None:
    assert {endpoint for endpoint, *_ in ROWS} == set(ENDPOINTS)


def test_refusals_for_unknown_and_unconsented_subjects_are_identical(server: Server) -> None:
    """Without consent a relying party learns nothing, not even whether the subject exists."""
    headers = server.cast.headers("relying_party")
    bodies = []
    for subject in (server.cast.other, server.cast.unknown):
        decision = httpx2.post(
            server.url + "/v1/decisions",
            headers=headers,
            json={"subject": subject, "entitlement": "deposit_free_rental"},
        )
        score = httpx2.get(
            server.url + f"/v1/subjects/{subject}/score",
            params={"context": "rentals"},
            headers=headers,
        )
        text = f"{decision.status_code} {decision.text} {score.status_code} {score.text}"
        bodies.append(text.replace(subject, "SUBJECT"))
    assert bodies[0] == bodies[1]
    assert '"code":"consent.missing"' in bodies[0].replace(" ", "")


# --- the web console and the public register --------------------------------------------
# Pages answer browsers: a party signs in to the console with a cookie (``credence_console``),
# a subject to the portal with another (``credence_session``), and every POST carries the
# CSRF cookie and its form field. Anonymous and subject browsers asking a console page are
# sent to /console/sign-in (303 on a GET, 401 on a POST): a subject's session is never a
# party's. The console is the operator's; a reviewer sees the overview and the policy.
# Redirects are not followed.


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    form: Callable[[str], dict[str, str]] | None = None  # (unique) -> form fields


WEB_PAGES: dict[str, Page] = {
    "register": Page("GET", "/register"),
    "console": Page("GET", "/console"),
    "console-restrictions": Page("GET", "/console/restrictions"),
    "console-parties": Page("GET", "/console/parties"),
    "console-party-add": Page(
        "POST", "/console/parties", lambda u: {"name": f"w-{u}", "kind": "reviewer"}
    ),
    "console-key-add": Page("POST", "/console/parties/fair-review/keys", lambda _u: {}),
    "console-key-revoke": Page("POST", "/console/keys/key_unknown/revoke", lambda _u: {}),
    "console-policy": Page("GET", "/console/policy"),
}

# page                   role             status
WEB_MATRIX = """
register                 anonymous        200
register                 operator         200
register                 provider         200
register                 relying_party    200
register                 reviewer         200
register                 subject          200
console                  anonymous        303
console                  operator         200
console                  provider         403
console                  relying_party    403
console                  reviewer         200
console                  subject          303
console-restrictions     anonymous        303
console-restrictions     operator         200
console-restrictions     provider         403
console-restrictions     relying_party    403
console-restrictions     reviewer         403
console-restrictions     subject          303
console-parties          anonymous        303
console-parties          operator         200
console-parties          provider         403
console-parties          relying_party    403
console-parties          reviewer         403
console-parties          subject          303
console-party-add        anonymous        401
console-party-add        operator         303
console-party-add        provider         403
console-party-add        relying_party    403
console-party-add        reviewer         403
console-party-add        subject          401
console-key-add          anonymous        401
console-key-add          operator         200
console-key-add          provider         403
console-key-add          relying_party    403
console-key-add          reviewer         403
console-key-add          subject          401
console-key-revoke       anonymous        401
console-key-revoke       operator         404
console-key-revoke       provider         403
console-key-revoke       relying_party    403
console-key-revoke       reviewer         403
console-key-revoke       subject          401
console-policy           anonymous        303
console-policy           operator         200
console-policy           provider         403
console-policy           relying_party    403
console-policy           reviewer         200
console-policy           subject          303
"""


def _web_rows() -> list[tuple[str, str, int]]:
    rows = []
    for line in WEB_MATRIX.strip().splitlines():
        page, role, status = line.split()
        assert page in WEB_PAGES and role in ROLES, line
        rows.append((page, role, int(status)))
    return rows


WEB_ROWS = _web_rows()


@pytest.fixture(scope="module")
def browsers(server: Server) -> dict[str, dict[str, str]]:
    """Per role, the cookies of a browser signed in as it (a CSRF cookie for everyone)."""
    from credence.service.ledger import open_ledger
    from credence.service.party_sessions import start_party_session
    from credence.web.auth import CONSOLE_COOKIE, SUBJECT_COOKIE
    from credence.web.security import CSRF_COOKIE

    first = httpx2.get(server.url + "/console/sign-in")
    csrf = first.cookies[CSRF_COOKIE]
    jars: dict[str, dict[str, str]] = {}
    with open_ledger(server.settings) as ledger:
        for role in ROLES:
            jar = {CSRF_COOKIE: csrf}
            if role == "subject":
                jar[SUBJECT_COOKIE] = server.cast.tokens["subject"]
            elif role != "anonymous":
                token, _ = start_party_session(ledger, api_key=server.cast.tokens[role])
                jar[CONSOLE_COOKIE] = token
            jars[role] = jar
    return jars


def _form_token(server: Server, jar: dict[str, str]) -> str:
    import re

    page = httpx2.get(server.url + "/console/sign-in", cookies=jar)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


@pytest.mark.parametrize(("page", "role", "expected"), WEB_ROWS)
def test_web_authorization_matrix(
    server: Server, browsers: dict[str, dict[str, str]], page: str, role: str, expected: int
) -> None:
    call = WEB_PAGES[page]
    jar = browsers[role]
    data = None
    if call.form is not None:
        data = {"csrf_token": _form_token(server, jar), **call.form(f"{page}-{role}")}
    response = httpx2.request(
        call.method, server.url + call.path, cookies=jar, data=data, follow_redirects=False
    )
    assert response.status_code == expected, response.text[:500]
    if expected == 303 and call.method == "GET":
        assert response.headers["location"] == "/console/sign-in"
    if expected >= 400:
        assert response.headers["content-type"].startswith("text/html")


def test_every_console_page_is_in_the_web_table() -> None:
    from importlib import import_module

    from credence.web import AREAS

    served = {
        (method, route.path)
        for area in AREAS
        for route in import_module(f"credence.web.{area}").router.routes
        for method in getattr(route, "methods", ()) or ()
        if getattr(route, "path", "").startswith(("/console", "/register")) and method != "HEAD"
    }
    sign_in = {("GET", "/console/sign-in"), ("POST", "/console/sign-in")}
    sign_in.add(("POST", "/console/sign-out"))
    tabled = {(p.method, p.path) for p in WEB_PAGES.values()}
    paths = {
        (m, p.replace("fair-review", "{name}").replace("key_unknown", "{key_id}"))
        for m, p in tabled
    }
    assert served - sign_in == paths
    assert {page for page, *_ in WEB_ROWS} == set(WEB_PAGES)


def test_a_console_post_without_its_csrf_field_is_refused(
    server: Server, browsers: dict[str, dict[str, str]]
) -> None:
    response = httpx2.post(
        server.url + "/console/parties",
        cookies=browsers["operator"],
        data={"name": "no-csrf", "kind": "reviewer"},
        follow_redirects=False,
    )
    assert response.status_code == 403 and "web.csrf" in response.text
