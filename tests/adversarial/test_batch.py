"""A class's batch through the CLI with one worker slot (so the order is the files' order):
attacks interleaved with honest notebooks, each saboteur right before an honest one. The batch
ends with exit 0, every submission has its gradebook row, and every honest notebook scores
exactly as when it is graded alone."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from click.testing import CliRunner

from graders import ROOT
from graders.cli import main
from tests.adversarial.attacks import ATTACKS, CLASSMATE, PLANTED_SECRET, Attack
from tests.adversarial.conftest import sandbox_processes, write_attack, write_cells
from tests.fixtures.duke_hw2.examples import EXAMPLES

HONEST = ("solution", "wrong-sign", "mean-convention")
#: Attacks whose file goes into the batch folder as it is (loader, names, bombs, limits).
SINGLE = ("fork-bomb", "sleep-forever", "os-exit-mid-notebook",
          "read-reference-keys-and-classmates", "50gb-allocation", "zip-traversal",
          "deeply-nested-json", "json-list-notebook", "lone-surrogates", "cell-without-source",
          "crc-damaged-zip", "encrypted-zip", "zip-member-not-utf8",
          "zip-member-name-over-255-bytes", "deeply-nested-toml", "toml-formula-bomb",
          "sympy-huge-exponent", "eval-through-a-matrix", "backtracking-regex",
          "name-starting-with-equals", "name-starting-with-at", "name-starting-with-minus",
          "name-of-the-gradebook", "folder-named-like-the-class-page", "name-with-newline",
          "name-not-utf8")


def grade_cli(config: Path, out: Path, *paths: Path):
    return CliRunner().invoke(main, ["--config", str(config), "grade", *map(str, paths), "-o",
                                     str(out), "-j", "1"])


def rows_of(out: Path) -> list[dict]:
    with (out / "gradebook.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def build_batch(batch: Path, port: int) -> dict[str, str]:
    """The batch folder; returns {file name of each honest notebook: the example it is}.
    File names start with their place in the order (folders sort among them)."""
    by_name = {a.name: a for a in ATTACKS}
    honest: dict[str, str] = {}
    place = 0

    def add_honest(example: str) -> None:
        nonlocal place
        place += 1
        name = f"{place:02d}-{example}"
        shutil.copy(EXAMPLES / f"{example}.ipynb", batch / f"{name}.ipynb")
        honest[name] = example

    text = (EXAMPLES / "solution.ipynb").read_text()
    (batch / "00-classmate.ipynb").write_text(
        text.replace("import numpy as np", f"import numpy as np  # {CLASSMATE}", 1))
    for index, attack in enumerate(a for a in ATTACKS if a.before):
        place += 1
        write_cells(attack.before, batch / f"{place:02d}-{attack.name}-before.ipynb", port)
        if attack.honest:
            add_honest(HONEST[index % len(HONEST)])
        else:
            place += 1
            write_attack(Attack(f"{place:02d}-{attack.name}", attack.cells), batch, port)
    for name in SINGLE:
        write_attack(by_name[name], batch, port)
    return honest


def test_a_batch_of_attacks_and_honest_notebooks(listener, isolation, tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    honest = build_batch(batch, listener.getsockname()[1])
    outside = write_attack(next(a for a in ATTACKS if a.name == "name-dot-dot"), tmp_path, 0)
    config = tmp_path / "grader.toml"
    config.write_text((ROOT / "grader.toml").read_text().replace("cell_seconds = 30",
                                                                 "cell_seconds = 3"))
    out = tmp_path / "out"
    result = grade_cli(config, out, batch, outside)
    assert result.exit_code == 0, result.output
    rows = {r["student"]: r for r in rows_of(out)}
    submissions = [p for p in batch.rglob("*") if p.is_file()] + [outside]
    assert len(rows) == len(submissions) == len(rows_of(out))
    same = lambda row: {k: v for k, v in row.items() if k not in ("file", "student")}  # noqa: E731
    for example in set(honest.values()):
        solo = tmp_path / f"solo-{example}"
        assert grade_cli(config, solo, EXAMPLES / f"{example}.ipynb").exit_code == 0
        for name in (n for n, e in honest.items() if e == example):
            assert same(rows[name]) == same(rows_of(solo)[0]), name
    solution = next(n for n, e in honest.items() if e == "solution")
    assert rows["00-classmate"]["total"] == rows[solution]["total"]
    assert not (tmp_path / "report.html").exists()  # "..": nothing written beside the output
    assert not any(c.startswith("=") for row in rows.values() for c in row.values())
    reports = (p for p in out.rglob("*") if p.is_file() and p.parent != out)
    for path in (p for p in reports if "-before" not in str(p)):  # a planter's own report
        text = path.read_text(errors="replace")
        assert PLANTED_SECRET.split(":")[1] not in text, path
        assert CLASSMATE not in text or "classmate" in str(path), path
    assert sandbox_processes() == []
