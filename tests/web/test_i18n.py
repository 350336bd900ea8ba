"""Two languages: every message translated, chosen by Accept-Language, switched and remembered."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from credence.web import i18n
from tests.web.conftest import ALICE, Site, sign_in

WEB = Path(i18n.__file__).parent
ZH = i18n.LANGUAGES[1]


def _extracted() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "True"}}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), method_map, options_map=options
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_of_the_pages_has_a_chinese_translation() -> None:
    with i18n.catalog_path(ZH).open("rb") as handle:
        catalog = read_po(handle)
    translated = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        translated[key] = all(strings) and not message.fuzzy
    extracted = _extracted()
    assert len(extracted) > 100
    assert sorted(m for m in extracted if not translated.get(m)) == []
    # and the catalog's placeholders are the source's
    for message in catalog:
        if message.id and not isinstance(message.id, tuple):
            assert message.python_format == ("%(" in message.string or "%s" in message.string)


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
        ("zh-Hans", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("en-GB,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR, de;q=0.9, zh-SG;q=0.5", "zh-Hans"),
        ("zh-TW", "en"),  # Traditional Chinese is not offered as Simplified
        ("zh-Hant-HK, zh-CN;q=0.3", "zh-Hans"),
        ("en;q=0.2, zh;q=0.8", "zh-Hans"),
        ("zh;q=0, en", "en"),
        ("*", "en"),
        ("garbage;;q=x, ,", "en"),
    ],
)
def test_accept_language_picks_the_page_language(header: str | None, code: str) -> None:
    assert i18n.negotiate(header).code == code


def test_a_chinese_browser_gets_chinese_pages(browser: TestClient, site: Site) -> None:
    browser.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
    sign_in(browser, site.ledger, ALICE)
    page = browser.get("/me")
    assert '<html lang="zh-Hans">' in page.text
    assert page.headers["content-language"] == "zh-Hans"
    assert "跳到主要内容" in page.text and "您的分数" in page.text
    reasons = {r.reason for r in site.ledger.policy.policy.rules if r.reason}
    assert any(reason in page.text for reason in reasons)  # policy texts stay as written


def test_the_switch_is_remembered_over_accept_language(browser: TestClient) -> None:
    browser.headers["Accept-Language"] = "en-US"
    page = browser.get("/sign-in").text
    assert '<html lang="en">' in page and 'href="/language/zh-Hans?next=/sign-in"' in page
    switched = browser.get("/language/zh-Hans?next=/sign-in", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/sign-in"
    assert "credence_lang=zh-Hans" in switched.headers["set-cookie"]
    assert '<html lang="zh-Hans">' in browser.get("/sign-in").text
    browser.get("/language/en?next=/")
    assert '<html lang="en">' in browser.get("/sign-in").text


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_the_switch_goes_back_only_to_a_page_of_this_site(browser: TestClient, target: str) -> None:
    answer = browser.get("/language/en", params={"next": target}, follow_redirects=False)
    assert answer.headers["location"] == "/"


def test_an_unknown_language_changes_nothing(browser: TestClient) -> None:
    answer = browser.get("/language/xx?next=/", follow_redirects=False)
    assert answer.status_code == 303
    assert "credence_lang" not in answer.headers.get("set-cookie", "")
