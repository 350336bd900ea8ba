"""Browser-test helpers: a real ``credence serve`` for Chromium, axe-core, keyboard reach.

The browser is Debian's Chromium at ``/usr/bin/chromium`` driven by Playwright;
Playwright never downloads a browser of its own. ``assert_accessible`` injects
the vendored axe-core (``vendor/axe.min.js``, never served by the app) and
fails on any violation of impact ``serious`` or ``critical``, listing each.
``assert_keyboard_reaches_everything`` presses Tab through a page and checks
that every link, button and form control takes the focus, in document order.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from credence.service.ingest import ingest_files
from credence.service.ledger import open_ledger
from credence.service.setup import init_ledger
from credence.settings import Settings, load_settings
from credence.sim.population import population
from credence.types import DAY_US, SubjectRef
from tests.api.conftest import Cast, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
POLICY = ROOT / "examples" / "policies" / "consumer-trust.yaml"
GOLDEN = ROOT / "tests" / "data" / "golden-consumer.jsonl"
BLOCKING = ("serious", "critical")
VIEWPORT = {"width": 1280, "height": 800}
SYNTHETIC_SUBJECTS = 120  # enough for some tiers to reach the register's 10-subject threshold


def chromium_or_skip() -> Path:
    """The Chromium the tests drive; skips without it, but under CI=true its absence fails."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"under CI=true a missing browser is a failure: {message}")
    pytest.skip(message)


# --- the server --------------------------------------------------------------------------


@dataclass
class WebServer:
    """A ``credence serve`` over a demo-like ledger, the parties' keys and a way to sign in."""

    url: str
    settings: Settings
    tokens: dict[str, str]  # role -> API key: operator, reviewer, provider, relying_party
    subjects: tuple[str, ...] = ("custom:alice", "custom:bob")
    notes: dict[str, Any] = field(default_factory=dict)

    def sign_in_token(self, subject: str = "custom:alice") -> str:
        """A fresh single-use sign-in token for ``subject``, as the operator issues it."""
        from credence.service.sessions import issue_sign_in_token

        scheme, _, ident = subject.partition(":")
        with open_ledger(self.settings) as ledger:
            return issue_sign_in_token(ledger, SubjectRef(scheme, ident)).token

    def session_token(self, subject: str = "custom:alice") -> str:
        """A subject session token, for a cookie when a test need not sign in through the form."""
        from credence.service.sessions import start_session

        with open_ledger(self.settings) as ledger:
            token, _ = start_session(ledger, self.sign_in_token(subject))
        return token

    def ledger(self) -> Any:
        """The ledger, opened beside the running server (SQLite allows both)."""
        return open_ledger(self.settings)


def build_demo_ledger(folder: Path) -> Settings:
    """The consumer policy over the golden records (alice, bob, ...) and a synthetic population."""
    settings = load_settings({}, db=str(folder / "ledger.db"), key_file=str(folder / "ledger.key"))
    init_ledger(settings, POLICY)
    golden = folder / "golden.jsonl"
    shutil.copy(GOLDEN, golden)
    synthetic = folder / "synthetic.jsonl"
    with open_ledger(settings) as ledger:
        today = ledger.clock.now() // DAY_US * DAY_US
        with synthetic.open("w", encoding="utf-8") as out:
            for row in population(subjects=SYNTHETIC_SUBJECTS, seed=7, until=today - DAY_US):
                out.write(json.dumps(row) + "\n")
        ingest_files(ledger, [golden, synthetic])
    return settings


def register_parties(settings: Settings) -> dict[str, str]:
    """The operator, a reviewer, a provider and a relying party, each with an API key."""
    from credence.service.parties import PartyKind, add_party, create_key

    with open_ledger(settings) as ledger:
        add_party(ledger, "ops", kind=PartyKind.OPERATOR)
        add_party(ledger, "fair-review", kind=PartyKind.REVIEWER)
        add_party(ledger, "bank-a", kind=PartyKind.PROVIDER)
        add_party(
            ledger, "acme-rentals", kind=PartyKind.RELYING_PARTY, contexts=("rentals", "lending")
        )
        return {
            "operator": create_key(ledger, "ops").token,
            "reviewer": create_key(ledger, "fair-review").token,
            "provider": create_key(ledger, "bank-a").token,
            "relying_party": create_key(ledger, "acme-rentals").token,
        }


@contextmanager
def web_server_at(folder: Path) -> Iterator[WebServer]:
    """Build the ledger in ``folder``, start ``credence serve`` on a free port, stop it after."""
    settings = build_demo_ledger(folder)
    tokens = register_parties(settings)
    with running_server(settings, folder, Cast(tokens=tokens)) as server:
        yield WebServer(server.url, settings, tokens)


# --- what a page did ---------------------------------------------------------------------


@dataclass
class PageWatch:
    """What a page asked for beyond its own origin, and the script errors it raised."""

    origin: str
    offsite: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def request(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.offsite.append(url)

    def console(self, kind: str, text: str) -> None:
        # A CSP refusal is reported only on the console: treat it as an error of the page.
        if kind == "error" and "Content Security Policy" in text:
            self.errors.append(text)


def watch(page: Page, origin: str) -> PageWatch:
    """Start recording the page's off-origin requests, script errors and CSP refusals."""
    seen = PageWatch(origin)
    page.on("request", lambda r: seen.request(r.url))
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("console", lambda m: seen.console(m.type, m.text))
    return seen


# --- accessibility -----------------------------------------------------------------------


@cache
def _axe_source() -> str:
    return "(() => {" + AXE.read_text(encoding="utf-8") + "\n})()"


def axe_violations(page: Page, *, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """The axe-core violations on the page now whose impact is one of ``impacts``."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the debugging protocol, which the page's CSP does not govern:
        # a <script> tag would be refused, as it should be.
        page.evaluate(_axe_source())
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v.get("impact") in impacts]


def describe_violations(found: list[dict[str, Any]]) -> str:
    """One line per violation and one per offending element."""
    lines = []
    for v in found:
        lines.append(f"{v['impact']}: {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:10]:
            lines.append(f"    at {' '.join(node['target'])}: {node['html'][:160]}")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """Fail on any serious or critical axe-core violation on the page, listing them all."""
    found = axe_violations(page)
    assert not found, f"{page.url}: {len(found)} serious or critical violations\n" + (
        describe_violations(found)
    )


# --- keyboard ----------------------------------------------------------------------------

# Marks every control a keyboard user must reach, in document order, and returns how many.
_MARK_CONTROLS = """
() => {
  const selector = 'a[href], button, input, select, textarea, summary, [tabindex]';
  const radios = new Set();
  let n = 0;
  for (const el of document.querySelectorAll(selector)) {
    delete el.dataset.probe;
    if (el.disabled || (el.type === 'hidden') || el.closest('[inert]')) continue;
    if (!el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
    if (el.type === 'radio') {  // a radio group is one tab stop
      if (radios.has(el.name)) continue;
      radios.add(el.name);
    }
    if (el.hasAttribute('tabindex') && el.tabIndex < 0 && !el.matches('a[href], button, input, select, textarea, summary')) continue;
    el.dataset.probe = String(n++);
  }
  return n;
}
"""

_DESCRIBE = """
(probe) => {
  const el = document.querySelector(`[data-probe="${probe}"]`);
  const text = (el.getAttribute('aria-label') || el.innerText || el.value || el.name || '').trim();
  return `${el.tagName.toLowerCase()} ${JSON.stringify(text.slice(0, 40))}`;
}
"""


def focus_order(page: Page, *, presses: int) -> list[str]:
    """The probes of the elements Tab visits from the top of the page, in order, once round."""
    page.evaluate(
        """() => {
          document.activeElement && document.activeElement.blur();
          window.scrollTo(0, 0);
          window.__focusLog = [];
          document.addEventListener('focusin',
            (e) => window.__focusLog.push(e.target.dataset.probe ?? '?'));
        }"""
    )
    for _ in range(presses):
        page.keyboard.press("Tab")
    log: list[str] = page.evaluate("() => window.__focusLog")
    visited: list[str] = []
    for probe in log:
        if visited and probe == visited[0]:
            break  # round the page once: back at the first control
        visited.append(probe)
    return visited


def assert_keyboard_reaches_everything(page: Page) -> int:
    """Tab through the page: every control is reached, in document order; returns how many."""
    count: int = page.evaluate(_MARK_CONTROLS)
    expected = [str(i) for i in range(count)]
    visited = focus_order(page, presses=count + 3)
    if visited != expected:
        missing = [page.evaluate(_DESCRIBE, p) for p in expected if p not in visited]
        raise AssertionError(
            f"{page.url}: Tab visits {visited} but the page has controls {expected}"
            + (f"; never reached: {missing}" if missing else "; out of document order")
        )
    return count
