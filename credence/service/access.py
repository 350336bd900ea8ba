"""Which kind of party may do what, for the actions that need no subject's consent.

Routes, pages and commands ask ``authorize`` before they act, so the answer
is the same wherever a call comes from. Decisions and scores are not here:
who may ask them, and under which consent, is decided with the consent
itself (``credence.service.scoring`` and ``credence.service.consents``). A
caller is anything with a name, a kind and the contexts it declared
(``credence.service.parties.Party``).
"""

from __future__ import annotations

from typing import Protocol

from credence.errors import Forbidden

OPERATOR, PROVIDER, RELYING_PARTY, REVIEWER = "operator", "provider", "relying_party", "reviewer"

# action → the kinds of party that may take it. Subjects act through their own session,
# never through an API key, so they are not in this table.
ALLOWED: dict[str, frozenset[str]] = {
    "records.submit": frozenset({PROVIDER}),
    "parties.manage": frozenset({OPERATOR}),
    "keys.manage": frozenset({OPERATOR}),
    "sign_in.issue": frozenset({OPERATOR}),
    "policy.read": frozenset({OPERATOR, REVIEWER}),
    # The web console: counts for both; restrictions name subjects, so the operator's only.
    "console.overview": frozenset({OPERATOR, REVIEWER}),
    "restrictions.read": frozenset({OPERATOR}),
    "review.queue": frozenset({OPERATOR, REVIEWER}),  # disputes to decide, by deadline
    "overrides.manage": frozenset({OPERATOR}),
    "notices.outbox": frozenset({OPERATOR}),
    "reviews.resolve": frozenset({REVIEWER}),
    "queue.read": frozenset({OPERATOR, REVIEWER}),
    # disputes: a record's provider sees and answers those of its records; reviewers decide
    "disputes.answer": frozenset({PROVIDER}),
    "disputes.resolve": frozenset({OPERATOR, REVIEWER}),
}


class Caller(Protocol):
    """An authenticated party, as far as authorization needs to know it."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def contexts(self) -> tuple[str, ...]: ...


def authorize(caller: Caller, action: str) -> None:
    """Let the call go on, or refuse it.

    Raises:
        Forbidden: when the caller's kind may not take ``action``.
    """
    allowed = ALLOWED[action]
    if str(caller.kind) not in allowed:
        kinds = " or ".join(sorted(allowed))
        raise Forbidden(
            f"a {caller.kind} may not do this ({action}); only a {kinds} may",
            details={"action": action},
        )


def may(caller: Caller, action: str) -> bool:
    """Whether the caller may take ``action`` (for showing only the links it can follow)."""
    return str(caller.kind) in ALLOWED[action]
