"""Inline SVG line plots for the reports: no JavaScript, no CDN, readable offline.

A plot is a few polylines (one per series: the student's solid, the key's dashed, an optional
shaded band for an envelope of reference runs) on linear axes with ticks. Values below the
plot's floor are drawn at the floor; NaN and inf points break the line.

The vertical axis runs over the values' range padded by 5 % and widened to the next quarter
of a tick step, so answers close to the key share its axes; the key's and the band's SVG
(the same for every student of a batch) are then drawn once per process and reused.
Coordinates are computed with numpy, a series at a time.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from markupsafe import Markup, escape

WIDTH, HEIGHT = 520, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 110, 24, 34
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _step(lo: float, hi: float, count: int = 5) -> float:
    """The tick spacing: 1, 2 or 5 times a power of ten, about (hi - lo) / count."""
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    return step * next(m for m in (1, 2, 5, 10) if m * step >= raw)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    step = _step(lo, hi, count)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def _axis(lo: float, hi: float) -> tuple[float, float]:
    """[lo, hi] padded by 5 % and widened outwards to multiples of a quarter tick step."""
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    quarter = _step(lo, hi) / 4
    return math.floor(lo / quarter) * quarter, math.ceil(hi / quarter) * quarter


def _coordinates(values: np.ndarray, lo: float, hi: float, steps: int):
    """(x, y) pixel coordinates of values[i] at step i, values clipped to [lo, hi]."""
    x = LEFT + (WIDTH - LEFT - RIGHT) * np.arange(len(values)) / max(steps - 1, 1)
    y = TOP + (HEIGHT - TOP - BOTTOM) * (hi - np.clip(values, lo, hi)) / (hi - lo)
    return x.tolist(), y.tolist()


def _points(x: list[float], y: list[float]) -> str:
    return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y))


@functools.lru_cache(maxsize=256)
def _series(data: bytes, shape: tuple, lo: float, hi: float, steps: int, dash: str) -> str:
    """Polylines of a (steps, series) array given as bytes: one per finite stretch of each
    series. Cached: a key curve is drawn once per axes."""
    data = np.frombuffer(data).reshape(shape)
    parts = []
    for s in range(shape[1]):
        x, y = _coordinates(data[:, s], lo, hi, steps)
        finite = np.isfinite(data[:, s]).tolist()
        for start, stop in _stretches(finite):
            parts.append(f'<polyline points="{_points(x[start:stop], y[start:stop])}" '
                         f'fill="none" stroke-width="1.6" '
                         f'stroke="{COLORS[s % len(COLORS)]}"{dash}/>')
    return "".join(parts)


@functools.lru_cache(maxsize=64)
def _band(low: bytes, high: bytes, shape: tuple, lo: float, hi: float, steps: int) -> str:
    """Shaded polygons between low and high, (steps, series) arrays given as bytes."""
    low, high = (np.frombuffer(b).reshape(shape) for b in (low, high))
    parts = []
    for s in range(shape[1]):
        x, upper = _coordinates(high[:, s], lo, hi, steps)
        _, lower = _coordinates(low[:, s], lo, hi, steps)
        points = _points(x + x[::-1], upper + lower[::-1])
        parts.append(f'<polygon points="{points}" fill="{COLORS[s % len(COLORS)]}" '
                     'opacity="0.12"/>')
    return "".join(parts)


def _stretches(finite: list[bool]):
    """(start, stop) of each run of True in `finite`."""
    start = None
    for i, ok in enumerate(finite + [False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            yield start, i
            start = None


def _table(values, steps: int | None = None) -> np.ndarray:
    """A (rows, series) float64 C array (rows = `steps` where given)."""
    values = np.asarray(values, float)
    return np.ascontiguousarray(values.reshape(steps or values.shape[0], -1))


def line_plot(title: str, ylabel: str, student: np.ndarray | None, key: np.ndarray | None,
              band: tuple[np.ndarray, np.ndarray] | None = None,
              labels: tuple[str, ...] = ()) -> Markup:
    """student, key: (steps, series) arrays (either may be None); band: (low, high) like key."""
    arrays = [np.asarray(a, float) for a in (student, key) if a is not None]
    arrays += [np.asarray(b, float) for b in band] if band else []
    finite = np.concatenate([a[np.isfinite(a)].ravel() for a in arrays]) if arrays else []
    if len(finite) == 0:
        return Markup(f'<p class="noplot">No finite values to plot for {escape(title)}.</p>')
    lo, hi = _axis(float(np.min(finite)), float(np.max(finite)))
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
        low, high = (_table(b, steps) for b in band)
        parts.append(_band(low.tobytes(), high.tobytes(), low.shape, lo, hi, steps))
    for data, dash in ((key, ' stroke-dasharray="5,3"'), (student, "")):
        if data is not None:
            data = _table(data)
            parts.append(_series(data.tobytes(), data.shape, lo, hi, steps, dash))
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

