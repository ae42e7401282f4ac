"""The class summary page of a batch: OUT/index.html, written from the batch's GradeResults.

It shows the distribution of totals (an inline SVG histogram), the pass rate of every problem
and check, the conventions students matched, the submissions an instructor must look at
(`flags`), the manual-grading queue and a link to every report (OUT/<student>/report.html,
relative, so the folder can be moved or zipped). Static HTML: no JavaScript, no CDN, nothing
fetched. Rates are over the submissions that could be graded (no `error`); totals are the final
marks in the announced points.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from markupsafe import Markup

from graders.grading import GradeResult
from graders.identity import folder_name
from graders.report import environment, write_atomic

#: Check kinds whose lost points mean "look at this submission" (a plausibility band: an
#: accuracy outside the reference runs' band may be a bug of ours or a forged number).
FLAGGED_KINDS = frozenset({"band"})
BINS = 10


@dataclass
class CheckRate:
    problem: str
    id: str
    title: str
    kind: str
    full: int  # submissions with full marks
    graded: int
    mean_fraction: float  # mean points / max points
    variants: list[tuple[str, int]] = field(default_factory=list)  # convention, submissions


@dataclass
class ProblemRate:
    id: str
    title: str
    full: int  # submissions with every automatic point of the problem
    graded: int
    mean_fraction: float  # of the automatic points; 0 for a problem with none
    auto_max: float
    checks: list[CheckRate]


@dataclass
class ManualItem:
    """One problem's manual parts: what is pending and which students wrote an answer."""
    problem: str
    title: str
    parts: list[tuple[str, str, float]]  # id, prompt, points
    pending: int  # submissions with at least one part of this problem not yet graded
    answered: list[str]  # students with a free-text answer cell
    unanswered: list[str]
    recorded: list[tuple[str, str, str]]  # student, part, answer recorded (an unkeyed T/F)


def report_link(student: str) -> str:
    """The address of `student`'s report relative to the class page (its folder is named by
    graders.identity.folder_name, as the batch names it)."""
    return f"{quote(folder_name(student), safe='')}/report.html"


def flags(result: GradeResult) -> list[str]:
    """Why an instructor must look at this submission: every limit hit, the error that kept it
    from being graded (and then nothing else), or every check of a FLAGGED_KINDS kind that
    lost points, with its instructor-only detail (a band check's bands and reference values)
    beside its message. Empty if none."""
    if result.error:
        return [*result.limits_hit, result.error]
    return [*result.limits_hit, *(f"{p.id} {c.title}: {c.message}"
                                  + (f" [{c.detail}]" if c.detail else "")
                                  for p in result.problems for c in p.checks
                                  if c.kind in FLAGGED_KINDS and c.points < c.max_points)]


def problem_rates(results: list[GradeResult]) -> list[ProblemRate]:
    """Per problem (in the assignment's order) and per check: how many graded submissions
    earned full marks, the mean fraction of points, and the conventions matched."""
    graded = [r for r in results if r.error is None]
    rates: list[ProblemRate] = []
    order = results[0].problems if results else []
    for index, first in enumerate(order):
        problems = [r.problems[index] for r in graded]
        checks = []
        for c_index, check in enumerate(first.checks):
            scored = [p.checks[c_index] for p in problems]
            variants = Counter(c.variant for c in scored if c.variant)
            checks.append(CheckRate(first.id, check.id, check.title, check.kind,
                                    sum(c.points >= c.max_points for c in scored), len(scored),
                                    _mean([c.points / c.max_points for c in scored
                                           if c.max_points]), variants.most_common()))
        auto_max = sum(c.max_points for c in first.checks)
        rates.append(ProblemRate(
            first.id, first.title,
            sum(p.points >= auto_max for p in problems) if auto_max else 0, len(problems),
            _mean([p.points / auto_max for p in problems]) if auto_max else 0.0,
            auto_max, checks))
    return rates


def manual_queue(results: list[GradeResult]) -> list[ManualItem]:
    """Every problem with manual parts: the parts, how many submissions still wait for the
    instructor, who wrote a free-text answer and who did not, and the answers recorded for
    the parts (a True/False value with no shipped key)."""
    queue = []
    for index, first in enumerate(results[0].problems if results else []):
        if not first.manual:
            continue
        problems = [(r.student, r.problems[index]) for r in results]
        queue.append(ManualItem(
            first.id, first.title, [(m.id, m.prompt, m.max_points) for m in first.manual],
            sum(any(m.points is None for m in p.manual) for _, p in problems),
            [s for s, p in problems if p.text], [s for s, p in problems if not p.text],
            [(s, m.id, m.answer) for s, p in problems for m in p.manual
             if m.answer is not None]))
    return queue


def histogram(totals: list[float], top: float) -> Markup:
    """Inline SVG bars: how many totals fall in each of BINS equal bins from 0 to `top`, with
    one more bin for totals above `top` (extra credit) when there are any."""
    width, height, left, bottom, top_pad = 520, 200, 40, 36, 16
    step = (top or 1.0) / BINS
    counts = [0] * (BINS + 1)
    for total in totals:
        counts[BINS if total > top else min(int(max(total, 0.0) / step), BINS - 1)] += 1
    bins = BINS + 1 if counts[BINS] else BINS
    labels = [f"{i * step:g}–{(i + 1) * step:g}" for i in range(BINS)] + [f">{top:g}"]
    peak = max(counts) or 1
    bar = (width - left - 10) / bins
    scale = (height - bottom - top_pad) / peak
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'role="img" aria-label="distribution of totals" class="plot">',
             f'<line x1="{left}" x2="{width - 10}" y1="{height - bottom}" '
             f'y2="{height - bottom}" stroke="#999"/>']
    for i in range(bins):
        x, h = left + i * bar, counts[i] * scale
        parts.append(f'<rect x="{x + 2:.1f}" y="{height - bottom - h:.1f}" '
                     f'width="{bar - 4:.1f}" height="{h:.1f}" fill="#1f77b4"/>')
        if counts[i]:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom - h - 3:.1f}" '
                         f'font-size="11" text-anchor="middle">{counts[i]}</text>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 14}" font-size="10" '
                     f'text-anchor="middle">{labels[i]}</text>')
    parts.append(f'<text x="{(left + width) / 2}" y="{height - 4}" font-size="11" '
                 f'text-anchor="middle">total (of {top:g})</text>')
    parts.append(f'<text x="12" y="{(height - bottom) / 2}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {(height - bottom) / 2})">submissions</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def write_class_page(results: list[GradeResult], folder: Path, title: str) -> Path:
    """Write folder/index.html for `results` (one assignment's batch, whose reports are at
    folder/<student>/report.html) and return its path."""
    totals = [r.total for r in results]
    top = results[0].max_points if results else 0.0
    stats = {"count": len(results), "graded": sum(r.error is None for r in results),
             "mean": _mean(totals), "median": statistics.median(totals) if totals else 0.0,
             "min": min(totals, default=0.0), "max": max(totals, default=0.0), "top": top}
    students = sorted(results, key=lambda r: r.student)
    html = environment().get_template("index.html.j2").render(
        title=title, results=students, stats=stats, histogram=histogram(totals, top),
        problems=problem_rates(results), queue=manual_queue(results),
        flagged=[(r, flags(r)) for r in students if flags(r)], flags=flags, link=report_link,
        pending=lambda r: r.pending_points)
    path = folder / "index.html"
    write_atomic(path, html)
    return path


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
