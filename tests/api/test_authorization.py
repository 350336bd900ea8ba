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
    "me-disputes": Call("GET", "/v1/me/disputes"),
    "me-dispute": Call(
        "POST",
        "/v1/me/disputes",
        lambda _s, _u: {"record": "bank-a:a1", "statement": "I paid on time"},
    ),
    "me-dispute-info": Call(
        "POST",
        "/v1/me/disputes/{dispute_id}/information",
        lambda _s, _u: {"text": "the bank's receipt"},
        values=(("dispute_id", "dsp_unknown"),),
    ),
    "provider-disputes": Call("GET", "/v1/provider/disputes"),
    "provider-answer": Call(
        "POST",
        "/v1/provider/disputes/{dispute_id}/answer",
        lambda _s, _u: {"answer": "verified"},
        values=(("dispute_id", "dsp_unknown"),),
    ),
    "disputes": Call("GET", "/v1/disputes"),
    "dispute-resolution": Call(
        "POST",
        "/v1/disputes/{dispute_id}/resolution",
        lambda _s, _u: {"outcome": "rejected", "reason": "verified by the provider"},
        values=(("dispute_id", "dsp_unknown"),),
    ),
    "sign-out": Call("DELETE", "/v1/sessions"),
    "public-key": Call("GET", "/v1/receipts/public-key"),
    "override-add": Call(
        "POST",
        "/v1/operator/overrides",
        lambda s, _u: {
            "subject": s,
            "entitlement": "preferred_loan_rate",
            "outcome": "granted",
            "reason": "matrix",
        },
    ),
    "overrides": Call("GET", "/v1/operator/overrides"),
    "override-end": Call(
        "DELETE", "/v1/operator/overrides/{override_id}", values=(("override_id", "ovr_unknown"),)
    ),
    "outbox": Call("GET", "/v1/operator/notices?after=0"),
    "queue": Call("GET", "/v1/queue"),
    "me-overrides": Call("GET", "/v1/me/overrides"),
    "me-reviews": Call("GET", "/v1/me/reviews"),
    "me-review": Call("POST", "/v1/me/reviews", lambda _s, _u: {"decision_id": "dec_unknown"}),
    "resolution": Call(
        "POST",
        "/v1/reviews/{review_id}/resolution",
        lambda _s, _u: {"resolution": "confirmed", "reason": "matrix"},
        values=(("review_id", "rev_unknown"),),
    ),
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
me-disputes         anonymous        401  -     -
me-disputes         operator         401  -     -
me-disputes         provider         401  -     -
me-disputes         relying_party    401  -     -
me-disputes         reviewer         401  -     -
me-disputes         subject          200  -     -
me-dispute          anonymous        401  -     -
me-dispute          operator         401  -     -
me-dispute          provider         401  -     -
me-dispute          relying_party    401  -     -
me-dispute          reviewer         401  -     -
me-dispute          subject          201  -     -
me-dispute-info     anonymous        401  -     -
me-dispute-info     operator         401  -     -
me-dispute-info     provider         401  -     -
me-dispute-info     relying_party    401  -     -
me-dispute-info     reviewer         401  -     -
me-dispute-info     subject          404  -     -
provider-disputes   anonymous        401  -     -
provider-disputes   operator         403  -     -
provider-disputes   provider         200  -     -
provider-disputes   relying_party    403  -     -
provider-disputes   reviewer         403  -     -
provider-disputes   subject          401  -     -
provider-answer     anonymous        401  -     -
provider-answer     operator         403  -     -
provider-answer     provider         404  -     -
provider-answer     relying_party    403  -     -
provider-answer     reviewer         403  -     -
provider-answer     subject          401  -     -
disputes            anonymous        401  -     -
disputes            operator         200  -     -
disputes            provider         403  -     -
disputes            relying_party    403  -     -
disputes            reviewer         200  -     -
disputes            subject          401  -     -
dispute-resolution  anonymous        401  -     -
dispute-resolution  operator         404  -     -
dispute-resolution  provider         403  -     -
dispute-resolution  relying_party    403  -     -
dispute-resolution  reviewer         404  -     -
dispute-resolution  subject          401  -     -
public-key          anonymous        200  -     -
public-key          relying_party    200  -     -
public-key          subject          200  -     -
override-add        anonymous        401  401   401
override-add        operator         201  201   404
override-add        provider         403  403   403
override-add        relying_party    403  403   403
override-add        reviewer         403  403   403
override-add        subject          401  401   401
overrides           anonymous        401  -     -
overrides           operator         200  -     -
overrides           provider         403  -     -
overrides           relying_party    403  -     -
overrides           reviewer         403  -     -
overrides           subject          401  -     -
override-end        anonymous        401  -     -
override-end        operator         404  -     -
override-end        provider         403  -     -
override-end        relying_party    403  -     -
override-end        reviewer         403  -     -
override-end        subject          401  -     -
outbox              anonymous        401  -     -
outbox              operator         200  -     -
outbox              provider         403  -     -
outbox              relying_party    403  -     -
outbox              reviewer         403  -     -
outbox              subject          401  -     -
queue               anonymous        401  -     -
queue               operator         200  -     -
queue               provider         403  -     -
queue               relying_party    403  -     -
queue               reviewer         200  -     -
queue               subject          401  -     -
me-overrides        anonymous        401  -     -
me-overrides        operator         401  -     -
me-overrides        relying_party    401  -     -
me-overrides        subject          200  -     -
me-reviews          anonymous        401  -     -
me-reviews          operator         401  -     -
me-reviews          relying_party    401  -     -
me-reviews          subject          200  -     -
me-review           anonymous        401  -     -
me-review           operator         401  -     -
me-review           relying_party    401  -     -
me-review           subject          404  -     -
resolution          anonymous        401  -     -
resolution          operator         403  -     -
resolution          provider         403  -     -
resolution          relying_party    403  -     -
resolution          reviewer         404  -     -
resolution          subject          401  -     -
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


# --- the web pages -------------------------------------------------------------------------
#
# The pages served beside the API, called as a browser calls them: with cookies, and with the
# page's CSRF token on every POST. subject: alice signed in to the portal; other_subject: bob
# signed in; operator, relying_party, provider, reviewer: that party's console session. The
# console is the operator's; a reviewer sees its overview, the review queue and the policy, no
# other party any of it (403), and a subject's session is never a party's (sent to
# /console/sign-in). The public register needs no session at all.
# No portal URL names a subject: another subject asking gets their own page, alice's
# consent (to corner-shop) is 404 to bob, and her record homes-marketplace:a2 (the API rows
# dispute bank-a:a1) is none of his to dispute. A GET that needs a session redirects (303) to its
# sign-in page; a POST without one is 401; a POST without the CSRF token is 403. Sign-out is
# last: it ends alice's web session.


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    form: dict[str, str] | None = None  # POST: the form, sent with the CSRF token
    csrf: bool = True  # False: send the POST without its CSRF token
    route: str | None = None  # the route's pattern, when the path fills it in

    @property
    def pattern(self) -> str:
        return self.route or self.path.split("?")[0]


PAGES: dict[str, Page] = {
    "home": Page("GET", "/"),
    "sign-in-form": Page("GET", "/sign-in?token=csign_0000000000000000_x"),
    "sign-in": Page("POST", "/sign-in", {"token": "csign_0000000000000000_notatoken"}),
    "sign-in-no-csrf": Page("POST", "/sign-in", {"token": "x"}, csrf=False),
    "language": Page("GET", "/language/zh-Hans?next=/me", route="/language/{code}"),
    "portal": Page("GET", "/me"),
    "portal-records": Page("GET", "/me/records"),
    "portal-disputes": Page("GET", "/me/disputes"),
    "portal-dispute-form": Page("GET", "/me/disputes/new?record=homes-marketplace:a2"),
    "portal-dispute": Page(
        "POST", "/me/disputes", {"record": "homes-marketplace:a2", "statement": "Wrong."}
    ),
    "portal-dispute-more": Page(
        "POST",
        "/me/disputes/dsp_000000000000/information",
        {"text": "More."},
        route="/me/disputes/{dispute_id}/information",
    ),
    "portal-notices": Page("GET", "/me/notices"),
    "portal-consents": Page("GET", "/me/consents"),
    "portal-accesses": Page("GET", "/me/accesses"),
    "portal-decisions": Page("GET", "/me/decisions"),
    "portal-data": Page("GET", "/me/data"),
    "portal-download": Page("GET", "/me/data.json"),
    "portal-receipt": Page(
        "GET",
        "/me/decisions/dec_000000000000/receipt.json",
        route="/me/decisions/{decision_id}/receipt.json",
    ),
    "portal-review": Page(
        "POST",
        "/me/decisions/dec_000000000000/review",
        {},
        route="/me/decisions/{decision_id}/review",
    ),
    "portal-consent": Page("POST", "/me/consents", {"choice": "corner-shop|rentals", "days": "5"}),
    "portal-consent-no-csrf": Page("POST", "/me/consents", {"choice": "x|y"}, csrf=False),
    "portal-revoke": Page(
        "POST",
        "/me/consents/{spare_consent}/revoke",
        {},
        route="/me/consents/{consent_id}/revoke",
    ),
    "console-sign-in-form": Page("GET", "/console/sign-in"),
    "console-sign-in": Page("POST", "/console/sign-in", {"api_key": "cred_0000000000000000_x"}),
    "console-sign-out": Page("POST", "/console/sign-out", {}),
    "register": Page("GET", "/register"),
    "console": Page("GET", "/console"),
    "console-restrictions": Page("GET", "/console/restrictions"),
    "console-parties": Page("GET", "/console/parties"),
    "console-party-add": Page("POST", "/console/parties", {"name": "w-new", "kind": "reviewer"}),
    "console-party-add-no-csrf": Page(
        "POST", "/console/parties", {"name": "w-x", "kind": "reviewer"}, csrf=False
    ),
    "console-key-add": Page(
        "POST", "/console/parties/fair-review/keys", {}, route="/console/parties/{name}/keys"
    ),
    "console-key-revoke": Page(
        "POST", "/console/keys/key_unknown/revoke", {}, route="/console/keys/{key_id}/revoke"
    ),
    "console-policy": Page("GET", "/console/policy"),
    "console-queue": Page("GET", "/console/queue"),
    "console-overrides": Page("GET", "/console/overrides"),
    "console-override-end": Page(
        "POST",
        "/console/overrides/ovr_unknown/end",
        {},
        route="/console/overrides/{override_id}/end",
    ),
    "console-review-resolve": Page(
        "POST",
        "/console/reviews/rev_unknown/resolve",
        {"resolution": "confirmed", "reason": "checked"},
        route="/console/reviews/{review_id}/resolve",
    ),
    "console-resolve": Page(
        "POST",
        "/console/disputes/dsp_unknown/resolve",
        {"outcome": "upheld", "reason": "checked"},
        route="/console/disputes/{dispute_id}/resolve",
    ),
    "sign-out": Page("POST", "/sign-out", {}),
}
WEB_ROLES = (
    "anonymous",
    "subject",
    "other_subject",
    "operator",
    "relying_party",
    "provider",
    "reviewer",
)

# page                    anonymous subject other_subject operator relying_party provider reviewer
WEB_MATRIX = """
home                       200  200  200  200  200  200  200
sign-in-form               200  200  200  200  200  200  200
sign-in                    401  401  401  401  401  401  401
sign-in-no-csrf            403  403  403  403  403  403  403
language                   303  303  303  303  303  303  303
portal                     303  200  200  303  303  303  303
portal-records             303  200  200  303  303  303  303
portal-disputes            303  200  200  303  303  303  303
portal-dispute-form        303  200  404  303  303  303  303
portal-dispute             401  201  422  401  401  401  401
portal-dispute-more        401  404  404  401  401  401  401
portal-notices             303  200  200  303  303  303  303
portal-consents            303  200  200  303  303  303  303
portal-accesses            303  200  200  303  303  303  303
portal-decisions           303  200  200  303  303  303  303
portal-receipt             303  404  404  303  303  303  303
portal-review              401  404  404  401  401  401  401
portal-data                303  200  200  303  303  303  303
portal-download            303  200  200  303  303  303  303
portal-consent             401  201  201  401  401  401  401
portal-consent-no-csrf     403  403  403  403  403  403  403
portal-revoke              401  303  404  401  401  401  401
console-sign-in-form       200  200  200  200  200  200  200
console-sign-in            401  401  401  401  401  401  401
register                   200  200  200  200  200  200  200
console                    303  303  303  200  403  403  200
console-restrictions       303  303  303  200  403  403  403
console-parties            303  303  303  200  403  403  403
console-party-add          401  401  401  303  403  403  403
console-party-add-no-csrf  403  403  403  403  403  403  403
console-key-add            401  401  401  200  403  403  403
console-key-revoke         401  401  401  404  403  403  403
console-policy             303  303  303  200  403  403  200
console-queue              303  303  303  200  403  403  200
console-resolve            401  401  401  404  403  403  404
console-overrides          303  303  303  200  403  403  403
console-override-end       401  401  401  404  403  403  403
console-review-resolve     401  401  401  403  403  403  404
console-sign-out           303  303  303  303  303  303  303
sign-out                   303  303  303  303  303  303  303
"""


def _web_rows() -> list[tuple[str, str, int]]:
    rows = []
    for line in WEB_MATRIX.strip().splitlines():
        page, *statuses = line.split()
        assert page in PAGES, line
        rows += [(page, role, int(s)) for role, s in zip(WEB_ROLES, statuses, strict=True)]
    return rows


WEB_ROWS = _web_rows()


def test_the_web_table_covers_every_page_route() -> None:
    from credence.web import page_routes

    covered = {(p.method, p.pattern) for p in PAGES.values()}
    assert set(page_routes()) == covered
    assert {page for page, *_ in WEB_ROWS} == set(PAGES)


@pytest.mark.parametrize(("page", "role", "expected"), WEB_ROWS)
def test_web_authorization_matrix(server: Server, page: str, role: str, expected: int) -> None:
    call = PAGES[page]
    with httpx2.Client(base_url=server.url, cookies=server.cast.cookies[role]) as browser:
        form = None
        if call.form is not None:
            form = dict(call.form)
            if call.csrf:
                browser.get("/")
                form["csrf_token"] = browser.cookies["credence_csrf"]
        response = browser.request(
            call.method,
            call.path.format(spare_consent=server.cast.spare_consent_id),
            data=form,
            follow_redirects=False,
        )
    assert response.status_code == expected, response.text
    if expected == 303:
        assert response.headers["location"].startswith("/")
    else:  # a page, or an error page, never the API's JSON (the download is the one JSON file)
        kind = "application/json" if page == "portal-download" else "text/html"
        assert response.headers["content-type"].startswith(kind)
