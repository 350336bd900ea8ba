"""Screenshots of the console and the register for docs/web.md, from a real server in Chromium.

Builds the browser tests' demo-like ledger (the consumer policy, the golden
records and a synthetic population), files and decides nothing of its own
beyond one open dispute so the review queue has an item, starts
``credence serve``, and writes ``docs/images/web-*.png`` at 1280×800, reduced
to a 256-colour palette when Pillow is installed. Run it from the repository:

    python scripts/web_screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from credence.service import disputes  # noqa: E402
from credence.service.party_sessions import start_party_session  # noqa: E402
from credence.types import SubjectRef  # noqa: E402
from credence.web.auth import CONSOLE_COOKIE  # noqa: E402
from tests.web.browser import CHROMIUM, VIEWPORT, web_server_at  # noqa: E402

OUT = ROOT / "docs" / "images"
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
            session = disputes.acting_for(ledger, SubjectRef("custom", "bob"))
            first = next(
                r for r in ledger.store.records(session.subject_key) if r.provider_event_id == "b20"
            )
            disputes.file_dispute(
                ledger,
                session,
                disputes.record_id(first.provider, first.provider_event_id),
                "This loan was repaid in full; the bank's letter is attached.",
            )
            console, _ = start_party_session(ledger, api_key=server.tokens["operator"])
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM))
            context = browser.new_context(
                base_url=server.url,
                viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
                locale="en-GB",
            )
            context.add_cookies([{"name": CONSOLE_COOKIE, "value": console, "url": server.url}])
            page = context.new_page()
            for name, path in PAGES.items():
                page.goto(path)
                target = OUT / f"{name}.png"
                page.screenshot(path=str(target))
                _shrink(target)
                print(f"{target.relative_to(ROOT)}  {target.stat().st_size // 1024} KiB")
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
