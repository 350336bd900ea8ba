"""Disputes as pure rules: their clock (deadlines, business days) and their state machine.

A dispute (FCRA §611 is the model) is ``open`` from filing until a reviewer
resolves it ``upheld`` or ``rejected``, terminates it as ``frivolous``, or its
deadline passes and it becomes ``lapsed``. The deadline is 30 days from
filing, extended once by 15 days when the subject adds information within the
first 30. Business days are Monday to Friday in UTC; public holidays are not
counted out (a deployment that must skip them shortens its own windows).

Lapse needs nobody to act: ``state_at`` tells the state at any time from the
stored state and the deadline, so every read agrees with the clock. Times
are epoch microseconds, UTC; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from credence.engine.compiled import CompiledPolicy
from credence.engine.decisions import ADVERSE, Decision, Hold, decide
from credence.engine.scoring import score
from credence.errors import DisputeStateError
from credence.types import DAY_US, Notice, Record

OPEN, UPHELD, REJECTED, LAPSED, FRIVOLOUS = "open", "upheld", "rejected", "lapsed", "frivolous"
STATES: Final = (OPEN, UPHELD, REJECTED, LAPSED, FRIVOLOUS)
# The ends that drop the record for every as-of time, for good.
STRIKING: Final = frozenset({UPHELD, LAPSED})

# Actions on a dispute.
ADD_INFORMATION, ANSWER, UPHOLD, REJECT, TERMINATE, LAPSE = (
    "add_information",
    "answer",
    "uphold",
    "reject",
    "terminate",
    "lapse",
)

# The whole state machine: (state, action) -> next state. Anything absent is refused.
TRANSITIONS: Final[dict[tuple[str, str], str]] = {
    (OPEN, ADD_INFORMATION): OPEN,
    (OPEN, ANSWER): OPEN,
    (OPEN, UPHOLD): UPHELD,
    (OPEN, REJECT): REJECTED,
    (OPEN, TERMINATE): FRIVOLOUS,
    (OPEN, LAPSE): LAPSED,
}

# What a reviewer's outcome does.
OUTCOMES: Final[dict[str, str]] = {"upheld": UPHOLD, "rejected": REJECT, "frivolous": TERMINATE}
# What a provider may answer.
ANSWERS: Final = ("verified", "corrected", "retracted")

DEADLINE_DAYS: Final = 30
EXTENSION_DAYS: Final = 15
PROVIDER_BUSINESS_DAYS: Final = 5  # the provider is told within this many business days
FRIVOLOUS_BUSINESS_DAYS: Final = 5  # a frivolous dispute is terminated within this many

_WORDS = {
    ADD_INFORMATION: "add information to",
    ANSWER: "answer",
    UPHOLD: "uphold",
    REJECT: "reject",
    TERMINATE: "terminate as frivolous",
    LAPSE: "lapse",
}


def deadline(filed_at: int, *, extended: bool) -> int:
    """When an open dispute lapses: 30 days after filing, 45 once extended."""
    days = DEADLINE_DAYS + (EXTENSION_DAYS if extended else 0)
    return filed_at + days * DAY_US


def extends(filed_at: int, *, at: int, extended: bool) -> bool:
    """Whether information added at ``at`` extends the deadline: once, within the first 30 days."""
    return not extended and at < filed_at + DEADLINE_DAYS * DAY_US


def add_business_days(at: int, days: int) -> int:
    """``at`` moved forward by ``days`` business days (Mon-Fri, UTC), keeping the time of day.

    A start on a weekend counts from the next Monday: Saturday + 1 is Monday.
    """
    moment = at
    left = days
    while left > 0:
        moment += DAY_US
        if _weekday(moment) < 5:
            left -= 1
    return moment


def _weekday(at: int) -> int:
    """Monday 0 to Sunday 6 of a UTC time (1970-01-01 was a Thursday)."""
    return (at // DAY_US + 3) % 7


def provider_due(filed_at: int) -> int:
    """By when the record's provider must have been told of the dispute."""
    return add_business_days(filed_at, PROVIDER_BUSINESS_DAYS)


def frivolous_until(filed_at: int) -> int:
    """Until when a reviewer may terminate the dispute as frivolous."""
    return add_business_days(filed_at, FRIVOLOUS_BUSINESS_DAYS)


def state_at(state: str, deadline_at: int, now: int) -> str:
    """The state at ``now``: an open dispute at or past its deadline is lapsed."""
    return LAPSED if state == OPEN and now >= deadline_at else state


def strikes(state: str, deadline_at: int, now: int) -> bool:
    """Whether the disputed record is dropped at ``now`` (upheld, or lapsed by the clock)."""
    return state_at(state, deadline_at, now) in STRIKING


def days_left(deadline_at: int, now: int) -> int:
    """Whole days, rounded up, until the deadline; 0 once it has passed."""
    remaining = deadline_at - now
    return 0 if remaining <= 0 else -(-remaining // DAY_US)


def transition(state: str, action: str, *, dispute_id: str = "") -> str:
    """The state after ``action``.

    Raises:
        DisputeStateError: when the state machine does not allow it.
    """
    after = TRANSITIONS.get((state, action))
    if after is None:
        allowed = sorted(a for (s, a) in TRANSITIONS if s == state)
        name = f"dispute {dispute_id}" if dispute_id else "the dispute"
        raise DisputeStateError(
            f"cannot {_WORDS.get(action, action)} {name}: it is {state}",
            suggestion=(
                "a dispute that has ended can only be followed by a new one with new information"
                if not allowed
                else f"an {state} dispute allows: {', '.join(allowed)}"
            ),
            details={"state": state, "action": action},
        )
    return after


def hold_of(
    policy: CompiledPolicy,
    records: Sequence[Record],
    decision: Decision,
    *,
    disputed: Mapping[tuple[str, str], tuple[str, int]],
    subject_kind: str,
    notices: Sequence[Notice] = (),
) -> Hold | None:
    """The hold on an adverse decision that would not stand with the disputed records left out.

    ``disputed`` maps the key of each record under an open dispute to that dispute's id
    and deadline. The subject is scored a second time without them, as of the
    decision's time; None when the decision is not adverse, no disputed record is
    among ``records``, or the outcome is adverse without them too.
    """
    if decision.outcome not in ADVERSE:
        return None
    present = {r.key for r in records} & disputed.keys()
    if not present:
        return None
    without = [r for r in records if r.key not in present]
    outcome = score(policy, without, as_of=decision.as_of, subject_kind=subject_kind)
    again = decide(policy, outcome, decision.entitlement, notices=notices)
    if again.outcome in ADVERSE:
        return None
    ids = sorted({disputed[k][0] for k in present})
    return Hold(decision.outcome, tuple(ids), max(disputed[k][1] for k in present))
