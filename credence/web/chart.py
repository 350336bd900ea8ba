"""The score-over-time chart, drawn on the server as inline SVG (no script, no inline style).

``layout`` turns a ``ScoreHistory`` into coordinates: one band per tier
(from its minimum up to the next tier's, coloured by a CSS class), a line
through the month-end scores, a label every few months. The template
``partials/score_chart.html`` draws them; a table beside it says the same in
text for anyone who cannot see the chart.
"""

from __future__ import annotations

from dataclasses import dataclass

from credence.service.subject_views import ScoreHistory
from credence.types import format_date

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 84, 12, 36


@dataclass(frozen=True, slots=True)
class Band:
    """A tier's band: its id, its top and height on the chart, where its label sits."""

    tier: str
    y: float
    height: float
    label_y: float


@dataclass(frozen=True, slots=True)
class Point:
    """One month end on the chart."""

    x: float
    y: float
    score: int
    tier: str | None
    day: str
    label: str | None  # the month under it, every few months


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything the template draws."""

    width: int
    height: int
    left: int
    right: float
    top: int
    bottom: float
    bands: tuple[Band, ...]
    points: tuple[Point, ...]
    line: str  # the polyline's points attribute
    ticks: tuple[tuple[float, int], ...]  # (y, score) on the axis


def layout(history: ScoreHistory) -> Chart:
    """The chart's geometry for a score history."""
    low, high = history.scale
    span = (high - low) or 1.0
    inner_h = HEIGHT - TOP - BOTTOM
    inner_w = WIDTH - LEFT - RIGHT

    def y_of(value: float) -> float:
        return round(TOP + (high - min(max(value, low), high)) / span * inner_h, 2)

    bands = []
    upper = high
    for tier, minimum in history.tiers:  # highest first
        bottom = max(minimum, low)
        if bottom < upper:
            top_y, bottom_y = y_of(upper), y_of(bottom)
            bands.append(
                Band(tier, top_y, round(bottom_y - top_y, 2), round((top_y + bottom_y) / 2 + 4, 2))
            )
        upper = min(upper, bottom)
    count = len(history.points)
    step = inner_w / max(count - 1, 1)
    every = 3 if count > 12 else 1
    points = []
    for index, point in enumerate(history.points):
        day = format_date(point.at)
        label = day[:7] if (count - 1 - index) % every == 0 else None
        points.append(
            Point(
                round(LEFT + index * step, 2),
                y_of(point.score),
                point.score,
                point.tier,
                day,
                label,
            )
        )
    ticks = sorted({int(low), int(high), *(int(m) for _t, m in history.tiers if low <= m <= high)})
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=HEIGHT - BOTTOM,
        bands=tuple(bands),
        points=tuple(points),
        line=" ".join(f"{p.x},{p.y}" for p in points),
        ticks=tuple((y_of(t), t) for t in ticks),
    )
