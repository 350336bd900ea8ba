"""The documentation is part of the product: it is checked against the code."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from credence import errors
from credence.cli import app
from credence.policy import parse_policy
from credence.settings import Settings

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"


def code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_opens_with_what_it_is_and_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first, second = code_blocks(readme, "sh")[:2]
    assert readme.startswith("# Credence\n\nAccountable trust scoring")
    assert first.strip().endswith("pip install '.[web]' && credence demo")
    assert second.strip().endswith("pip install '.[test]' && pytest")


def test_every_setting_is_documented():
    text = (DOCS / "settings.md").read_text()
    for name in Settings.model_fields:
        assert f"`CREDENCE_{name.upper()}`" in text, name


def test_the_documented_worker_threshold_is_the_one_in_the_code():
    from credence.service.ingest import WORKER_AFTER_ROWS

    rows = f"{WORKER_AFTER_ROWS:,} rows"
    for doc in ("settings.md", "records.md"):
        assert rows in " ".join((DOCS / doc).read_text().split()), doc
    assert rows in (Settings.model_fields["ingest_worker"].description or "")


def test_every_error_code_is_documented():
    text = (DOCS / "errors.md").read_text()
    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.CredenceError)
        and cls is not errors.CredenceError
    }
    # finer codes given to one raise, e.g. StoreError(..., code="ledger.tampered")
    package = Path(errors.__file__).parent
    for source in package.rglob("*.py"):
        codes |= set(re.findall(r'\bcode="([a-z_]+\.[a-z_]+)"', source.read_text()))
    missing = [code for code in sorted(codes) if f"`{code}`" not in text]
    assert missing == []


def test_the_error_tree_in_the_docstring_names_every_error():
    doc = errors.__doc__ or ""
    for name, cls in vars(errors).items():
        if isinstance(cls, type) and issubclass(cls, errors.CredenceError):
            assert name in doc, name


def test_every_command_is_documented_and_has_help():
    text = (DOCS / "cli.md").read_text()
    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert f"`credence {name}" in text, name
        assert command.help, name


def test_the_policy_example_in_the_docs_loads():
    [example] = code_blocks((DOCS / "policy.md").read_text(), "yaml")
    assert parse_policy(example).policy.name == "consumer-trust"
