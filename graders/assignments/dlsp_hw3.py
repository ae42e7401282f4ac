"""dlsp-hw3, Practical Deep Learning System Performance Homework 3 (Fall 2020). Key only so
far: adaptive methods (1), scaling metrics (2), CNN arithmetic (3), augmentation (4) and
depth vs width (5); grading comes with its issue."""

from __future__ import annotations

from graders.assignment import Problem
from graders.config import AssignmentConfig
from graders.keys import build_topics

TOLERANCES: set[str] = set()
CONVENTIONS: dict[str, list[str]] = {}


def build_key(params: dict) -> dict:
    return build_topics(["adaptive", "scaling", "cnn", "augmentation", "depth_width"], params)


def problems(key: dict, cfg: AssignmentConfig) -> list[Problem]:
    return []
