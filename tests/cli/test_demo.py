"""The README's first command: `credence demo`, exactly as a new user runs it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CREDENCE = shutil.which("credence")
pytestmark = pytest.mark.skipif(CREDENCE is None, reason="the credence command is not installed")


def demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CREDENCE or "credence", "demo", "--no-serve", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_demo_builds_a_labelled_synthetic_ledger_and_explains_three_subjects(tmp_path: Path):
    proc = demo(tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    built = re.search(r"(\d+) SYNTHETIC subjects, (\d+) SYNTHETIC records", out)
    assert built and int(built.group(1)) >= 1000 and int(built.group(2)) >= 50_000
    counts = dict(re.findall(r"^  (excellent|good|fair|poor)\s+(\d+)", out, flags=re.M))
    assert set(counts) == {"excellent", "good", "fair", "poor"}
    assert sum(map(int, counts.values())) == int(built.group(1))
    assert out.count("--- Example:") == 3 and "What would change it:" in out
    assert (tmp_path / "credence-demo.db").exists()
    assert_the_links_open_the_pages(tmp_path, out)
    # running it again replaces the demo ledger with the same population
    again = demo(tmp_path)
    assert (
        again.returncode == 0
        and re.search(r"\d+ SYNTHETIC records", again.stdout).group(0)
        == built.group(0).split(", ")[1]
    )


def test_demo_never_overwrites_a_file_that_is_not_a_demo_ledger(tmp_path: Path):
    precious = tmp_path / "credence-demo.db"
    precious.write_text("my data")
    proc = demo(tmp_path)
    assert proc.returncode != 0 and proc.stderr.startswith("error[usage.invalid]")
    assert precious.read_text() == "my data"


def assert_the_links_open_the_pages(folder: Path, out: str) -> None:
    """The printed sign-in links open the demo subject's pages and the operator's session."""
    from fastapi.testclient import TestClient

    from credence.api import create_app
    from credence.service.ledger import open_ledger
    from credence.service.party_sessions import authenticate_party_session
    from credence.settings import load_settings

    subject = re.search(r"/sign-in\?token=(csign_\S+)", out)
    operator = re.search(r"/console/sign-in\?token=(\S+)", out)
    assert subject and operator, out
    assert re.search(r"acme-rentals \(relying party\), bank-a \(provider\)", out)
    assert "demo-reviewer (reviewer)" in out and "operator (operator)" in out
    settings = load_settings({}, db=str(folder / "credence-demo.db"))
    with open_ledger(settings) as ledger, TestClient(create_app(ledger)) as browser:
        csrf = browser.get("/").cookies["credence_csrf"]
        signed = browser.post(
            "/sign-in",
            data={"token": subject.group(1), "csrf_token": csrf},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        assert "acme-rentals" in browser.get("/me/consents").text
        assert "rental_suspension" in browser.get("/me/notices").text
        assert browser.get("/me/decisions").text.count("<tr id=") == 2
        assert "acme-rentals" in browser.get("/me/accesses").text
        disputes = browser.get("/me/disputes").text
        assert "days left" in disputes and "Add information" in disputes
        console = browser.post(
            "/console/sign-in",
            data={"token": operator.group(1), "csrf_token": csrf},
            follow_redirects=False,
        )
        assert console.status_code == 303
        session = authenticate_party_session(ledger, browser.cookies["credence_console"])
        assert session.party.name == "operator"
