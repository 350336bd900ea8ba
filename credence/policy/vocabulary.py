"""The maintained vocabulary of protected categories, and whole-token matching against it.

The terms live in ``data/protected-terms.yaml`` (package data), grouped by
category, each citing its law. Matching works on whole tokens and their
common inflections, never on substrings, so ``rent`` never matches
``parent`` and ``third_party_payment`` is not political; Chinese terms are
matched as substrings because Chinese text has no spaces between words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from credence.errors import PolicyError

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_SMALL_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "for",
        "on",
        "in",
        "at",
        "with",
        "by",
        "from",
        "and",
        "or",
        "my",
        "their",
        "his",
        "her",
        "its",
    ]
)
_MIN_STEM = 3


def tokens(text: str) -> list[str]:
    """Lower-case word tokens of an id or text: split on ``. _ -``, spaces, punctuation, camelCase."""
    return [t for t in _NON_WORD.split(_CAMEL.sub(" ", text).lower()) if t]


def forms(token: str) -> frozenset[str]:
    """The token and the base forms it may be an inflection of (plural, past, -ing, -er)."""
    out = {token}
    for suffix, replacements in (
        ("ies", ("y",)),
        ("ied", ("y",)),
        ("es", ("",)),
        ("s", ("",)),
        ("ed", ("", "e")),
        ("ing", ("", "e")),
        ("ers", ("", "e")),
        ("er", ("", "e")),
    ):
        if not token.endswith(suffix):
            continue
        stem = token[: -len(suffix)]
        if len(stem) < _MIN_STEM:
            continue
        out.update(stem + r for r in replacements)
        if suffix in ("ed", "ing", "er", "ers") and len(stem) > _MIN_STEM and stem[-1] == stem[-2]:
            out.add(stem[:-1])  # petted -> pet, shopping -> shop
    return frozenset(out)


Phrase = tuple[frozenset[str], ...]


@dataclass(frozen=True)
class Category:
    """One protected category: its terms, the lint code and severity it raises, and its law."""

    name: str
    label: str
    code: str
    severity: str
    law: str
    terms: frozenset[str]
    phrases: tuple[Phrase, ...]
    chinese: tuple[str, ...]
    event_types_only: bool = False


@dataclass(frozen=True)
class Match:
    """A category found in a text, with the words that matched as they were written."""

    category: Category
    words: str


class Vocabulary:
    """All categories, searchable in ids and free text."""

    def __init__(self, categories: tuple[Category, ...], *, neutral: tuple[Phrase, ...] = ()):
        self.categories = categories
        self.neutral = neutral

    def find(self, text: str, *, event_type: bool = False) -> list[Match]:
        """One match per category concerned by ``text``, in vocabulary order.

        Categories limited to event types (surveillance inputs) are searched
        only when ``event_type`` is true.
        """
        # camelCase is split for ids (protestAttendance) and kept whole for
        # brand names written that way (WeChat, TikTok); either may match.
        splits = [self._words(tokens(text)), self._words(_NON_WORD.split(text.lower()))]
        chinese = text if _CJK.search(text) else ""
        found: list[Match] = []
        for category in self.categories:
            if category.event_types_only and not event_type:
                continue
            hit = next(
                (h for words in splits if (h := _find_in(category, words, chinese)) is not None),
                None,
            )
            if hit is not None:
                found.append(Match(category, hit))
        return found

    def _words(self, raw: list[str]) -> list[tuple[str, frozenset[str]]]:
        """Tokens with their forms; small words dropped, neutral phrases blanked out."""
        words = [(t, forms(t)) for t in raw if t and t not in _SMALL_WORDS]
        for phrase in self.neutral:
            for start in _phrase_starts(phrase, words):
                for i in range(start, start + len(phrase)):
                    words[i] = (words[i][0], frozenset())
        return words


def _phrase_starts(phrase: Phrase, words: list[tuple[str, frozenset[str]]]) -> list[int]:
    size = len(phrase)
    return [
        start
        for start in range(len(words) - size + 1)
        if all(words[start + i][1] & phrase[i] for i in range(size))
    ]


def _find_in(category: Category, words: list[tuple[str, frozenset[str]]], text: str) -> str | None:
    for word, options in words:
        if options & category.terms:
            return word
    for phrase in category.phrases:
        for start in _phrase_starts(phrase, words):
            return " ".join(w for w, _ in words[start : start + len(phrase)])
    return next((term for term in category.chinese if term in text), None)


def load_vocabulary(text: str) -> Vocabulary:
    """Build a vocabulary from the YAML text of a terms file.

    Raises:
        PolicyError: when the file does not have the documented shape.
    """
    try:
        data = yaml.safe_load(text)
        categories = tuple(_category(name, body) for name, body in data["categories"].items())
        neutral = tuple(_phrase(p) for p in data.get("neutral", []))
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
        raise PolicyError(f"the protected-terms vocabulary is malformed: {e}") from e
    return Vocabulary(categories, neutral=neutral)


def _phrase(text: object) -> Phrase:
    return tuple(frozenset(part.lower().split("|")) for part in str(text).split())


def _category(name: str, body: dict[str, Any]) -> Category:
    if body["severity"] not in ("error", "warning"):
        raise TypeError(f"category {name}: severity must be error or warning")
    terms = frozenset(str(t).lower() for t in body.get("terms", []))
    phrases = tuple(_phrase(p) for p in body.get("phrases", []))
    return Category(
        name=name,
        label=str(body["label"]),
        code=str(body["code"]),
        severity=str(body["severity"]),
        law=str(body["law"]),
        terms=terms,
        phrases=phrases,
        chinese=tuple(str(t) for t in body.get("zh", [])),
        event_types_only=body.get("applies_to") == "event_types",
    )


@cache
def default_vocabulary() -> Vocabulary:
    """The vocabulary shipped with Credence (``credence/policy/data/protected-terms.yaml``)."""
    text = (
        resources.files("credence.policy")
        .joinpath("data/protected-terms.yaml")
        .read_text(encoding="utf-8")
    )
    return load_vocabulary(text)
