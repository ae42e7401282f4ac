"""Mistakes an instructor can make in grader.toml, and what the grader says about each.

Every mistake is one textual edit of the shipped grader.toml. `grader list` (which checks the
configuration exactly as `check` and `grade` do) must refuse it with exit 2 and a message
naming the key (`says`) and no traceback. The test is tests/engine/test_config_mistakes.py;
the table for a note:

    python -m tests.engine.config_mistakes
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graders import ROOT


@dataclass(frozen=True)
class Mistake:
    what: str
    old: str
    new: str
    says: str  # the message must contain this


MISTAKES = (
    Mistake("a learning rate that is not a number", "lr = 0.1", 'lr = "fast"',
            "[assignments.duke-hw2.key.distributed.lr] is 'fast', not a number"),
    Mistake("no reference runs", "envelope_runs = 2000 ", "envelope_runs = 0 ",
            "[assignments.duke-hw2.key.distributed.envelope_runs] is 0; it must be at least 100"),
    Mistake("zero steps", "steps = 50", "steps = 0",
            "[assignments.duke-hw2.key.distributed.steps] is 0; it must be at least 1"),
    Mistake("negative steps", "steps = 50", "steps = -5",
            "[assignments.duke-hw2.key.distributed.steps] is -5; it must be at least 1"),
    Mistake("a typo in a key parameter", "steps = 50", "stepz = 50",
            "[assignments.duke-hw2.key.distributed.stepz] is not a known setting"),
    Mistake("a negative tolerance", "rtol = 1e-6", "rtol = -1",
            "[assignments.duke-hw2.tolerances.rtol] is -1; it must be at least 0"),
    Mistake("a log floor that is a word", "\nlog_floor = -50", '\nlog_floor = "low"',
            "[assignments.duke-hw2.tolerances.log_floor] is 'low', not a number"),
    Mistake("a share above 1", "partial_credit_from = 0.5   # a history", "partial_credit_from = 1.5   # a history",
            "[assignments.duke-hw2.tolerances.partial_credit_from] is 1.5; it must be at most 1"),
    Mistake("a typo in a tolerance", "rtol = 1e-6", "rtool = 1e-6",
            "[assignments.duke-hw2.tolerances] is missing rtol"),
    Mistake("too few TernGrad runs", "terngrad_runs = 4 ", "terngrad_runs = 2 ",
            "[assignments.duke-hw2.tolerances.terngrad_runs] is 2; it must be at least 3"),
    Mistake("an unknown convention variant", 'aggregation = ["sum_x2", ', 'aggregation = ["sum", ',
            "aggregation: unknown variant sum"),
    Mistake("no accepted variant", 'aggregation = ["sum_x2", "mean_x2", "sum_x1", "mean_x1"]',
            "aggregation = []", "aggregation] must be a non-empty list of variant names"),
    Mistake("a True/False key that is not a boolean", '"1.3" = false   # pruning',
            '"1.3" = "no"   # pruning',
            "[assignments.duke-hw2.key.true_false.1.3] is 'no', not true or false"),
    Mistake("a True/False key for a statement that does not exist", '"1.3" = false   # pruning',
            '"1.13" = false   # pruning',
            "[assignments.duke-hw2.key.true_false.1.13] is not a known setting"),
    Mistake("a key topic that does not exist", "[assignments.duke-hw2.key.distributed]",
            "[assignments.duke-hw2.key.distributd]",
            "[assignments.duke-hw2.key.distributd] is not a topic of any answer key"),
    Mistake("a negative limit", "cell_seconds = 30 ", "cell_seconds = -3 ",
            "[limits.cell_seconds] is -3; it must be at least 1"),
    Mistake("a typo in the limits", "memory_mb = 2048 ", "memory_mbs = 2048 ",
            "[limits.memory_mbs] is not a known setting"),
    Mistake("no workers", 'workers = "auto" ', "workers = 0 ",
            "[grading.workers] is 0; it must be at least 1"),
    Mistake("points that do not add up", "checks = { history = 6 }", "checks = { history = 7 }",
            "problems add up to 81 points, but handout_points = 80"),
    Mistake("an unknown show_key policy", 'show_key = "instructor"', 'show_key = "sometimes"',
            "show_key] is 'sometimes'; use one of always, instructor, never"),
    Mistake("a module that does not exist", 'module = "duke_hw2"', 'module = "duke_hw9"',
            "no module graders/assignments/duke_hw9.py"),
    Mistake("an environment that does not exist", 'environment = "course"',
            'environment = "corse"', "corse"),
    Mistake("a zip penalty above 100 percent", "zip_penalty = 0.2 ", "zip_penalty = 2 ",
            "[assignments.duke-hw4.policies.zip_penalty] is 2"),
    Mistake("a learning rate of the sparse lab at zero", "[assignments.duke-hw2.key.distributed]",
            "[assignments.duke-hw2.key.sparse]\nmu = 0\n\n[assignments.duke-hw2.key.distributed]",
            "[assignments.duke-hw2.key.sparse.mu] is 0; it must be greater than 0"),
    Mistake("an inception filter count that is not a number", '"1x1" = 128, "3x3" = 192',
            '"1x1" = "many", "3x3" = 192',
            "[assignments.dlsp-hw3.key.cnn.inception.naive.1x1] is 'many', not an integer"),
    Mistake("a part both checked and marked by hand",
            "checks = { prune = 1, l1 = 1, proximal = 1, trimmed = 1 }\nmanual = { compare = 1 }",
            "checks = { prune = 1, l1 = 1, proximal = 1, trimmed = 1 }\nmanual = { prune = 1 }",
            'problems."3.6"] names prune both in checks and in manual'),
    Mistake("a broken TOML line", "lr = 0.1", "lr = 0.1.1", "not valid TOML"),
)


def apply(mistake: Mistake, folder: Path) -> Path:
    """The shipped grader.toml with the mistake, written to folder/grader.toml."""
    text = (ROOT / "grader.toml").read_text()
    assert text.count(mistake.old) == 1, f"{mistake.what}: {mistake.old!r} is not unique"
    path = folder / "grader.toml"
    path.write_text(text.replace(mistake.old, mistake.new))
    return path


def main() -> None:
    import tempfile

    from click.testing import CliRunner

    from graders.cli import main as grader
    print("| mistake in grader.toml | exit | what `grader list` says |")
    print("|---|---|---|")
    for mistake in MISTAKES:
        with tempfile.TemporaryDirectory() as tmp:
            result = CliRunner().invoke(grader, ["--config", str(apply(mistake, Path(tmp))),
                                                 "list"])
        said = result.output.strip().replace(str(Path(tmp)), "...").replace("|", "/")
        print(f"| {mistake.what} (`{mistake.new.strip().splitlines()[-1][:40]}`) | "
              f"{result.exit_code} | "
              f"{said[:220]} |")


if __name__ == "__main__":
    main()
