"""Inline SVG timelines of one capacity-limited pool: a Gantt chart and its use over time.

Pure functions from a :class:`~planner.models.plan.PoolSchedule` to SVG markup, in the
style of :mod:`planner.report.svg`: no scripts, no external references, every text
escaped, a ``<title>`` on every bar and marker. Outages are hatched with a pattern whose
id is made unique in the page by the caller's integer ``uid``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from planner.models.plan import PoolSchedule, Run, Window
from planner.report.fmt import esc, short
from planner.report.svg import FIXED_COLORS, OTHER_COLOR
from planner.report.timeline import Axis, Level, Marks, hours_text

WIDTH, LABEL, RIGHT = 960, 210, 24
LANE, BAR, AXIS = 22, 14, 24
PLOT = 120
OUTAGE_COLOR, CAPACITY_COLOR, RELEASE_COLOR = "#c62828", "#c62828", "#2e7d32"
GRID_COLOR, HELD_COLOR = "#e6e8eb", "#4e79a7"
MAX_STEPS = 360


@dataclass(frozen=True)
class Frame:
    """Maps hours to x in a chart ``WIDTH`` wide with a ``LABEL`` column on the left."""

    axis: Axis

    def x(self, hours: float) -> float:
        span = WIDTH - LABEL - RIGHT
        return LABEL + span * min(max(hours, 0.0), self.axis.hours) / self.axis.hours


def unit_word(unit: str, n: int) -> str:
    """``'instances'``/``'gpus'`` → ``'1 instance'``, ``'4 GPUs'``."""
    word = {"gpus": "GPU", "instances": "instance"}.get(unit, unit.rstrip("s"))
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _svg(height: int, title: str, body: str, cls: str, role: str = "img") -> str:
    """A chart; ``role="group"`` keeps its parts' titles (each bar's) readable to screen
    readers, ``"img"`` reads the chart as one picture described by ``title``."""
    return (
        f'<svg class="chart {cls}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="{role}" aria-label="{esc(title)}"><title>{esc(title)}'
        f"</title>{body}</svg>"
    )


def hatch(pid: str) -> str:
    """The outage pattern, ``url(#hatch-<pid>)`` (``pid``: made of the caller's integer uid,
    unique in the page)."""
    return (
        f'<defs><pattern id="hatch-{pid}" patternUnits="userSpaceOnUse" width="6" height="6" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fdf0f0"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{OUTAGE_COLOR}" stroke-width="2"/>'
        "</pattern></defs>"
    )


def _grid(frame: Frame, top: int, bottom: int, *, labels_below: bool = False) -> str:
    """Vertical lines at the axis ticks, labelled above ``top`` (or below ``bottom``);
    the horizon's end."""
    parts = []
    y = bottom + 16 if labels_below else top - 6
    for hours, label in frame.axis.ticks():
        x = frame.x(hours)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="{GRID_COLOR}"/>'
            f'<text class="muted tick" x="{x:.1f}" y="{y}" text-anchor="middle">'
            f"{esc(label)}</text>"
        )
    end = frame.x(frame.axis.hours)
    parts.append(f'<line x1="{end:.1f}" y1="{top}" x2="{end:.1f}" y2="{bottom}" '
                 'stroke="#9aa4b1"><title>end of the horizon</title></line>')
    return "".join(parts)


def _lane_label(y: float, text: str, full: str) -> str:
    return (f'<text class="lbl" x="{LABEL - 8}" y="{y + BAR - 2:.1f}" text-anchor="end">'
            f"<title>{esc(full)}</title>{esc(short(text, 30))}</text>")


def _span(frame: Frame, start: float, end: float) -> tuple[float, float]:
    x0 = frame.x(start)
    return x0, max(frame.x(end) - x0, 1.0)


def _outage_lane(frame: Frame, o: Window, y: float, unit: str, pid: str) -> str:
    x, w = _span(frame, float(o.start), float(o.end))
    label = frame.axis.label
    title = (f"down: {unit_word(unit, o.amount)}, {label(float(o.start))} → "
             f"{label(float(o.end))}")
    return (f'<g class="outage">{_lane_label(y, f"down ×{o.amount}", title)}'
            f"<title>{esc(title)}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{BAR}" '
            f'fill="url(#hatch-{pid})" stroke="{OUTAGE_COLOR}"/></g>')


@dataclass(frozen=True)
class RunInfo:
    """What the Gantt knows about a run's stage from the placements and the portfolio."""

    kind: str | None = None
    late_hours: int = 0
    marks: Marks | None = None


def _run_title(frame: Frame, r: Run, unit: str, info: RunInfo) -> str:
    label = frame.axis.label
    hours = hours_text(r.end - r.start)
    title = (f"{r.workload} / {r.stage}: {unit_word(unit, r.amount)} of {r.offer}, "
             f"{label(float(r.start))} → {label(float(r.end))} ({hours} h)")
    if info.late_hours:
        title += f", {info.late_hours:,} h late"
    return title


def _amount(x: float, w: float, y: float, amount: int) -> str:
    text = f"×{amount:,}"
    if x + w + 8 + 7 * len(text) <= WIDTH:
        return f'<text class="val" x="{x + w + 4:.1f}" y="{y + BAR - 2:.1f}">{esc(text)}</text>'
    return (f'<text class="val inbar" x="{x + w - 4:.1f}" y="{y + BAR - 2:.1f}" '
            f'text-anchor="end">{esc(text)}</text>')


def _marks(frame: Frame, marks: Marks | None, y: float) -> str:
    if marks is None:
        return ""
    parts = []
    label = frame.axis.label
    if marks.release is not None:
        x = frame.x(marks.release)
        parts.append(f'<line class="release" x1="{x:.1f}" y1="{y - 3:.1f}" x2="{x:.1f}" '
                     f'y2="{y + BAR + 3:.1f}" stroke="{RELEASE_COLOR}" stroke-width="2">'
                     f"<title>earliest start {esc(label(marks.release))}</title></line>")
    if marks.due is not None:
        x = frame.x(marks.due)
        dash = ' stroke-dasharray="3 2"' if marks.soft else ""
        word = "soft deadline" if marks.soft else "deadline"
        parts.append(f'<line class="deadline" x1="{x:.1f}" y1="{y - 3:.1f}" x2="{x:.1f}" '
                     f'y2="{y + BAR + 3:.1f}" stroke="{OUTAGE_COLOR}" stroke-width="2"{dash}>'
                     f"<title>{word} {esc(label(marks.due))}</title></line>")
    return "".join(parts)


def _run_lane(frame: Frame, r: Run, y: float, unit: str, info: RunInfo) -> str:
    x, w = _span(frame, float(r.start), float(r.end))
    title = _run_title(frame, r, unit, info)
    colour = FIXED_COLORS.get(info.kind or "", OTHER_COLOR)
    late = f' stroke="{OUTAGE_COLOR}" stroke-width="2"' if info.late_hours else ""
    return (f'<g class="run">{_lane_label(y, f"{r.workload} / {r.stage}", title)}'
            f"<title>{esc(title)}</title>"
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{BAR}" rx="2" '
            f'fill="{colour}"{late}/>{_amount(x, w, y, r.amount)}</g>'
            + _marks(frame, info.marks, y))


def lanes(runs: Sequence[Run], outages: Sequence[Window], unit: str, axis: Axis,
          info: Mapping[tuple[str, str], RunInfo], *, uid: int, title: str) -> str:
    """A Gantt chart: one lane per outage (hatched), then one lane per run, in order."""
    frame = Frame(axis)
    top = AXIS
    parts = [_outage_lane(frame, o, top + 4 + k * LANE, unit, f"g{uid}")
             for k, o in enumerate(outages)]
    first = top + 4 + len(parts) * LANE
    parts += [_run_lane(frame, r, first + k * LANE, unit,
                        info.get((r.workload, r.stage), RunInfo()))
              for k, r in enumerate(runs)]
    bottom = top + 4 + len(parts) * LANE
    body = hatch(f"g{uid}") + _grid(frame, top, bottom) + "".join(parts)
    return _svg(bottom + 4, title, body, "gantt", role="group")


def gantt(pool: PoolSchedule, axis: Axis, info: Mapping[tuple[str, str], RunInfo], *,
          uid: int, limit: int) -> str:
    """The pool's outages, then its runs (the first ``limit`` by start)."""
    runs = sorted(pool.runs, key=lambda r: (r.start, r.end, r.workload, r.stage))[:limit]
    title = (f"Gantt chart of {pool.resource}: {len(pool.runs):,} runs, "
             f"{len(pool.outages):,} outages")
    return lanes(runs, pool.outages, pool.unit, axis, info, uid=uid, title=title)


def resample(levels: Sequence[Level], hours: float, steps: int = MAX_STEPS) -> list[Level]:
    """At most ``steps`` levels: each bucket of the axis keeps the most held and the most
    down within it (a chart cannot show finer detail; peaks are never hidden)."""
    if len(levels) <= steps:
        return list(levels)
    width = hours / steps
    out: list[Level] = []
    k = 0
    for b in range(steps):
        lo, hi = b * width, (b + 1) * width
        while k + 1 < len(levels) and levels[k + 1].at <= lo:
            k += 1
        j, held, down = k, levels[k].held, levels[k].down
        while j + 1 < len(levels) and levels[j + 1].at < hi:
            j += 1
            held, down = max(held, levels[j].held), max(down, levels[j].down)
        out.append(Level(lo, held, down))
    return out


def _area(frame: Frame, levels: Sequence[Level], y: Callable[[float], float],
          lower: Callable[[Level], int], upper: Callable[[Level], int]) -> str:
    """A step-shaped band between ``lower`` and ``upper`` units, as path data: along the
    upper edge left to right, back along the lower edge (horizontal and vertical moves)."""
    xs = [f"{frame.x(lv.at):.1f}" for lv in levels] + [f"{frame.x(frame.axis.hours):.1f}"]
    ups = [f"{y(upper(lv)):.1f}" for lv in levels]
    lows = [f"{y(lower(lv)):.1f}" for lv in levels]
    path = [f"M{xs[0]},{ups[0]}"]
    for i in range(len(levels)):
        path.append(f"H{xs[i + 1]}" + (f"V{ups[i + 1]}" if i + 1 < len(levels) else ""))
    path.append(f"V{lows[-1]}")
    for i in reversed(range(len(levels))):
        path.append(f"H{xs[i]}" + (f"V{lows[i - 1]}" if i > 0 else ""))
    return "".join(path) + "Z"


def utilization(pool: PoolSchedule, axis: Axis, levels: Sequence[Level], *, uid: int) -> str:
    """Units held by runs (filled) on top of units down (hatched) against the capacity."""
    frame = Frame(axis)
    steps = resample(levels, axis.hours)
    top, bottom = 8, 8 + PLOT
    ymax = max([pool.capacity, pool.peak, *(lv.held + lv.down for lv in steps), 1])

    def y(units: float) -> float:
        return bottom - PLOT * units / ymax

    down = _area(frame, steps, y, lambda lv: 0, lambda lv: lv.down)
    held = _area(frame, steps, y, lambda lv: lv.down, lambda lv: lv.down + lv.held)
    cap, label = y(pool.capacity), axis.label
    peak_x, peak_y = frame.x(float(pool.peak_at)), y(pool.peak)
    peak = f"peak {unit_word(pool.unit, pool.peak)} at {label(float(pool.peak_at))}"
    body = (
        hatch(f"u{uid}") + _grid(frame, top, bottom, labels_below=True)
        + f'<path class="down" d="{down}" fill="url(#hatch-u{uid})"><title>units down '
          "(outages)</title></path>"
        + f'<path class="held" d="{held}" fill="{HELD_COLOR}" fill-opacity="0.75"><title>'
          "units held by runs</title></path>"
        + f'<line x1="{LABEL}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#9aa4b1"/>'
        + f'<line class="capacity" x1="{LABEL}" y1="{cap:.1f}" x2="{WIDTH - RIGHT}" '
          f'y2="{cap:.1f}" stroke="{CAPACITY_COLOR}" stroke-dasharray="6 3" stroke-width="1.5">'
          f"<title>capacity {esc(unit_word(pool.unit, pool.capacity))}</title></line>"
        + f'<text class="lbl" x="{LABEL - 8}" y="{cap + 4:.1f}" text-anchor="end">capacity '
          f"{pool.capacity:,}</text>"
        + f'<text class="muted" x="{LABEL - 8}" y="{bottom + 4}" text-anchor="end">0</text>'
        + f'<circle class="peak" cx="{peak_x:.1f}" cy="{peak_y:.1f}" r="4" fill="#1d2430">'
          f"<title>{esc(peak)}</title></circle>"
    )
    title = (f"Use of {pool.resource} over time: {peak} of {pool.capacity:,} "
             f"(held by runs, down in outages)")
    return _svg(bottom + AXIS, title, body, "utilization")


LEGEND = {
    "outages": ('<rect width="12" height="12" fill="url(#hatch-legend)" '
                f'stroke="{OUTAGE_COLOR}"/>', "down (outage)"),
    "pools": (f'<rect width="12" height="12" fill="{HELD_COLOR}" fill-opacity="0.75"/>',
              "units held"),
    "release": (f'<line x1="6" y1="-1" x2="6" y2="13" stroke="{RELEASE_COLOR}" '
                'stroke-width="2"/>', "earliest start"),
    "due": (f'<line x1="6" y1="-1" x2="6" y2="13" stroke="{OUTAGE_COLOR}" stroke-width="2"/>',
            "deadline (dashed: soft)"),
    "capacity": (f'<line x1="0" y1="6" x2="12" y2="6" stroke="{CAPACITY_COLOR}" '
                 'stroke-dasharray="4 2" stroke-width="1.5"/>', "capacity"),
}


def legend(kinds: Sequence[str], shown: Sequence[str]) -> str:
    """Swatches for the stage kinds and the ``shown`` keys of ``LEGEND`` (what the charts
    use: outages, pools, release and due markers, capacity)."""
    items = [(f'<rect width="12" height="12" rx="2" fill="{FIXED_COLORS.get(k, OTHER_COLOR)}"/>',
              k) for k in kinds]
    items += [LEGEND[key] for key in LEGEND if key in shown]
    parts, x = [], 0
    for swatch, text in items:
        parts.append(f'<g transform="translate({x},4)">{swatch}'
                     f'<text class="lbl" x="18" y="11">{esc(text)}</text></g>')
        x += 30 + 7 * len(text)
    return (f'<svg class="chart legend" viewBox="0 0 {x} 20" width="{x}" height="20" '
            f'role="img" aria-label="legend"><title>legend</title>{hatch("legend")}'
            f'{"".join(parts)}</svg>')
