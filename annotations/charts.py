"""Server-side SVG bar charts. Pure: no ORM.

Every label is escaped here and numbers are formatted by us, so the result is
safe to insert into a page; the CSP forbids inline styles, so colours come from
classes in app.css.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # nan draws an empty bar labelled "n/a"
    note: str = ""  # e.g. the counts behind the value


def bar_chart(
    bars: Sequence[Bar], *, title: str, maximum: float | None = None, minimum: float = 0.0, digits: int = 2
) -> SafeString:
    """A horizontal bar chart, one row per bar, scaled from `minimum` to `maximum`.

    Values below `minimum` (a negative alpha) are drawn at the minimum with their
    value written out; the table beside the chart holds the exact figures.
    """
    row_height, label_width, bar_width, value_width = 22, 170, 260, 150
    width = label_width + bar_width + value_width
    height = max(1, len(bars)) * row_height + 8
    finite = [b.value for b in bars if not math.isnan(b.value)]
    top = maximum if maximum is not None else max(finite, default=1.0) or 1.0
    span = top - minimum or 1.0
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for index, bar in enumerate(bars):
        y = 4 + index * row_height
        label = bar.label if len(bar.label) <= 26 else bar.label[:25] + "…"
        out.append(f'<text class="chart-label" x="0" y="{y + 15}">{escape(label)}</text>')
        out.append(
            f'<rect class="chart-track" x="{label_width}" y="{y + 3}" width="{bar_width}" height="{row_height - 8}"/>'
        )
        if math.isnan(bar.value):
            shown = "n/a"
        else:
            fraction = min(1.0, max(0.0, (bar.value - minimum) / span))
            out.append(
                f'<rect class="chart-bar" x="{label_width}" y="{y + 3}" width="{fraction * bar_width:.1f}" '
                f'height="{row_height - 8}"/>'
            )
            shown = f"{bar.value:.{digits}f}"
        note = f" ({bar.note})" if bar.note else ""
        out.append(
            f'<text class="chart-value" x="{label_width + bar_width + 6}" y="{y + 15}">{escape(shown + note)}</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every stored string above went through escape()
