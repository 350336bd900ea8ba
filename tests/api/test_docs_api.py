"""docs/api.md documents every endpoint the app serves, and the error shape."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from credence.api import create_app
from credence.settings import load_settings

DOC = Path(__file__).parents[2] / "docs" / "api.md"


def test_every_endpoint_has_a_section_with_an_example() -> None:
    ledger: Any = SimpleNamespace(settings=load_settings({}))  # the schema reads no ledger
    spec = create_app(ledger).openapi()
    text = DOC.read_text()
    documented = {
        (method, path.split("?")[0])
        for method, path in re.findall(r"^#### `([A-Z]+) (\S+)`$", text, flags=re.M)
    }
    served = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert documented == served
    sections = re.split(r"^#### ", text, flags=re.M)[1:]
    assert all("```http" in s and "Answer `" in s for s in sections)


def test_the_error_shape_is_documented() -> None:
    text = DOC.read_text()
    assert '{"error": {"code": "consent.missing"' in text
