"""The worker's shell reads a cell exactly as IPython does: the cells it passes without
IPython's input transformation are those that transformation gives back unchanged."""

from __future__ import annotations

import contextlib
import io

import pytest

from graders.sandbox.worker import make_shell, plain_or_transformed

#: Cells as students write them, and cells each of IPython's transformations acts on.
CELLS = [
    "x = 1",
    "x = 1\n",
    "import numpy as np\nW = np.zeros((5, 1))\nfor t in range(200):\n    W -= 0.1 * W\n",
    "def f(x):\n    return x ** 2\n\nf(3)",
    "def f(x):\n    y = x\n    \n    return y\n",            # a line of spaces in a body
    's = """a\n    \nb"""\n',                                   # ... and in a string
    "\nx = 1",                                                # a blank first line
    "   \nx = 1",
    "    x = 1\n    y = 2",                                   # indented as pasted
    "%matplotlib inline\nimport matplotlib.pyplot as plt",
    "%%time\nx = 1",
    "x = !ls",
    "!pip install numpy",
    "y = %time 1 + 1",
    "np.zeros?",
    "print('100% done')",                                     # % inside a string
    "r = 7 % 3\nok = r != 1\nprint(f'{r!r}?')  # why?",       # % ! ? in Python
    "x = a % b  # %time",
    ",f a b",
    "/f a",
    ";f a",
    ">>> x = 1\n>>> y = 2",
    "x = 1\n>>> y = 2",
    "In [1]: x = 1\n   ...: y = 2",
    "a = np.zeros((2, 2))\nb = a[..., 0]",
    "...",
    "def f():\n    '''\n>>> f()\n    '''\n",
    "x = (1\n     / 2)",
    "s = 'unterminated",
    "if True:\n        x = 1\n    y = 2",                     # an indentation error
    "x = 1\r\ny = 2\r\n",
    "\x0cx = 1",
    "x = 'é' + \"ü\"",
    "",
]


@pytest.fixture(scope="module")
def manager():
    return make_shell().input_transformer_manager


@pytest.mark.parametrize("cell", CELLS)
def test_a_cell_passed_without_transforming_is_one_ipython_leaves_unchanged(manager, cell):
    original = type(manager).transform_cell.__get__(manager)
    calls = []

    def counted(text):
        calls.append(text)
        return original(text)

    assert outcome(plain_or_transformed(counted), cell) == outcome(original, cell)
    if not calls:  # passed as it is: IPython gives it back unchanged too
        assert original(cell) == (cell if cell.endswith("\n") else cell + "\n")


def outcome(transform, cell):
    """What `transform` gives for `cell`: its text, or the error it raises (IPython's
    tokenizer raises on some broken indentation; the cell then fails before it runs)."""
    try:
        return transform(cell)
    except Exception as exc:  # noqa: BLE001 - compared, not handled
        return type(exc), str(exc)


def test_plain_python_cells_skip_the_transformation_and_the_others_do_not(manager):
    calls = []
    transform = plain_or_transformed(lambda text: calls.append(text) or text)
    for cell in ("x = 1", "def f(x):\n    return x\n", "a = b[..., 0]", "s = 'a%' != '?'",
                 "%time x = 1", "\nx = 1", "    x = 1", "def f():\n    \n    return 1\n",
                 "s = 'unterminated", ">>> x = 1"):
        transform(cell)
    assert calls == ["%time x = 1", "\nx = 1", "    x = 1", "def f():\n    \n    return 1\n",
                     "s = 'unterminated", ">>> x = 1"]


def test_a_plain_cell_is_parsed_once_and_runs_as_ipython_runs_it():
    shell = make_shell()
    parses = []
    original = shell.compile.ast_parse.__self__.original
    shell.compile.ast_parse.__self__.original = \
        lambda source, *args: parses.append(source) or original(source, *args)
    result = shell.run_cell("from __future__ import annotations\nx = 6 * 7\nx",
                            store_history=False)
    assert result.success and result.result == 42
    assert len(parses) == 1
    # a later cell is parsed under the flags the first set: def f(a: undefined) runs
    assert shell.run_cell("def f(a: undefined_name):\n    return a\ny = f(1)",
                          store_history=False).success
    assert shell.user_ns["y"] == 1 and len(parses) == 2
    # a cell IPython transforms is parsed by IPython (and %time parses its statement too)
    assert shell.run_cell("%time z = 1", store_history=False).success
    assert shell.user_ns["z"] == 1 and len(parses) > 2


def test_what_a_cell_displays_is_its_text_alone():
    shell = make_shell()
    shell.user_ns["made"] = made = []

    class Shown:
        def __repr__(self):
            return "shown as text"

        def _repr_html_(self):
            made.append("html")
            return "<b>shown</b>"

        def _repr_png_(self):
            made.append("png")
            return b"\x89PNG"

        def _repr_latex_(self):
            made.append("latex")
            return "$x$"

    shell.user_ns["Shown"] = Shown
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert shell.run_cell("Shown()", store_history=False).success
        assert shell.run_cell("from IPython.display import display\ndisplay(Shown())",
                              store_history=False).success
    assert printed.getvalue().count("shown as text") == 2
    assert made == []


def test_a_failing_cell_prints_a_plain_traceback_with_its_lines_and_error():
    shell = make_shell()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        assert shell.run_cell("def f(x):\n    return 1 / x\n", store_history=False).success
        result = shell.run_cell("y = 2\nf(0)", store_history=False)
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    text = printed.getvalue()
    assert "Traceback (most recent call last)" in text
    assert "f(0)" in text and "return 1 / x" in text  # the lines that ran, in order
    assert text.index("f(0)") < text.index("return 1 / x")
    assert text.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "---->" not in text and "y = 2" not in text  # no context lines around them
