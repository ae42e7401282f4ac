"""How a `grader` process ends: at once, once its command has done everything it does.

A Python process with sympy, numpy and the engine loaded spends tens of milliseconds at exit
tearing down every module's objects after its output is printed and its files are written
(measured here: about 20 ms for `grader check`, whose heap is frozen before its judge's
fork, and 85 ms for a process with sympy, numpy, jinja2 and nbformat loaded, unfrozen).
`Program` is the click group class of both `grader` commands (graders/cli.py, and
graders/selfcheck.py in the student kit). Called as the program (the console script and
`python -m ...` call the group; click's test runner calls its `main`, so tests never end
their own process), a command that marked itself `finished` ends the process at once: the
standard streams flushed and the exit handlers run (the judges are closed there), the
tear-down skipped (and no thread waited for: a finished command has joined its own). Any
other end (an error, exit code 2, an exception, a command that did not mark itself) is the
interpreter's usual exit, and so is every end under a profiler or a tracer (`python -m
pyinstrument -m graders.cli check ...`, cProfile, coverage's tracer), which reports after
the program returns.
"""

from __future__ import annotations

import atexit
import os
import sys

import click


class Program(click.Group):
    """A click group whose finished commands end the process at once (the module doc)."""

    def __call__(self, *args, **kwargs):
        state: dict = {}
        try:
            return self.main(*args, obj=state, **kwargs)
        except SystemExit as end:
            if end.code in (0, None) and state.get(FINISHED) and sys.getprofile() is None \
                    and sys.gettrace() is None:
                _end_now()
            raise


FINISHED = "finished"


def finished(ctx: click.Context) -> None:
    """Mark the command as done with everything: nothing is left to print or write."""
    ctx.ensure_object(dict)[FINISHED] = True


def _end_now() -> None:
    """Exit 0 without the interpreter's tear-down: nothing is left to run or write but the
    standard streams and the exit handlers."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more reaches it
            pass
    atexit._run_exitfuncs()  # what the interpreter's exit runs first (the judges' end)
    os._exit(0)
