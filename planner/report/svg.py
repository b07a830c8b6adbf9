"""Inline SVG charts: horizontal bars, donuts and capacity bars.

Pure functions from numbers to SVG markup (no scripts, no external references,
no ``xmlns`` needed inside HTML). Every label is escaped and long labels are
shortened on screen with the full text in a ``<title>`` tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from planner.providers.registry import providers
from planner.report.fmt import esc, pct, short, usd, usd_short

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
FIXED_COLORS = {
    "training": "#4e79a7",
    "testing": "#edc948",
    "inference": "#e15759",
    "on_demand": "#4e79a7",
    "spot": "#f28e2b",
    "commit_1y": "#76b7b2",
    "commit_3y": "#b07aa1",
    "owned": "#59a14f",
}
OTHER_COLOR = "#bab0ac"
BINDING_COLOR = "#d62728"
FREE_COLOR = "#4e79a7"
TRACK_COLOR = "#e6e8eb"


def color_for(label: str, index: int) -> str:
    """A stable colour: the provider's own (from the registry), fixed for stage kinds and
    purchase options, else from the palette."""
    if label.startswith("other ("):
        return OTHER_COLOR
    provider = providers().get(label)
    if provider is not None:
        return provider.colour
    return FIXED_COLORS.get(label, PALETTE[index % len(PALETTE)])


def _svg(width: int, height: int, title: str, body: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>{body}</svg>'
    )


def bar_chart(
    items: Sequence[tuple[str, float]],
    title: str,
    *,
    width: int = 520,
    label_width: int = 190,
    value: Callable[[float], str] = usd,
) -> str:
    """One horizontal bar per item, in the order given, values at the bar's end.

    Bars are scaled to the largest named item; an ``other (N)`` bar that is larger
    is cut at the full width and drawn with a dashed end, so it does not flatten the rest.
    """
    if not items:
        return '<p class="muted">nothing to show</p>'
    row, top = 24, 6
    value_width = 96
    track = width - label_width - value_width - 12
    named = [v for k, v in items if not k.startswith("other (")] or [v for _, v in items]
    biggest = max(named, default=0.0) or 1.0
    parts = []
    for i, (label, amount) in enumerate(items):
        y = top + i * row
        w = max(track * max(amount, 0.0) / biggest, 1.0 if amount > 0 else 0.0)
        cut = ""
        if w > track + 0.5:  # only an `other` bar can be longer than the largest item
            w = float(track)
            x = label_width + w - 14
            cut = (
                f'<line x1="{x:.1f}" y1="{y + row - 4}" x2="{x + 6:.1f}" y2="{y + 4}" '
                f'stroke="#fff" stroke-width="3"/>'
            )
        parts.append(
            f"<g><title>{esc(label)}: {esc(value(amount))}</title>"
            f'<text class="lbl" x="{label_width - 8}" y="{y + 16}" text-anchor="end">'
            f"{esc(short(label, 30))}</text>"
            f'<rect x="{label_width}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="3" '
            f'fill="{color_for(label, i)}"/>{cut}'
            f'<text class="val" x="{label_width + w + 6:.1f}" y="{y + 16}">'
            f"{esc(value(amount))}</text></g>"
        )
    return _svg(width, top * 2 + row * len(items), title, "".join(parts))


def donut(
    items: Sequence[tuple[str, float]],
    title: str,
    *,
    value: Callable[[float], str] = usd,
) -> str:
    """A donut with a legend (label, value, share); zero or negative items are left out."""
    items = [(k, v) for k, v in items if v > 0]
    if not items:
        return '<p class="muted">nothing to show</p>'
    total = sum(v for _, v in items)
    r, stroke, cx, cy = 58.0, 26.0, 80.0, 80.0
    circ = 2 * math.pi * r
    parts = [
        f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{TRACK_COLOR}" '
        f'stroke-width="{stroke}"/>'
    ]
    offset = 0.0
    legend = []
    for i, (label, amount) in enumerate(items):
        share = amount / total
        length = circ * share
        colour = color_for(label, i)
        parts.append(
            f"<g><title>{esc(label)}: {esc(value(amount))} ({pct(share)})</title>"
            f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{colour}" '
            f'stroke-width="{stroke}" stroke-dasharray="{length:.2f} {circ - length:.2f}" '
            f'stroke-dashoffset="{-offset:.2f}" transform="rotate(-90 {cx} {cy})"/></g>'
        )
        offset += length
        y = 14 + i * 22
        legend.append(
            f"<g><title>{esc(label)}</title>"
            f'<rect x="176" y="{y}" width="12" height="12" rx="2" fill="{colour}"/>'
            f'<text class="lbl" x="194" y="{y + 11}">{esc(short(label, 24))}</text>'
            f'<text class="val" x="420" y="{y + 11}" text-anchor="end">{esc(value(amount))}'
            f"</text>"
            f'<text class="muted" x="470" y="{y + 11}" text-anchor="end">{pct(share, 0)}</text>'
            f"</g>"
        )
    parts.append(
        f'<text class="donut-total" x="{cx}" y="{cy + 5}" text-anchor="middle">'
        f"{esc(value(total) if value is not usd else usd_short(total))}</text>"
    )
    height = max(164, 22 + 22 * len(items))
    return _svg(480, height, title, "".join(parts) + "".join(legend))


def capacity_bar(share: float, binding: bool, *, width: int = 260) -> str:
    """A bar of the share of capacity used (red when the resource is binding)."""
    fill = width * min(max(share, 0.0), 1.0)
    colour = BINDING_COLOR if binding else FREE_COLOR
    label = f"{pct(share)} of capacity used" + (" — binding" if binding else "")
    return (
        f'<svg class="cap" viewBox="0 0 {width} 14" width="{width}" height="14" role="img" '
        f'aria-label="{esc(label)}"><title>{esc(label)}</title>'
        f'<rect x="0" y="0" width="{width}" height="14" rx="3" fill="{TRACK_COLOR}"/>'
        f'<rect x="0" y="0" width="{fill:.1f}" height="14" rx="3" fill="{colour}"/></svg>'
    )
