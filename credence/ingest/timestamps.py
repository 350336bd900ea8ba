"""Reading ``occurred_at``: RFC 3339 timestamps with an offset, as epoch microseconds.

Ingest reads one timestamp per row of files with millions of rows, so the
common fixed-width shapes are read from small tables (``read_quickly``), and
anything else by the exact reader (``read_exactly``), which also words every
refusal. Both read any text they both accept identically.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from credence.types import DAY_US, MICROS, to_micros

_CACHE_LIMIT = 1_000_000
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
# Microseconds: since the epoch of dates (YYYY-MM-DD) seen before; of every
# HH:MM and :SS of a day; of every offset ±HH:MM below a day, and Z. (Small
# tables: one of all 86,400 seconds of a day missed the CPU caches.)
_DAYS: dict[str, int] = {}
_MINUTES = {f"{h:02d}:{m:02d}": (h * 60 + m) * 60 * MICROS for h in range(24) for m in range(60)}
_SECONDS = {f":{s:02d}": s * MICROS for s in range(60)}
_OFFSETS: dict[str, int] = {"Z": 0} | {
    f"{sign}{h:02d}:{m:02d}": (-1 if sign == "+" else 1) * (h * 3600 + m * 60) * MICROS
    for sign in "+-"
    for h in range(24)
    for m in range(60)
}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def parse_occurred_at(text: str) -> int:
    """An RFC 3339 timestamp with an offset as epoch microseconds (fractions past µs dropped).

    Raises:
        ValueError: with the reason, when the text is not such a timestamp.
    """
    quick = read_quickly(text)
    return read_exactly(text) if quick is None else quick


def read_exactly(text: str) -> int:
    """The exact reading of any timestamp, and the wording of every refusal."""
    matched = _RFC3339.fullmatch(text)
    if not matched:
        raise ValueError(
            f"occurred_at {text!r} is not an RFC 3339 timestamp with an offset "
            "(e.g. 2026-03-01T09:30:00Z or 2026-03-01T17:30:00+08:00)"
        )
    zone = matched.group(2)
    if zone not in ("Z", "z") and (int(zone[1:3]) > 23 or int(zone[4:6]) > 59):
        raise ValueError(
            f"occurred_at {text!r} has the time zone offset {zone}, which is not one: "
            "offsets run from -23:59 to +23:59"
        )
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError as e:
        raise ValueError(f"occurred_at {text!r} is not a real date and time: {e}") from e
    return to_micros(moment)


def read_quickly(text: str) -> int | None:
    """``YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`` in ASCII digits, by table look-ups; else None.

    Every part is checked exactly (a real date, a time of day, 1–9 fraction
    digits, an offset under a day), so any text this reads is read the same way
    by ``read_exactly``; any other text is left to it.
    """
    day = _DAYS.get(text[:10])
    if day is None:
        day = _day(text[:10])
        if day is None:
            return None
    if len(text) < 20 or text[10] != "T":
        return None
    minute = _MINUTES.get(text[11:16])
    second = _SECONDS.get(text[16:19])
    if minute is None or second is None:
        return None
    if len(text) == 20:
        offset = _OFFSETS.get(text[19])
        fraction = 0
    else:
        rest = text[19:]
        if rest[0] == ".":
            zone = "Z" if rest[-1] == "Z" else rest[-6:]
            digits = rest[1 : len(rest) - len(zone)]
            if not (0 < len(digits) <= 9 and digits.isascii() and digits.isdigit()):
                return None
            fraction = int(digits[:6].ljust(6, "0"))
        else:
            zone = rest
            fraction = 0
        offset = _OFFSETS.get(zone)
    if offset is None:
        return None
    return day + minute + second + fraction + offset


def _day(text: str) -> int | None:
    """Epoch microseconds of the midnight starting a ``YYYY-MM-DD`` date, if it is one."""
    if not (
        len(text) == 10
        and text.isascii()
        and text[4] == "-"
        and text[7] == "-"
        and text[:4].isdigit()
        and text[5:7].isdigit()
        and text[8:].isdigit()
    ):
        return None
    try:
        day = date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        return None
    micros = (day.toordinal() - _EPOCH_ORDINAL) * DAY_US
    if len(_DAYS) >= _CACHE_LIMIT:
        _DAYS.clear()
    _DAYS[text] = micros
    return micros
