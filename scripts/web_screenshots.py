"""Screenshots of the portal, the console and the register for docs/web.md, from a real server.

Builds the browser tests' demo-like ledger (the consumer policy, the golden
records and a synthetic population) and adds only what gives bob's portal
pages and the review queue something to show: one open dispute of bob's, his
consent to acme-rentals and one decision acme-rentals asked for under it.
Then it starts ``credence serve``, signs bob in to the portal and the operator
in to the console, and writes ``docs/images/web-*.png`` at 1280×800 in
Chromium, reduced to a 256-colour palette when Pillow is installed. Run it
from the repository:

    python scripts/web_screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from credence.service import disputes  # noqa: E402
from credence.service.consents import Scope, grant_consent  # noqa: E402
from credence.service.parties import get_party  # noqa: E402
from credence.service.party_sessions import start_party_session  # noqa: E402
from credence.service.scoring import decide_for_party  # noqa: E402
from credence.service.sessions import authenticate_session  # noqa: E402
from credence.types import SubjectRef  # noqa: E402
from credence.web.auth import CONSOLE_COOKIE, SUBJECT_COOKIE  # noqa: E402
from tests.web.browser import CHROMIUM, VIEWPORT, web_server_at  # noqa: E402

OUT = ROOT / "docs" / "images"
BOB = SubjectRef("custom", "bob")
#: Seen signed in as bob, the subject.
PORTAL = {
    "web-me": "/me",
    "web-me-records": "/me/records",
    "web-me-disputes": "/me/disputes",
    "web-me-notices": "/me/notices",
    "web-me-consents": "/me/consents",
    "web-me-accesses": "/me/accesses",
    "web-me-decisions": "/me/decisions",
}
#: Seen signed in as the operator, or by anyone for the register.
PAGES = {
    "web-console-overview": "/console",
    "web-console-queue": "/console/queue",
    "web-console-restrictions": "/console/restrictions",
    "web-console-overrides": "/console/overrides",
    "web-console-parties": "/console/parties",
    "web-console-policy": "/console/policy",
    "web-register": "/register",
}


def _shrink(path: Path) -> None:
    try:
        from PIL import Image
    except ImportError:  # the screenshot stays as Chromium wrote it
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def main() -> int:
    """Write every screenshot; returns the process status."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="credence-shots-") as tmp,
        web_server_at(Path(tmp)) as server,
    ):
        with server.ledger() as ledger:
            session = disputes.acting_for(ledger, BOB)
            first = next(
                r for r in ledger.store.records(session.subject_key) if r.provider_event_id == "b20"
            )
            disputes.file_dispute(
                ledger,
                session,
                disputes.format_record_id(first.provider, first.provider_event_id),
                "This loan was repaid in full; the bank's letter is attached.",
            )
            console, _ = start_party_session(ledger, api_key=server.tokens["operator"])
        subject = server.session_token("custom:bob")
        with server.ledger() as ledger:
            grant_consent(
                ledger,
                authenticate_session(ledger, subject),
                party_name="acme-rentals",
                context="rentals",
                scope=Scope.DECISION_AND_SCORE,
            )
            decide_for_party(ledger, get_party(ledger, "acme-rentals"), BOB, "deposit_free_rental")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM))
            for cookie, pages in ((SUBJECT_COOKIE, PORTAL), (CONSOLE_COOKIE, PAGES)):
                token = subject if cookie == SUBJECT_COOKIE else console
                context = browser.new_context(
                    base_url=server.url,
                    viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
                    locale="en-GB",
                )
                context.add_cookies([{"name": cookie, "value": token, "url": server.url}])
                page = context.new_page()
                for name, path in pages.items():
                    response = page.goto(path)
                    if response is None or not response.ok or page.url != server.url + path:
                        raise SystemExit(f"{path} did not open signed in (now at {page.url})")
                    target = OUT / f"{name}.png"
                    page.screenshot(path=str(target))
                    _shrink(target)
                    print(f"{target.relative_to(ROOT)}  {target.stat().st_size // 1024} KiB")
                context.close()
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
