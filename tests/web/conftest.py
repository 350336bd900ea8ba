"""Web page fixtures: a golden ledger per backend, with parties, and a browser-like client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from credence.api import create_app
from credence.service.ledger import Ledger, open_ledger
from credence.service.parties import PartyKind, add_party, create_key
from credence.service.sessions import issue_sign_in_token
from credence.types import SubjectRef
from tests.api.conftest import backend_settings

ALICE = SubjectRef("custom", "alice")
BOB = SubjectRef("custom", "bob")


@dataclass(frozen=True)
class Site:
    """The open ledger behind the pages, and the API keys of its parties."""

    ledger: Ledger
    keys: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """One golden ledger per backend with an operator, a provider, a relying party and a reviewer."""
    with ExitStack() as stack:
        settings = stack.enter_context(
            backend_settings(request.param, tmp_path_factory.mktemp("web"), request)
        )
        ledger = stack.enter_context(open_ledger(settings))
        add_party(ledger, "ops", kind=PartyKind.OPERATOR)
        add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
        add_party(ledger, "acme-rentals", kind=PartyKind.RELYING_PARTY, contexts=("rentals",))
        add_party(ledger, "fair-review", kind=PartyKind.REVIEWER)
        keys = {
            name: create_key(ledger, name).token for name in ("ops", "acme-rentals", "fair-review")
        }
        yield Site(ledger, keys)


@pytest.fixture
def browser(site: Site) -> Iterator[TestClient]:
    """A fresh browser: its own cookies, no session."""
    with TestClient(create_app(site.ledger), raise_server_exceptions=False) as client:
        yield client


def csrf(client: TestClient) -> str:
    """The browser's CSRF token, fetching a page first if it has none yet."""
    if "credence_csrf" not in client.cookies:
        assert client.get("/").status_code == 200
    return client.cookies["credence_csrf"]


def sign_in(client: TestClient, ledger: Ledger, ref: SubjectRef) -> None:
    """Sign a subject in through the pages, as the sign-in link does."""
    token = issue_sign_in_token(ledger, ref).token
    form = client.get(f"/sign-in?token={token}")
    assert form.status_code == 200 and token in form.text
    answer = client.post(
        "/sign-in", data={"token": token, "csrf_token": csrf(client)}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/me", answer.text
