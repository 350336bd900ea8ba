"""Which language a page speaks: English or Simplified Chinese, from Babel catalogs.

The catalogs are the ``.po`` files under ``locales/`` (English is the source
language and needs none). They are compiled in memory the first time a page
needs them, so a fresh install has them with nothing built at install time.
The language is the ``credence_lang`` cookie when the reader chose one with the
switch on every page, else the best match of ``Accept-Language``, else English.
Policy texts (rule reasons, labels) are shown as the policy wrote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
COOKIE = "credence_lang"


@dataclass(frozen=True, slots=True)
class Language:
    """A language the pages are written in."""

    code: str  # in URLs and the cookie
    babel: str  # the catalog's directory under locales/
    html: str  # the BCP 47 tag for <html lang>
    name: str  # in its own language, for the switch


LANGUAGES = (
    Language("en", "en", "en", "English"),
    Language("zh-Hans", "zh_Hans", "zh-Hans", "简体中文"),
)
DEFAULT = LANGUAGES[0]
_BY_CODE = {lang.code.lower(): lang for lang in LANGUAGES}
_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$"
)
# Chinese as written in Taiwan, Hong Kong and Macau is Traditional: not offered as Simplified.
_TRADITIONAL = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")


def by_code(code: str | None) -> Language | None:
    """The language of a switch code or cookie value, if it names one."""
    return _BY_CODE.get((code or "").strip().lower())


def _match(tag: str) -> Language | None:
    tag = tag.lower()
    if tag == "en" or tag.startswith("en-"):
        return LANGUAGES[0]
    if tag == "zh" or tag.startswith("zh-"):
        return None if tag.startswith(_TRADITIONAL) else LANGUAGES[1]
    return None


def negotiate(accept_language: str | None) -> Language:
    """The best language for an ``Accept-Language`` header (RFC 9110 §12.5.4); English if none fits."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:50]):
        found = _RANGE.match(part)
        if found is None:
            continue
        try:
            q = float(found.group(2)) if found.group(2) is not None else 1.0
        except ValueError:
            continue
        if q > 0:
            ranked.append((-q, index, found.group(1)))
    for _q, _i, tag in sorted(ranked):
        lang = DEFAULT if tag == "*" else _match(tag)
        if lang is not None:
            return lang
    return DEFAULT


def choose(*, cookie: str | None, accept_language: str | None) -> Language:
    """The reader's choice if it names a language, else what the browser asks for."""
    return by_code(cookie) or negotiate(accept_language)


def catalog_path(lang: Language) -> Path:
    """Where a language's ``.po`` catalog is kept."""
    return LOCALES_DIR / lang.babel / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: Language) -> NullTranslations:
    """The compiled catalog of a language (English: the messages as written)."""
    path = catalog_path(lang)
    if lang is DEFAULT or not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang.babel, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)
