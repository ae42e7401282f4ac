"""Inline SVG line plots for the reports: no JavaScript, no CDN, readable offline.

A plot is a few polylines (one per series: the student's solid, the key's dashed, an optional
shaded band for an envelope of reference runs) on linear axes with ticks. Values below the
plot's floor are drawn at the floor; NaN and inf points break the line.

The vertical axis runs over the values' range padded by 5 % and widened to the next quarter
of a tick step, so answers close to the key share its axes; the key's and the band's SVG
(the same for every student of a batch) are then drawn once per process and reused, as is
each plot's frame (grid, ticks, labels, legend); the student's own curves, different in every
report, are drawn each time. Their coordinates are computed and written out with numpy, a
table at a time (a report's student curves hold some 30,000 points; written number by
number, they took ~20 ms of a report's ~25).
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
    """(x, y) pixel coordinates of values[i] (a number, or a row of series) at step i,
    values clipped to [lo, hi]: x of shape (steps,), y of the values' shape."""
    x = LEFT + (WIDTH - LEFT - RIGHT) * np.arange(len(values)) / max(steps - 1, 1)
    y = TOP + (HEIGHT - TOP - BOTTOM) * (hi - np.clip(values, lo, hi)) / (hi - lo)
    return x, y


def _number_codes() -> np.ndarray:
    """For each t in 0..9999, the ASCII codes of t / 10 written with one decimal and a
    comma, "ddd.d,", in 6 bytes: (10000, 6) uint8, a leading zero's place 0 (dropped)."""
    tenths = np.arange(10_000)[:, None]
    codes = np.zeros((10_000, 6), np.uint8)
    codes[:, [0, 1, 2, 4]] = 48 + tenths // [1000, 100, 10, 1] % 10
    codes[:, 3], codes[:, 5] = ord("."), ord(",")
    codes[:, 0][tenths[:, 0] < 1000] = 0
    codes[:, 1][tenths[:, 0] < 100] = 0
    return codes


_NUMBERS = _number_codes()
_LENGTHS = np.count_nonzero(_NUMBERS, axis=1)  # characters of each, the comma included


def _tenths(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points of any (broadcast) shape S as (*S, 2) whole tenths of a pixel, coordinates
    clipped to [0, 999.9] (f"{v:.1f}" would write the same, but at an exact tie in the
    second decimal, where it may take the other tenth)."""
    tenths = np.rint(np.clip(np.stack(np.broadcast_arrays(x, y), axis=-1), 0, 999.9) * 10)
    return tenths.astype(np.intp)


def _codes(tenths: np.ndarray) -> np.ndarray:
    """The ASCII codes of "x,y " for each point of _tenths: (*S, 2, 6) uint8, 0 where a
    leading zero was dropped (a point's length in characters: _LENGTHS[tenths].sum(-1))."""
    codes = _NUMBERS[tenths]
    codes[..., 1, 5] = ord(" ")
    return codes


def _points(x: np.ndarray, y: np.ndarray) -> str:
    """"x,y x,y ..." (an SVG polyline's points)."""
    codes = _codes(_tenths(x, y)).ravel()
    return codes[codes != 0].tobytes().decode("ascii")[:-1]


KEY_DASH = ' stroke-dasharray="5,3"'


def _series(data: np.ndarray, lo: float, hi: float, steps: int, dash: str = "") -> str:
    """Polylines of a (steps, series) array: one per finite stretch of each series."""
    finite = np.isfinite(data)
    x, y = _coordinates(np.where(finite, data, lo), lo, hi, steps)
    tenths = _tenths(x[:, None], y)  # (rows, series, 2)
    return _polylines(tenths.tobytes(), finite.tobytes(), tenths.shape, dash)


@functools.lru_cache(maxsize=1024)
def _polylines(tenths: bytes, finite: bytes, shape: tuple, dash: str) -> str:
    """_series' polylines from its points in tenths of a pixel (rows, series, 2) and where
    the values are finite (rows, series), given as bytes: curves that land on the same
    pixels (a class's right answers, the key's) are written once. The points of every series
    are written as one text, then cut at each stretch's ends; a point on the straight line
    between its neighbours is left out (_needed)."""
    tenths = np.frombuffer(tenths, dtype=np.intp).reshape(shape)
    finite = np.frombuffer(finite, dtype=bool).reshape(shape[:2])
    needed = _needed(tenths, finite)
    codes = _codes(tenths)
    codes[~needed] = 0
    codes = codes.transpose(1, 0, 2, 3).ravel()
    text = codes[codes != 0].tobytes().decode("ascii")
    rows, series = shape[:2]
    lengths = _LENGTHS[tenths].sum(axis=-1) * needed
    ends = np.cumsum(lengths.T).tolist()  # after point s * rows + i
    parts = []
    for s in range(series):
        for start, stop in _stretches(finite[:, s]):
            first = ends[s * rows + start - 1] if s * rows + start else 0
            points = text[first:ends[s * rows + stop - 1] - 1]  # without the last separator
            parts.append(f'<polyline points="{points}" '
                         f'fill="none" stroke-width="1.6" '
                         f'stroke="{COLORS[s % len(COLORS)]}"{dash}/>')
    return "".join(parts)


def _needed(tenths: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Which points of (rows, series, 2) whole tenths a polyline needs, (rows, series) bool:
    all but a point with finite neighbours on both sides that lies on the segment between
    them (cross product 0, and between: dot product of its two steps >= 0). Left out, the
    line drawn is the same, pixel for pixel: a run of such points lies on one line with the
    points around it. A converged curve's flat tail and a straight stretch are two points;
    a student's report is about half the size (duke-hw2: 0.98 -> ~0.55 MB)."""
    needed = np.ones(finite.shape, bool)
    if len(tenths) < 3:
        return needed
    before, here, after = tenths[:-2], tenths[1:-1], tenths[2:]
    into, on = here - before, after - here
    cross = into[..., 0] * on[..., 1] - into[..., 1] * on[..., 0]
    dot = (into * on).sum(axis=-1)
    inside = finite[:-2] & finite[1:-1] & finite[2:]
    needed[1:-1] = ~((cross == 0) & (dot >= 0) & inside)
    return needed


@functools.lru_cache(maxsize=256)
def _key_series(data: bytes, shape: tuple, lo: float, hi: float, steps: int) -> str:
    """A key's (steps, series) array, given as bytes, drawn dashed: once per axes."""
    return _series(np.frombuffer(data).reshape(shape), lo, hi, steps, KEY_DASH)


@functools.lru_cache(maxsize=64)
def _band(low: bytes, high: bytes, shape: tuple, lo: float, hi: float, steps: int) -> str:
    """Shaded polygons between low and high, (steps, series) arrays given as bytes."""
    low, high = (np.frombuffer(b).reshape(shape) for b in (low, high))
    parts = []
    x, upper = _coordinates(high, lo, hi, steps)
    _, lower = _coordinates(low, lo, hi, steps)
    for s in range(shape[1]):
        points = _points(np.concatenate([x, x[::-1]]),
                         np.concatenate([upper[:, s], lower[::-1, s]]))
        parts.append(f'<polygon points="{points}" fill="{COLORS[s % len(COLORS)]}" '
                     'opacity="0.12"/>')
    return "".join(parts)


def _stretches(finite: np.ndarray):
    """(start, stop) of each run of True in `finite`."""
    if finite.all():
        return [(0, len(finite))] if len(finite) else []
    edges = np.diff(np.concatenate([[0], finite.astype(np.int8), [0]]))
    return zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist())


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
    series = arrays[0].shape[1] if arrays[0].ndim == 2 else 1
    parts = [_frame(title, ylabel, lo, hi, steps)]
    if band:
        low, high = (_table(b, steps) for b in band)
        parts.append(_band(low.tobytes(), high.tobytes(), low.shape, lo, hi, steps))
    if key is not None:
        key = _table(key)
        parts.append(_key_series(key.tobytes(), key.shape, lo, hi, steps))
    if student is not None:
        parts.append(_series(_table(student), lo, hi, steps))
    parts.append(_legend(series, tuple(labels)))
    return Markup("".join(parts))


@functools.lru_cache(maxsize=256)
def _frame(title: str, ylabel: str, lo: float, hi: float, steps: int) -> str:
    """The plot's opening, title, grid, ticks, axis labels and box: the same for every
    student whose values share the key's axes, so drawn once per axes."""
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
    return "".join(parts)


@functools.lru_cache(maxsize=64)
def _legend(series: int, labels: tuple[str, ...]) -> str:
    """The series' names in their colours, the line styles, and the plot's end."""
    legend_x = WIDTH - RIGHT + 10
    parts = []
    for s in range(series):
        label = labels[s] if s < len(labels) else f"series {s + 1}"
        parts.append(f'<text x="{legend_x}" y="{TOP + 14 * s + 10}" font-size="11" '
                     f'fill="{COLORS[s % len(COLORS)]}">{escape(label)}</text>')
    parts.append(f'<text x="{legend_x}" y="{TOP + 14 * series + 20}" font-size="10">'
                 '— student</text>')
    parts.append(f'<text x="{legend_x}" y="{TOP + 14 * series + 34}" font-size="10">'
                 '-- key</text>')
    parts.append("</svg>")
    return "".join(parts)

