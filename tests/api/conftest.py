"""HTTP API fixtures: a golden ledger per backend, an in-process client, a real server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from credence.api import create_app
from credence.service.ingest import ingest_files
from credence.service.ledger import Ledger, open_ledger
from credence.service.setup import init_ledger
from credence.settings import Settings, load_settings
from tests.conftest import new_postgres_database

ROOT = Path(__file__).parents[2]
POLICY = ROOT / "examples" / "policies" / "consumer-trust.yaml"
GOLDEN = ROOT / "tests" / "data" / "golden-consumer.jsonl"


def build_ledger(db: str, folder: Path) -> Settings:
    """A ledger at ``db`` with the consumer policy and the golden records; its settings."""
    settings = load_settings({}, db=db, key_file=str(folder / "ledger.key"))
    init_ledger(settings, POLICY)
    data = folder / "golden.jsonl"
    shutil.copy(GOLDEN, data)
    with open_ledger(settings) as ledger:
        ingest_files(ledger, [data])
    return settings


@contextmanager
def backend_settings(kind: str, folder: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings of a fresh golden ledger on ``kind`` (sqlite or postgres)."""
    if kind == "sqlite":
        yield build_ledger(str(folder / "ledger.db"), folder)
        return
    with new_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield build_ledger(url, folder)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ledger]:
    """One open golden ledger per backend, shared by a module's tests."""
    with ExitStack() as stack:
        settings = stack.enter_context(
            backend_settings(request.param, tmp_path_factory.mktemp("api"), request)
        )
        yield stack.enter_context(open_ledger(settings))


@pytest.fixture(scope="module")
def client(served: Ledger) -> Iterator[TestClient]:
    """An in-process client of the app over the module's ledger."""
    with TestClient(create_app(served), raise_server_exceptions=False) as c:
        yield c


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    """A ``credence serve`` process: where it answers, and its settings."""

    url: str
    settings: Settings
    process: subprocess.Popen[bytes]
    cast: Cast


@contextmanager
def running_server(
    settings: Settings, folder: Path, cast: Cast, *, workers: int = 1
) -> Iterator[Server]:
    """Start ``credence serve`` on a free port and wait until ``/v1/ready`` answers 200."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDENCE_")}
    env["CREDENCE_KEY_FILE"] = str(settings.resolved_key_file())
    log = (folder / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        [
            shutil.which("credence") or "credence",
            "serve",
            "--db",
            settings.db,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.flush()
                raise AssertionError(
                    f"credence serve exited {process.returncode}: "
                    + (folder / f"serve-{port}.log").read_text()
                )
            try:
                if httpx2.get(url + "/v1/ready", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("credence serve did not become ready in 30 s")
            time.sleep(0.1)
        yield Server(url, settings, process, cast)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A real ``credence serve`` over a golden ledger per backend, for a module's tests."""
    folder = tmp_path_factory.mktemp("serve")
    with backend_settings(request.param, folder, request) as settings:
        with open_ledger(settings) as ledger:
            cast = make_cast(ledger)
        with running_server(settings, folder, cast) as s:
            yield s


@dataclass(frozen=True)
class Cast:
    """Who calls in the API tests: a token per role, and the subjects they ask about.

    ``acme-rentals`` (a relying party in rentals and lending) holds alice's
    consent for rentals with ``decision+score``; bob gave it none; nobody is
    no subject at all. ``alice`` is alice's own session token.
    """

    tokens: dict[str, str]
    own: str = "custom:alice"
    other: str = "custom:bob"
    unknown: str = "custom:nobody"
    consent_id: str = ""
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)  # web role -> cookies
    spare_consent_id: str = ""

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens.get(role)
        return {} if token is None else {"Authorization": f"Bearer {token}"}


ROLES = ("anonymous", "operator", "provider", "relying_party", "reviewer", "subject")


def make_cast(ledger: Ledger) -> Cast:
    """Register the parties, issue their keys, sign alice in, and give acme her consent."""
    from credence.service.consents import Scope, grant_consent
    from credence.service.parties import PartyKind, add_party, create_key
    from credence.service.sessions import authenticate_session, issue_sign_in_token, start_session
    from credence.types import SubjectRef

    add_party(ledger, "ops", kind=PartyKind.OPERATOR)
    add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
    add_party(ledger, "acme-rentals", kind=PartyKind.RELYING_PARTY, contexts=("rentals", "lending"))
    add_party(ledger, "fair-review", kind=PartyKind.REVIEWER)
    tokens = {
        "operator": create_key(ledger, "ops").token,
        "provider": create_key(ledger, "bank-a").token,
        "relying_party": create_key(ledger, "acme-rentals").token,
        "reviewer": create_key(ledger, "fair-review").token,
    }
    sign_in = issue_sign_in_token(ledger, SubjectRef("custom", "alice"))
    session_token, _ = start_session(ledger, sign_in.token)
    tokens["subject"] = session_token
    receipt = grant_consent(
        ledger,
        authenticate_session(ledger, session_token),
        party_name="acme-rentals",
        context="rentals",
        scope=Scope.DECISION_AND_SCORE,
    )
    # The web pages' callers: browser cookies of alice, bob and two parties' console sessions,
    # and alice's consent to corner-shop, which a page may revoke without touching acme's.
    from credence.service.party_sessions import start_party_session

    cookies: dict[str, dict[str, str]] = {"anonymous": {}}
    for role, who in (("subject", "alice"), ("other_subject", "bob")):
        web_token, _ = start_session(
            ledger, issue_sign_in_token(ledger, SubjectRef("custom", who)).token
        )
        cookies[role] = {"credence_session": web_token}
    for role in ("operator", "relying_party", "provider", "reviewer"):
        console, _ = start_party_session(ledger, api_key=tokens[role])
        cookies[role] = {"credence_console": console}
    add_party(ledger, "corner-shop", kind=PartyKind.RELYING_PARTY, contexts=("rentals",))
    spare = grant_consent(
        ledger,
        authenticate_session(ledger, cookies["subject"]["credence_session"]),
        party_name="corner-shop",
        context="rentals",
    )
    return Cast(
        tokens=tokens,
        consent_id=receipt.consent.id,
        cookies=cookies,
        spare_consent_id=spare.consent.id,
    )


@pytest.fixture(scope="module")
def cast(served: Ledger) -> Cast:
    """The callers of the module's in-process ledger."""
    return make_cast(served)
