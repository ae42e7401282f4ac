"""duke-hw4, ECE590-03 Homework #4 (Fall 2020). Key only so far: the sparse lab (Lab 1, the
same lab as duke-hw2 3.x) and the quantisation arithmetic of Lab 2; grading comes with its
issue."""

from __future__ import annotations

from graders.assignment import Problem
from graders.config import AssignmentConfig
from graders.keys import build_topics

TOLERANCES: set[str] = set()
CONVENTIONS: dict[str, list[str]] = {}


def build_key(params: dict) -> dict:
    return build_topics(["sparse", "quantization"], params)


def problems(key: dict, cfg: AssignmentConfig) -> list[Problem]:
    return []
