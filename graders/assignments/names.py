"""The names the grader reads in a submission: the problem's number, then what it holds.

    graded("2.3", "terngrad")  -> "p2_3_terngrad"     (duke-hw2 Problem 2.3)
    graded("3.6", "W_prune")   -> "p3_6_W_prune"
    graded("L1.b", "logL")     -> "lab1_b_logL"       (duke-hw4 Lab 1 (b))
    graded("1", "true_false")  -> "p1_true_false"     (the True/False section)

A student's own helpers are free to be called `terngrad`, `W_prox` or `logL`: no graded name
can collide with them, and the prefix says which problem a name answers.
"""

from __future__ import annotations


def prefix(problem_id: str) -> str:
    """"2.3" -> "p2_3", "L1.b" -> "lab1_b"."""
    text = problem_id.lower().replace(".", "_")
    return "lab" + text[1:] if text.startswith("l") else "p" + text


def graded(problem_id: str, name: str) -> str:
    return f"{prefix(problem_id)}_{name}"
