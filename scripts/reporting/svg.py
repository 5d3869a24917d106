"""Small inline-SVG plots: lines (with bands), bars, histograms and a heatmap.

Written by hand rather than with a plotting library: no new image dependency, no JavaScript,
text escaped, a viewBox so plots scale with the page, and the same input gives the same bytes
(numbers are printed with fixed precision, nothing random or time-dependent).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f")
WIDTH, HEIGHT = 440, 300
MARGIN = {"left": 58, "right": 14, "top": 30, "bottom": 44}
LEGEND_ROW = 14  # legends sit in rows between the title and the plot, never over the data
MAX_POINTS = 600  # longer lines are thinned evenly: a plot is not a data dump


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def num(x: float) -> str:
    """Fixed precision, no '-0', so output is byte-stable."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def label(x: float) -> str:
    """A tick or value label: short, readable."""
    if x == 0:
        return "0"
    magnitude = abs(x)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{x:.2g}"
    if magnitude >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    step = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * step:
            step *= multiple
            break
    start = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


@dataclass(frozen=True)
class Line:
    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str | None = None
    dashed: bool = False
    low: Sequence[float] | None = None  # an interval band around the line
    high: Sequence[float] | None = None
    points: bool = False


class _Frame:
    """Maps data coordinates into the plot area of one SVG."""

    def __init__(self, x_range, y_range, width=WIDTH, height=HEIGHT, legend_rows: int = 0):
        self.width, self.height = width, height
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1
        self.left, self.top = MARGIN["left"], MARGIN["top"] + LEGEND_ROW * legend_rows
        self.right, self.bottom = width - MARGIN["right"], height - MARGIN["bottom"]

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)


def _open(name: str, title: str, width=WIDTH, height=HEIGHT) -> list[str]:
    return [
        f'<svg class="plot" data-plot="{esc(name)}" role="img" aria-label="{esc(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{esc(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{num(width / 2)}" y="18" text-anchor="middle" font-size="13" font-weight="bold">{esc(title)}</text>',
    ]


def _axes(frame: _Frame, x_ticks, y_ticks, x_label: str, y_label: str, x_tick_labels=None) -> list[str]:
    out = [f'<g font-size="10" fill="#333" stroke="none">']
    for tick in y_ticks:
        y = frame.y(tick)
        out.append(f'<line x1="{num(frame.left)}" y1="{num(y)}" x2="{num(frame.right)}" y2="{num(y)}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{num(frame.left - 4)}" y="{num(y + 3)}" text-anchor="end">{esc(label(tick))}</text>')
    for i, tick in enumerate(x_ticks):
        x = frame.x(tick)
        text = x_tick_labels[i] if x_tick_labels else label(tick)
        out.append(f'<line x1="{num(x)}" y1="{num(frame.bottom)}" x2="{num(x)}" y2="{num(frame.bottom + 4)}" stroke="#333"/>')
        out.append(f'<text x="{num(x)}" y="{num(frame.bottom + 15)}" text-anchor="middle">{esc(text)}</text>')
    out.append(
        f'<rect x="{num(frame.left)}" y="{num(frame.top)}" width="{num(frame.right - frame.left)}" '
        f'height="{num(frame.bottom - frame.top)}" fill="none" stroke="#333"/>'
    )
    out.append(
        f'<text x="{num((frame.left + frame.right) / 2)}" y="{num(frame.height - 8)}" text-anchor="middle" '
        f'font-size="11">{esc(x_label)}</text>'
    )
    cy = (frame.top + frame.bottom) / 2
    out.append(
        f'<text x="12" y="{num(cy)}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 12 {num(cy)})">{esc(y_label)}</text>'
    )
    out.append("</g>")
    return out


def _legend_layout(entries: list[tuple[str, str, bool]], left: float, right: float) -> list[tuple[float, int]]:
    """(x, row) of each entry, wrapping onto a new row when the next one would not fit."""
    x, row, places = left, 0, []
    for name, _, _ in entries:
        width = 26 + 6 * len(name)
        if x > left and x + width > right:
            x, row = left, row + 1
        places.append((x, row))
        x += width + 10
    return places


def legend_rows(entries: list[tuple[str, str, bool]], width: int = WIDTH) -> int:
    if not entries:
        return 0
    return 1 + max(row for _, row in _legend_layout(entries, MARGIN["left"], width - MARGIN["right"]))


def _legend(frame: "_Frame", entries: list[tuple[str, str, bool]]) -> list[str]:
    out = ['<g font-size="10">']
    for (name, color, dashed), (x, row) in zip(entries, _legend_layout(entries, frame.left, frame.right)):
        y = MARGIN["top"] + 2 + LEGEND_ROW * row
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        out.append(f'<line x1="{num(x)}" y1="{num(y)}" x2="{num(x + 16)}" y2="{num(y)}" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{num(x + 20)}" y="{num(y + 3)}">{esc(name)}</text>')
    out.append("</g>")
    return out


def _thin(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int)) if n else np.arange(0)


def _finite_extent(arrays: list[np.ndarray], fallback=(0.0, 1.0)) -> tuple[float, float]:
    values = np.concatenate([a[np.isfinite(a)] for a in arrays if len(a)]) if arrays else np.array([])
    if not len(values):
        return fallback
    low, high = float(values.min()), float(values.max())
    if high == low:
        low, high = low - 0.5, high + 0.5
    return low, high


def line_chart(name: str, title: str, lines: Sequence[Line], x_label: str = "", y_label: str = "",
               x_range=None, y_range=None, diagonal: bool = False, x_tick_labels: dict | None = None) -> str:
    """Lines with optional interval bands; `diagonal` draws y = x (a chance or perfect-calibration line)."""
    xs_all = [np.asarray(l.xs, float) for l in lines]
    ys_all = [np.asarray(l.ys, float) for l in lines]
    ys_all += [np.asarray(b, float) for l in lines for b in (l.low, l.high) if b is not None]
    x_range = x_range or _finite_extent(xs_all)
    if y_range is None:
        low, high = _finite_extent(ys_all)
        pad = 0.05 * (high - low)
        y_range = (low - pad, high + pad)
    entries = [(l.name, l.color or PALETTE[i % len(PALETTE)], l.dashed) for i, l in enumerate(lines)]
    frame = _Frame(x_range, y_range, legend_rows=legend_rows(entries))
    x_ticks = nice_ticks(*x_range)
    tick_names = [x_tick_labels.get(t, label(t)) for t in x_ticks] if x_tick_labels else None
    out = _open(name, title) + _axes(frame, x_ticks, nice_ticks(*y_range), x_label, y_label, tick_names)
    if diagonal:
        lo, hi = max(x_range[0], y_range[0]), min(x_range[1], y_range[1])
        out.append(f'<line x1="{num(frame.x(lo))}" y1="{num(frame.y(lo))}" x2="{num(frame.x(hi))}" '
                   f'y2="{num(frame.y(hi))}" stroke="#999" stroke-dasharray="3 3"/>')
    legend = []
    for i, line in enumerate(lines):
        color = line.color or PALETTE[i % len(PALETTE)]
        xs, ys = np.asarray(line.xs, float), np.asarray(line.ys, float)
        keep = _thin(len(xs))
        if line.low is not None and line.high is not None:
            lows, highs = np.asarray(line.low, float)[keep], np.asarray(line.high, float)[keep]
            ok = np.isfinite(lows) & np.isfinite(highs)
            upper = [f"{num(frame.x(x))},{num(frame.y(y))}" for x, y in zip(xs[keep][ok], highs[ok])]
            lower = [f"{num(frame.x(x))},{num(frame.y(y))}" for x, y in zip(xs[keep][ok][::-1], lows[ok][::-1])]
            if upper:
                out.append(f'<polygon points="{" ".join(upper + lower)}" fill="{color}" fill-opacity="0.15" stroke="none"/>')
        ok = np.isfinite(xs[keep]) & np.isfinite(ys[keep])
        coords = " ".join(f"{num(frame.x(x))},{num(frame.y(y))}" for x, y in zip(xs[keep][ok], ys[keep][ok]))
        dash = ' stroke-dasharray="5 3"' if line.dashed else ""
        out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.8"{dash}/>')
        if line.points:
            out += [f'<circle cx="{num(frame.x(x))}" cy="{num(frame.y(y))}" r="2.5" fill="{color}"/>'
                    for x, y in zip(xs[keep][ok], ys[keep][ok])]
        legend.append((line.name, color, line.dashed))
    out += _legend(frame, legend)
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(name: str, title: str, labels: Sequence[str], groups: Sequence[tuple[str, Sequence[float]]],
              x_label: str = "", height: int | None = None) -> str:
    """Horizontal bars, one row per label, one bar per group (e.g. challenger and champion)."""
    rows = len(labels)
    per_row = 8 + 10 * len(groups)
    height = height or MARGIN["top"] + MARGIN["bottom"] + max(rows, 1) * per_row + 10
    values = np.array([v for _, vs in groups for v in vs], float)
    finite = values[np.isfinite(values)]
    low = min(0.0, float(finite.min())) if len(finite) else 0.0
    high = max(0.0, float(finite.max())) if len(finite) else 1.0
    entries = [(group, PALETTE[g % len(PALETTE)], False) for g, (group, _) in enumerate(groups)] if len(groups) > 1 else []
    rows_of_legend = legend_rows(entries)
    height += LEGEND_ROW * rows_of_legend
    out = _open(name, title, WIDTH, height)
    ticks = nice_ticks(low, high if high > low else low + 1)
    if len(ticks) > 1 and ticks[-1] < high:  # the axis ends on a labelled tick
        ticks.append(round(ticks[-1] + ticks[1] - ticks[0], 12))
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    frame = _Frame((low, high if high > low else low + 1), (0, 1), WIDTH, height, legend_rows=rows_of_legend)
    frame.left = 150
    out += _axes(frame, ticks, [], x_label, "")
    zero = frame.x(0.0)
    legend = []
    for g, (group, vals) in enumerate(groups):
        color = PALETTE[g % len(PALETTE)]
        legend.append((group, color, False))
        for r, value in enumerate(vals):
            if not math.isfinite(value):
                continue
            y = frame.top + 5 + r * per_row + g * 10
            x_end = frame.x(value)
            out.append(f'<rect x="{num(min(zero, x_end))}" y="{num(y)}" width="{num(abs(x_end - zero))}" height="9" '
                       f'fill="{color}"><title>{esc(labels[r])} ({esc(group)}): {esc(label(value))}</title></rect>')
    out.append('<g font-size="10">')
    for r, text in enumerate(labels):
        y = frame.top + 5 + r * per_row + 5 * len(groups) + 3
        shown = text if len(text) <= 24 else text[:23] + "\u2026"
        out.append(f'<text x="{num(frame.left - 4)}" y="{num(y)}" text-anchor="end">{esc(shown)}</text>')
    out.append("</g>")
    if len(groups) > 1:
        out += _legend(frame, legend)
    out.append("</svg>")
    return "\n".join(out)


def histogram(name: str, title: str, groups: Sequence[tuple[str, Sequence[float]]], bins: int = 30,
              x_label: str = "", y_label: str = "share") -> str:
    """Overlaid step histograms on shared bins, as shares so groups of different sizes compare."""
    arrays = [np.asarray(v, float) for _, v in groups]
    arrays = [a[np.isfinite(a)] for a in arrays]
    low, high = _finite_extent(arrays)
    edges = np.linspace(low, high, bins + 1)
    shares = []
    for a in arrays:
        counts = np.histogram(a, bins=edges)[0].astype(float)
        shares.append(counts / counts.sum() if counts.sum() else counts)
    top = max([float(s.max()) for s in shares if len(s)] + [1e-9]) * 1.08
    entries = [(group, PALETTE[g % len(PALETTE)], False) for g, (group, _) in enumerate(groups)]
    frame = _Frame((low, high), (0, top), legend_rows=legend_rows(entries))
    out = _open(name, title) + _axes(frame, nice_ticks(low, high), nice_ticks(0, top), x_label, y_label)
    legend = []
    for g, ((group, _), share) in enumerate(zip(groups, shares)):
        color = PALETTE[g % len(PALETTE)]
        points = [f"{num(frame.x(edges[0]))},{num(frame.y(0))}"]
        for i, s in enumerate(share):
            points += [f"{num(frame.x(edges[i]))},{num(frame.y(s))}", f"{num(frame.x(edges[i + 1]))},{num(frame.y(s))}"]
        points.append(f"{num(frame.x(edges[-1]))},{num(frame.y(0))}")
        out.append(f'<polygon points="{" ".join(points)}" fill="{color}" fill-opacity="0.18" stroke="{color}" stroke-width="1.5"/>')
        legend.append((group, color, False))
    out += _legend(frame, legend)
    out.append("</svg>")
    return "\n".join(out)


def heatmap(name: str, title: str, matrix: Sequence[Sequence[float]], row_labels: Sequence[str],
            col_labels: Sequence[str], row_title: str = "", col_title: str = "") -> str:
    """A labelled grid of counts, shaded by each cell's share of its row."""
    values = np.asarray(matrix, float)
    rows, cols = values.shape
    cell = 64
    width = max(WIDTH, MARGIN["left"] + 60 + cols * cell + 20)
    height = MARGIN["top"] + 24 + rows * cell + 40
    out = _open(name, title, width, height)
    left, top = (width - cols * cell) / 2 + 20, MARGIN["top"] + 24
    row_sums = values.sum(axis=1, keepdims=True)
    shares = np.divide(values, row_sums, out=np.zeros_like(values), where=row_sums > 0)
    out.append('<g font-size="11">')
    for c, text in enumerate(col_labels):
        out.append(f'<text x="{num(left + c * cell + cell / 2)}" y="{num(top - 6)}" text-anchor="middle">{esc(text)}</text>')
    for r, text in enumerate(row_labels):
        out.append(f'<text x="{num(left - 6)}" y="{num(top + r * cell + cell / 2 + 4)}" text-anchor="end">{esc(text)}</text>')
        for c in range(cols):
            share = shares[r, c]
            shade = int(round(255 - 180 * share))
            fill = f"rgb({shade},{shade},255)"
            ink = "#ffffff" if share > 0.6 else "#000000"
            out.append(f'<rect x="{num(left + c * cell)}" y="{num(top + r * cell)}" width="{cell}" height="{cell}" '
                       f'fill="{fill}" stroke="#333"/>')
            out.append(f'<text x="{num(left + c * cell + cell / 2)}" y="{num(top + r * cell + cell / 2 + 4)}" '
                       f'text-anchor="middle" fill="{ink}">{esc(label(values[r, c]))}</text>')
    out.append(f'<text x="{num(left + cols * cell / 2)}" y="{num(top + rows * cell + 20)}" text-anchor="middle">{esc(col_title)}</text>')
    cy = top + rows * cell / 2
    rx = left - 56
    out.append(f'<text x="{num(rx)}" y="{num(cy)}" text-anchor="middle" transform="rotate(-90 {num(rx)} {num(cy)})">{esc(row_title)}</text>')
    out.append("</g></svg>")
    return "\n".join(out)


def page(title: str, sections: Sequence[str], subtitle: str = "") -> str:
    """One self-contained HTML page: inline CSS, inline SVG, no scripts, no external references."""
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        "<style>",
        "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}",
        "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}",
        ".sub{color:#666;margin:0 0 12px}.grid{display:flex;flex-wrap:wrap;gap:14px}",
        "svg.plot{max-width:100%;height:auto;border:1px solid #eee}",
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}",
        "th{background:#f5f5f5}td.l,th.l{text-align:left}tr.flagged td{background:#fde8e8}",
        ".note{color:#555;font-size:13px}",
        "</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="sub">{esc(subtitle)}</p>' if subtitle else "",
        *sections,
        "</body></html>",
        "",
    ])


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1,
          row_classes: Sequence[str] | None = None) -> str:
    """An HTML table; the first `left` columns are left-aligned text, numbers are formatted."""
    def cell(value: object, i: int, tag: str) -> str:
        css = ' class="l"' if i < left else ""
        if isinstance(value, float):
            value = "" if not math.isfinite(value) else f"{value:.4g}"
        return f"<{tag}{css}>{esc(value)}</{tag}>"

    out = ["<table>", "<tr>" + "".join(cell(h, i, "th") for i, h in enumerate(headers)) + "</tr>"]
    for r, row in enumerate(rows):
        css = f' class="{esc(row_classes[r])}"' if row_classes and row_classes[r] else ""
        out.append(f"<tr{css}>" + "".join(cell(v, i, "td") for i, v in enumerate(row)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)
