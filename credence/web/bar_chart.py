"""Bar charts drawn on the server as inline SVG: no script, no style attribute, a text alternative.

The chart is ``role="img"`` with a ``<title>`` and ``<desc>`` that say what it
shows in words; the page puts the same figures in a table beside it, so a
screen reader (or a reader of the printed page) loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label under the axis and its value."""

    label: str
    value: int


def bar_chart(
    bars: Sequence[Bar],
    *,
    chart_id: str,
    title: str,
    description: str,
    width: int = 640,
    height: int = 220,
    label_every: int = 1,
) -> Markup:
    """A vertical bar chart, values written above the bars when there is room for them."""
    top, bottom, left, right = 20, 28, 8, 8
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((b.value for b in bars), default=0) or 1
    slot = plot_w / max(len(bars), 1)
    bar_w = max(slot * 0.7, 1.0)
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-labelledby="{escape(chart_id)}-title '
        f'{escape(chart_id)}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
        f'y2="{top + plot_h}"/>',
    ]
    values_fit = slot >= 22
    for i, b in enumerate(bars):
        h = plot_h * b.value / peak
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}"/>'
        )
        cx = left + i * slot + slot / 2
        if values_fit:
            parts.append(
                f'<text class="bar-label" x="{cx:.1f}" y="{y - 4:.1f}" '
                f'text-anchor="middle">{b.value}</text>'
            )
        if i % label_every == 0:
            parts.append(
                f'<text class="axis-label" x="{cx:.1f}" y="{height - 10}" '
                f'text-anchor="middle">{escape(b.label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
