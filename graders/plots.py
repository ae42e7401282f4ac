"""Inline SVG line plots for the reports: no JavaScript, no CDN, readable offline.

A plot is a few polylines (one per series: the student's solid, the key's dashed, an optional
shaded band for an envelope of reference runs) on linear axes with ticks. Values below the
plot's floor are drawn at the floor; NaN and inf points break the line.
"""

from __future__ import annotations

import math

import numpy as np
from markupsafe import Markup, escape

WIDTH, HEIGHT = 520, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 110, 24, 34
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def line_plot(title: str, ylabel: str, student: np.ndarray | None, key: np.ndarray | None,
              band: tuple[np.ndarray, np.ndarray] | None = None,
              labels: tuple[str, ...] = ()) -> Markup:
    """student, key: (steps, series) arrays (either may be None); band: (low, high) like key."""
    arrays = [np.asarray(a, float) for a in (student, key) if a is not None]
    arrays += [np.asarray(b, float) for b in band] if band else []
    finite = np.concatenate([a[np.isfinite(a)].ravel() for a in arrays]) if arrays else []
    if len(finite) == 0:
        return Markup(f'<p class="noplot">No finite values to plot for {escape(title)}.</p>')
    lo, hi = float(np.min(finite)), float(np.max(finite))
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    steps = max(a.shape[0] for a in arrays)
    x = lambda i: LEFT + (WIDTH - LEFT - RIGHT) * i / max(steps - 1, 1)  # noqa: E731
    y = lambda v: TOP + (HEIGHT - TOP - BOTTOM) * (hi - v) / (hi - lo)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'role="img" aria-label="{escape(title)}" class="plot">',
             f'<text x="{LEFT}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>']
    for t in _ticks(lo, hi):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                     'stroke="#eee"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y(t) + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{t:g}</text>')
    for t in _ticks(0, steps - 1):
        parts.append(f'<text x="{x(t):.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="10" '
                     f'text-anchor="middle">{t:g}</text>')
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 4}" font-size="11" '
                 f'text-anchor="middle">step</text>')
    parts.append(f'<text x="12" y="{(TOP + HEIGHT - BOTTOM) / 2}" font-size="11" '
                 f'transform="rotate(-90 12 {(TOP + HEIGHT - BOTTOM) / 2})" '
                 f'text-anchor="middle">{escape(ylabel)}</text>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
                 f'height="{HEIGHT - TOP - BOTTOM}" fill="none" stroke="#999"/>')
    series = arrays[0].shape[1] if arrays[0].ndim == 2 else 1
    if band:
        low, high = (np.asarray(b, float).reshape(steps, -1) for b in band)
        for s in range(low.shape[1]):
            upper = [f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(high[:, s])]
            lower = [f"{x(i):.1f},{y(v):.1f}" for i, v in reversed(list(enumerate(low[:, s])))]
            parts.append(f'<polygon points="{" ".join(upper + lower)}" '
                         f'fill="{COLORS[s % len(COLORS)]}" opacity="0.12"/>')
    for data, dash in ((key, ' stroke-dasharray="5,3"'), (student, "")):
        if data is None:
            continue
        data = np.asarray(data, float).reshape(np.asarray(data).shape[0], -1)
        for s in range(data.shape[1]):
            for run in _runs(data[:, s]):
                points = " ".join(f"{x(i):.1f},{y(min(max(v, lo), hi)):.1f}" for i, v in run)
                parts.append(f'<polyline points="{points}" fill="none" stroke-width="1.6" '
                             f'stroke="{COLORS[s % len(COLORS)]}"{dash}/>')
    legend_x = WIDTH - RIGHT + 10
    for s in range(series):
        label = labels[s] if s < len(labels) else f"series {s + 1}"
        parts.append(f'<text x="{legend_x}" y="{TOP + 14 * s + 10}" font-size="11" '
                     f'fill="{COLORS[s % len(COLORS)]}">{escape(label)}</text>')
    parts.append(f'<text x="{legend_x}" y="{TOP + 14 * series + 20}" font-size="10">'
                 '— student</text>')
    parts.append(f'<text x="{legend_x}" y="{TOP + 14 * series + 34}" font-size="10">'
                 '-- key</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _runs(values: np.ndarray):
    """Consecutive finite stretches of (index, value) pairs."""
    run = []
    for i, v in enumerate(values):
        if np.isfinite(v):
            run.append((i, float(v)))
        elif run:
            yield run
            run = []
    if run:
        yield run
