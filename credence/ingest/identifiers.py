"""Subject identifiers: validated by scheme and normalised before they are hashed.

A scheme is either ``custom`` (any non-empty string, trimmed) or the dotted
name of a python-stdnum module, such as ``cn.ric`` (Chinese resident identity
card) or ``cn.uscc`` (unified social credit code of an organisation). The
normalised form is what the lookup hash is taken over, so ``11010519491231002x``
and ``11010519491231002X`` name the same person.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from types import ModuleType

from stdnum.exceptions import ValidationError as StdnumValidationError

from credence.errors import IdentifierError
from credence.text import unsafe_char

CUSTOM = "custom"
_SCHEME = re.compile(r"^[a-z]{2,}(\.[a-z_]+)?$")
# Schemes that identify one kind of subject only.
SCHEME_KINDS = {"cn.ric": "person", "cn.uscc": "organization"}
_MAX_CUSTOM = 200


@lru_cache(maxsize=256)
def _module(scheme: str) -> ModuleType | None:
    if not _SCHEME.match(scheme):
        return None
    try:
        module = importlib.import_module(f"stdnum.{scheme}")
    except ImportError:
        return None
    return module if hasattr(module, "validate") else None


def known_scheme(scheme: str) -> bool:
    """Whether identifiers of this scheme can be validated."""
    return scheme == CUSTOM or _module(scheme) is not None


@lru_cache(maxsize=200_000)
def normalise(scheme: str, value: str) -> str:
    """The canonical form of an identifier, after validating it for its scheme.

    Raises:
        IdentifierError: when the scheme is unknown or the value invalid for it, or
            holds a control or bidirectional formatting character (in any scheme).
    """
    bad = unsafe_char(value)
    if bad is not None:
        raise IdentifierError(
            f"the identifier holds {bad}, a control or bidirectional formatting character",
            suggestion="send the identifier without it",
        )
    if scheme == CUSTOM:
        text = value.strip()
        if not text:
            raise IdentifierError("a custom identifier must not be empty")
        if len(text) > _MAX_CUSTOM:
            raise IdentifierError(f"a custom identifier is at most {_MAX_CUSTOM} characters")
        return text
    module = _module(scheme)
    if module is None:
        raise IdentifierError(
            f"unknown identifier scheme {scheme!r}",
            suggestion="use `custom`, or a python-stdnum scheme such as cn.ric or cn.uscc",
        )
    try:
        return str(module.validate(value))
    except StdnumValidationError as e:
        name = getattr(module, "__doc__", "") or scheme
        title = name.strip().splitlines()[0].rstrip(".")
        raise IdentifierError(f"{value!r} is not a valid {scheme} ({title}): {e}") from e


def check_kind(scheme: str, kind: str) -> None:
    """Refuse an identifier scheme used for the wrong kind of subject.

    Raises:
        IdentifierError: e.g. a ``cn.uscc`` (organisation code) given for a person.
    """
    expected = SCHEME_KINDS.get(scheme)
    if expected is not None and expected != kind:
        raise IdentifierError(f"scheme {scheme!r} identifies a {expected}, not a {kind}")
