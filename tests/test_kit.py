"""The student kit: public checks without the key, the kit's contents scanned for leaks, and the
kit's own engine checking a template, a half-done and a complete notebook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from graders import ROOT
from graders.assignment import load_assignment
from graders.checks.base import ProbeResult
from graders.checks.public import Expect, PublicCheck
from graders.kit import ENGINE, build, outline
from graders.selfcheck import KitAssignment, problem_status, self_check, write_report
from graders.wire import Opaque
from tests.fixtures.cli import invoke
from tests.fixtures.duke_hw2.examples import EXAMPLES
from tests.fixtures.key_leaks import NUMBER, KeyTokens

ASSIGNMENTS = ("duke-hw2", "duke-hw4", "dlsp-hw3")
#: Modules that build or hold keys and hidden inputs: never in a kit.
KEY_MODULES = ("assignment.py", "assignments", "keys.py", "keyview.py", "lab2_reference.py",
               "datasets.py", "reference", "cli.py", "batch.py")


@pytest.fixture(scope="module")
def kits(course, tmp_path_factory):
    """An assignment's kit, built once: kits[id] is (folder, loaded assignment)."""
    class Kits(dict):
        def __missing__(self, name):
            loaded = load_assignment(course, name)
            self[name] = build(course, loaded, tmp_path_factory.mktemp(name) / "kit"), loaded
            return self[name]
    return Kits()


# --- what a kit may hold -----------------------------------------------------------------

def hidden_inputs(assignment) -> set[str]:
    """The hidden probes' inputs as they would be written: encoded arrays' base64, seeds."""
    found = set()
    for probe in assignment.probes():
        for arg in probe.args:
            if isinstance(arg, dict) and isinstance(arg.get("b64"), str) and len(arg["b64"]) > 12:
                found.add(arg["b64"])
        found |= {str(s) for s in probe.seeds or () if s >= 10_000}
    return found


def distinctive_lines(folder: Path) -> set[str]:
    """The .py lines of `folder` of 30+ characters that are not comments or imports."""
    lines = set()
    for path in folder.rglob("*.py"):
        for line in path.read_text().splitlines():
            text = line.strip()
            if len(text) >= 30 and not text.startswith(("#", "from ", "import ")):
                lines.add(text)
    return lines


def handout() -> str:
    """Every text of student_template/: what students hold anyway (the handout's numbers,
    such as VGG19's 3,211,264 in dlsp-hw3's example, and its code skeletons)."""
    return "\n".join(f.read_text(errors="replace")
                     for f in (ROOT / "student_template").rglob("*") if f.is_file())


def reference_lines() -> set[str]:
    """Distinctive lines of reference/, less the handout's own code that the templates ship
    (duke-hw4's ResNet-20 and FP_layers skeleton are in both)."""
    shipped = handout()
    return {line for line in distinctive_lines(ROOT / "reference") if line not in shipped}


def scan(folder: Path, assignment) -> list[str]:
    """Every way `folder` gives the key away: a key-building module or cache by name, a key
    value (KeyTokens: floats of 4+ significant digits, formulas, integers of 3+ digits) that
    the handout does not print already (in the engine, a verbatim copy of graders/, integers
    of 5+ digits only: 127 or 512 are code constants there), a hidden input, a line of
    reference/ source."""
    tokens, hidden, source = KeyTokens(assignment.key.data), hidden_inputs(assignment), \
        reference_lines()
    printed = set(NUMBER.findall(handout()))
    engine = {folder / "graders" / name for name in ENGINE}
    for path in engine:
        assert path.read_bytes() == (ROOT / "graders" / path.relative_to(
            folder / "graders")).read_bytes(), f"{path}: not a copy of the grader's module"
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if any(part in KEY_MODULES for part in rel.parts) or \
                (path.suffix == ".json" and rel.as_posix() != "graders/kit.json"):
            hits.append(f"{rel}: a key module or cache by name")
        text = path.read_text(errors="replace")
        if rel.as_posix() == "graders/kit.json":  # grader.toml's [limits] (2048 MB) are no key
            text = json.dumps({k: v for k, v in json.loads(text).items() if k != "limits"})
        leaks = [t for t in tokens.leaks(text) if t not in printed]
        if path in engine:
            leaks = [t for t in leaks if not t.lstrip("-").isdigit() or len(t) >= 5]
        hits += [f"{rel}: key value {t}" for t in leaks]
        hits += [f"{rel}: hidden input {h[:20]}" for h in hidden if h in text]
        hits += [f"{rel}: reference line {line[:40]!r}" for line in source if line in text]
    return hits


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_kit_holds_no_key_value_hidden_input_or_reference_code(kits, name):
    folder, loaded = kits[name]
    assert scan(folder, loaded) == []
    assert (folder / "template").is_dir() and (folder / "graders" / "kit.json").is_file()
    data = json.loads((folder / "graders" / "kit.json").read_text())
    assert "key" not in data and "tolerances" not in data  # [key] tables: seeds, T/F answers


def test_a_deliberately_leaked_value_is_found(kits):
    folder, loaded = kits["duke-hw2"]
    history = loaded.key.data["distributed"]["conventions"]["sum_x2"]["sgd_logL"]
    value = float(np.ravel(history)[-1])  # 2.2's last log L_3, as a report would print it
    notebook = folder / "template" / "hw2.ipynb"
    original = notebook.read_text()
    try:
        notebook.write_text(original.replace("# numpy array (51, 3)", f"# ends near {value:.6g}"))
        assert any("key value" in hit for hit in scan(folder, loaded))
    finally:
        notebook.write_text(original)
    leaked = folder / "graders" / "distributed.py"
    leaked.write_text((ROOT / "reference" / "distributed.py").read_text())
    try:
        assert any("reference line" in hit for hit in scan(folder, loaded))
    finally:
        leaked.unlink()
    assert scan(folder, loaded) == []


def test_the_kits_engine_imports_nothing_that_builds_a_key(kits):
    folder, _ = kits["duke-hw2"]
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import graders, graders.selfcheck, "
            "graders.report, graders.checks.public; "
            "assert graders.__file__.startswith(sys.argv[1]), graders.__file__; "
            "bad = [m for m in sys.modules if m.startswith(('reference', 'graders.assignment', "
            "'graders.keys', 'graders.config'))]; assert not bad, bad; print('clean')")
    done = subprocess.run([sys.executable, "-I", "-c", code, str(folder)], capture_output=True,
                          text=True, timeout=120, cwd=folder.parent)
    assert done.stdout.strip() == "clean", done.stderr


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_public_probes_call_no_function_on_a_hidden_input(course, name):
    loaded = load_assignment(course, name)
    hidden = {(p.name, json.dumps(list(p.args), sort_keys=True)) for p in loaded.probes()
              if p.kind == "call"}
    for problem in outline(course, loaded)["problems"]:
        for spec in problem["public"]:
            probe = PublicCheck(Expect.from_json(spec)).probes[0]
            assert (probe.name, json.dumps(list(probe.args), sort_keys=True)) not in hidden


def test_public_declarations_name_real_problems_and_carry_no_points(course):
    for name in ASSIGNMENTS:
        data = outline(course, load_assignment(course, name))
        assert any(p["public"] for p in data["problems"])
        for problem in data["problems"]:
            for spec in problem["public"]:
                assert PublicCheck(Expect.from_json(spec)).public


# --- public checks: form and sanity, garbage fails ------------------------------------------

def outcome(expect: Expect, value):
    check = PublicCheck(expect)
    return check.evaluate({check.probes[0].id: ProbeResult(True, value)})


HISTORY = Expect("p3_1_logL", "array", ((201,), (200,)), finite=True, decreasing=True)


@pytest.mark.parametrize("value, form", [
    (np.exp(-np.linspace(0, 5, 201)), "201 rows"),
    (np.exp(-np.linspace(0, 5, 200)).astype(np.float32), "200 rows, float32"),
    (np.exp(-np.linspace(0, 5, 201))[:, None], "a (201, 1) column"),
    (list(np.exp(-np.linspace(0, 5, 200))), "a list"),
])
def test_a_history_passes_in_every_accepted_form(value, form):
    assert outcome(HISTORY, value).fraction == 1, form


@pytest.mark.parametrize("value, symptom", [
    (np.full(201, 3.0), "does not decrease"),                      # a constant
    (np.exp(np.linspace(0, 5, 201)), "does not decrease"),         # a curve going up
    (np.r_[np.nan, np.exp(-np.linspace(0, 5, 200))], "NaN"),
    (np.exp(-np.linspace(0, 5, 51)), "expected shape"),            # 2.2's length, not 3.1's
    ("3.2", "expected shape"),
    (None, "no answer"),
])
def test_garbage_fails_the_public_check(value, symptom):
    result = outcome(HISTORY, value)
    assert result.fraction == 0 and symptom in result.message


def test_a_quantiser_is_checked_on_public_inputs_for_its_levels():
    from graders.assignments.public_duke_hw2 import PUBLIC, G, S
    from graders.assignments.duke_hw2 import quantizer_cases
    terngrad = PUBLIC["2.3"][0]
    rng = np.random.default_rng(0)
    draws = np.stack([S * np.sign(G) * (rng.random(G.size) < np.abs(G) / S) for _ in range(50)])
    assert outcome(terngrad, draws).fraction == 1
    assert "distinct values" in outcome(terngrad, np.tile(G, (50, 1))).message  # g itself
    assert "outside" in outcome(terngrad, 2 * draws).message                     # scaled
    hidden = [g for seed in (0, 1, 12345) for clip in (None, 5.0)
              for g, _ in quantizer_cases(seed, clip)]
    assert all(g.shape != G.shape for g in hidden)  # the public input is none of the hidden


def test_dicts_keyed_by_the_handouts_values_and_true_false_entries():
    sweep = Expect("p3_3_logL", "array", ((201,), (200,)), keys=(0.2, 0.5), decreasing=True)
    curve = np.exp(-np.linspace(0, 5, 201))
    assert outcome(sweep, {0.2: curve, "0.5": curve}).fraction == 1
    assert "no entry for 0.5" in outcome(sweep, {0.2: curve}).message
    assert "is empty" in outcome(sweep, {}).message
    answer = Expect("p1_true_false", "bool", keys=("1.3",))
    assert outcome(answer, {"1.3": False}).fraction == 1
    assert "no answer" in outcome(answer, {"1.3": None}).message
    assert outcome(Expect("f", "function"), Opaque("function")).fraction == 1
    assert outcome(Expect("f", "function"), 3.0).fraction == 0


# --- the kit's engine on notebooks, in the sandbox ----------------------------------------

def half_done(tmp_path: Path) -> Path:
    """The template with 2.2's history and the T/F answers filled in, as a student might."""
    notebook = nbformat.read(ROOT / "student_template" / "duke-hw2" / "hw2.ipynb", 4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "p2_2_logL = None" in cell.source:
            cell.source = ("W = np.zeros(3)\nhist = []\nfor k in range(51):\n"
                           "    hist.append([np.log((X[i] @ W - y[i]) ** 2) for i in range(3)])\n"
                           "    W = W - 0.01 * sum(2 * (X[i] @ W - y[i]) * X[i] for i in range(3))\n"
                           "p2_2_logL = np.array(hist)")
        if cell.cell_type == "code" and "p1_true_false" in cell.source:
            cell.source = "p1_true_false = {f'1.{i}': i % 2 == 0 for i in range(1, 11)}"
    path = tmp_path / "hw2.ipynb"
    nbformat.write(notebook, path)
    return path


def test_the_kit_checks_template_half_done_and_complete_notebooks(course, hw2, pool,
                                                                  tmp_path):
    kit = KitAssignment(outline(course, hw2))
    check = lambda path: self_check(path, kit, pool, course.limits, "test")  # noqa: E731
    statuses = lambda result: {p.id: problem_status(p)[0] for p in result.problems}  # noqa: E731

    template = check(ROOT / "student_template" / "duke-hw2" / "hw2.ipynb")
    assert set(statuses(template).values()) == {"not answered"}
    assert all(c.message == "hidden check: graded after submission" and c.points == 0
               for p in template.problems for c in p.checks if c.kind == "hidden")
    page = write_report(template, tmp_path / "report").read_text()
    assert page.count("hidden check: graded after submission") == sum(
        c.kind == "hidden" for p in template.problems for c in p.checks)
    assert "not answered" in page and " lost" not in page

    half = statuses(check(half_done(tmp_path)))
    assert half["2.2"] == "form ok" and half["1.1"] == "form ok"
    assert half["3.1"] == half["2.3"] == "not answered"

    complete = check(EXAMPLES / "solution.ipynb")
    assert set(statuses(complete).values()) == {"form ok"}
    assert all(c.points == 0 for p in complete.problems for c in p.checks)  # nothing scored


@pytest.mark.parametrize("name, solution", [
    ("duke-hw4", ROOT / "tests/fixtures/duke_hw4/examples/solution.ipynb"),
    ("duke-hw4", ROOT / "tests/fixtures/duke_hw4/examples/lab2-student-forms.ipynb"),
    ("dlsp-hw3", ROOT / "tests/fixtures/dlsp_hw3/examples/solution.ipynb"),
    ("dlsp-hw3", ROOT / "tests/fixtures/dlsp_hw3/examples/other-conventions.ipynb"),
    ("dlsp-hw3", ROOT / "tests/fixtures/dlsp_hw3/examples/written-as-text.ipynb")])
def test_the_other_kits_see_their_template_unanswered_and_their_solution_well_formed(
        course, environment, name, solution):
    """A solution, and the examples written in the other forms the hidden checks accept
    (dicts by layer name, text such as 3.2M, fractions for percents), pass every public check:
    a public check never refuses what the grade accepts."""
    from graders.sandbox.isolation import detect
    from graders.sandbox.pool import WorkerPool
    loaded = load_assignment(course, name)
    kit = KitAssignment(outline(course, loaded))
    template = ROOT / "student_template" / name / outline(course, loaded)["notebook"]
    with WorkerPool(1, loaded.config.preload, detect(),
                    environment=environment(course, name)) as own:
        seen = {path.name: {problem_status(p)[0] for p in self_check(
            path, kit, own, course.limits, "test").problems} for path in (template, solution)}
    assert seen[template.name] <= {"not answered", "no public check"}
    assert seen[solution.name] <= {"form ok", "no public check"}


def test_kit_command_builds_and_refuses_a_folder_in_use(config_path, tmp_path):
    done = invoke(config_path, "kit", "duke-hw2", "-o", tmp_path / "kit")
    assert done.exit_code == 0, done.output
    assert (tmp_path / "kit" / "pyproject.toml").is_file()
    again = invoke(config_path, "kit", "duke-hw2", "-o", tmp_path / "kit")
    assert again.exit_code == 2 and "not empty" in again.output


@pytest.mark.full
def test_the_kit_installs_in_a_fresh_venv_and_checks_the_template(kits, tmp_path):
    folder, _ = kits["duke-hw2"]
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys._base_executable, "-m", "venv", venv], check=True)
    installed = subprocess.run([venv / "bin" / "pip", "install", "-q", folder], env=env,
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    done = subprocess.run([venv / "bin" / "grader", "check", folder / "template" / "hw2.ipynb"],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "0 form ok, 24 not answered" in done.stdout
