"""Characters that must never reach a terminal raw: control and bidirectional formatting ones.

A NUL, an escape sequence or a right-to-left override (U+202E) in an
identifier can hide or reorder what a person reads. Ingest refuses them in
identifiers and provider event ids (``unsafe_char``), and everything the CLI
prints passes through ``escape``, so one stored before, or arriving by another
way, is shown as ``\\u202e`` instead of acting on the terminal.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls and DEL; the Arabic letter mark; zero-width and directional marks;
# line and paragraph separators, embeddings and overrides; word joiner to the isolates;
# the byte-order mark (zero-width no-break space).
UNSAFE = "\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
_UNSAFE = re.compile(f"[{UNSAFE}]")
_SHOWN_RAW = "\n\t"  # what a printed text may hold as it is


def unsafe_char(text: str) -> str | None:
    """The first control or bidirectional formatting character of ``text``, described
    (``U+202E RIGHT-TO-LEFT OVERRIDE``); None when there is none."""
    found = _UNSAFE.search(text)
    if found is None:
        return None
    return describe(found.group())


def describe(char: str) -> str:
    """A character as ``U+XXXX NAME`` (control characters have no name: just the number)."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def _escaped(found: re.Match[str]) -> str:
    char = found.group()
    if char in _SHOWN_RAW:
        return char
    return f"\\u{ord(char):04x}"


def escape(text: str) -> str:
    """``text`` with every control and bidirectional formatting character but newline and
    tab written as ``\\uXXXX`` (all of them are in the Basic Multilingual Plane, so the
    result is also a valid JSON string body when ``text`` was one)."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escaped, text)
