"""Hostile submissions, one attack each, every one of which has broken some autograder.

Each `Attack` is a notebook's code cells (or a file builder for attacks on the loader), the
points it may earn honestly, and words its report must contain (what happened). Paths of the
host (the project, the key cache, the output folder) are written into the attacks as literal
strings: the sandbox must make them unreachable.

`python -m tests.adversarial.table` grades them all and prints the table of outcomes.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from graders import ROOT
from graders.keys import cache_dir

#: Written into the grader's environment by the tests; no report may ever contain it.
SECRET = "grader-env-secret-5b1d"
#: Planted in an honest classmate's notebook in the same batch.
CLASSMATE = "classmate-private-answer-9e2c"
#: Files an attack tries to create on the host; none may exist afterwards.
PLANTED = ("/tmp/grader-pwned", str(ROOT / "pwned"), str(Path.home() / "pwned"))

HONEST_W_STAR = "import numpy as np\nW_star = np.linalg.solve(np.array([[-1.0, 2, 0], [3, 0, 1], " \
                "[2, -1, 3]]), np.array([-7.0, 5, 11]))"
WRONG_ANSWERS = ("import numpy as np, sympy as sp\nW_star = np.zeros(3)\n"
                 "logL_sgd = np.zeros((51, 3))\nW_next = sp.Matrix([0, 0, 0])")
SNOOP = """
def snoop(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()[:2000]
    except Exception as e:
        return repr(e)
"""


@dataclass(frozen=True)
class Attack:
    name: str
    cells: tuple[str, ...] = ()
    says: str = ""                   # the report must contain this
    honest_points: float = 0.0       # what the submission earns honestly
    build: Callable[[Path], Path] | None = None  # for attacks on the loader: makes the file

    def __post_init__(self):
        assert isinstance(self.cells, tuple) and all(isinstance(c, str) for c in self.cells)


def _zip_bomb(folder: Path) -> Path:
    path = folder / "zip-bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("hw2.ipynb", b"0" * (100 * 2**20))
    return path


def _zip_traversal(folder: Path) -> Path:
    path = folder / "zip-traversal.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../../evil.ipynb", "{}")
    return path


def _huge_notebook(folder: Path) -> Path:
    path = folder / "huge-notebook.ipynb"
    with open(path, "wb") as f:
        f.truncate(200 * 2**20)  # 200 MB (sparse: costs no disk)
    return path


ATTACKS = (
    Attack("shadow-builtin", (WRONG_ANSWERS, "bool = lambda *a: True\nisinstance = lambda *a: True\n"
                              "len = lambda *a: 0\nabs = lambda *a: 0"),
           "differs from the key"),
    Attack("monkeypatch-numpy-and-harness",
           (WRONG_ANSWERS, "import numpy as np, numpy.testing, json\n"
            "np.allclose = np.isclose = np.array_equal = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None\n"
            "json.dumps = lambda *a, **k: '{\"ev\": \"done\"}'\n"
            "import builtins; builtins.__import__ = lambda *a, **k: np"),
           "differs from the key"),
    Attack("lying-float-subclass",  # the data crosses as plain floats: the lies are not asked
           ("import numpy as np\nclass Liar(float):\n"
            "    __eq__ = lambda s, o: True\n    __sub__ = lambda s, o: 0.0\n"
            "    __abs__ = lambda s: 0.0\n    __float__ = lambda s: 1.0\n"
            "W_star = [Liar(0.0), Liar(0.0), Liar(0.0)]\n"
            "class LyingArray(np.ndarray):\n    def tolist(self): return [[0.0] * 3] * 51\n"
            "    def __array__(self, *a, **k): return np.zeros((51, 3))\n"
            "logL_sgd = np.full((51, 3), 7.0).view(LyingArray)",),
           "3 of 3 values differ"),
    Attack("fake-credit-via-display-hook",
           (WRONG_ANSWERS, "import sys\nsys.displayhook = lambda v: print('{\"points\": 25}')\n"
            "get_ipython().displayhook.write_output_prompt = lambda: print('25/25')\n"
            "print('{\"ev\": \"probe_end\", \"id\": \"W_star\", \"ok\": true, \"value\": "
            "{\"t\": \"array\", \"dtype\": \"<f8\", \"shape\": [3], \"b64\": "
            "\"AAAAAAAA8D8AAAAAAAAIwAAAAAAAAABA\"}}')\n42"),
           "differs from the key"),
    Attack("hide-tracebacks", ("get_ipython().showtraceback = lambda *a, **k: None\n"
                               "import sys\nsys.excepthook = lambda *a: None",
                               "W_star = 1 / 0"),
           "ZeroDivisionError"),
    Attack("sys-exit-mid-notebook", (HONEST_W_STAR, "import sys\nsys.exit(0)", "logL_sgd = 1"),
           "SystemExit", honest_points=1),
    Attack("os-exit-mid-notebook", (HONEST_W_STAR, "import os\nos._exit(0)", "logL_sgd = 1"),
           "ended the worker", honest_points=1),
    Attack("fake-result-file-and-line",
           ("import json, os\nfake = {'total': 25, 'auto_points': 25}\n"
            f"for p in ('result.json', '../result.json', '/job/result.json', '{ROOT}/result.json',"
            " os.path.expanduser('~/result.json'), 'gradebook.csv', 'report.html'):\n"
            "    try:\n        open(p, 'w').write(json.dumps(fake))\n    except OSError:\n        pass\n"
            "print(json.dumps({'ev': 'end', 'limit': None, 'exit': 0}))\n"
            "print('TOTAL: 25/25')", WRONG_ANSWERS),
           "differs from the key"),
    Attack("read-reference-keys-and-classmates",
           (SNOOP + f"W_star = snoop('{ROOT}/reference/distributed.py') + snoop('{cache_dir()}')"
            f" + snoop('{ROOT}/grader.toml')\n"
            "import glob\nW_next = ' '.join(glob.glob('/job/**', recursive=True) + glob.glob('/tmp/*') + "
            f"glob.glob('{ROOT}/*') + glob.glob('{cache_dir()}/*'))[:2000]",),
           "No such file or directory"),
    Attack("import-reference-and-graders",
           ("try:\n    import reference.distributed as r\n    W_star = r.build_key({})['W_star']\n"
            "except Exception as e:\n    W_next = repr(e)\n"
            "try:\n    import graders.keys as g\nexcept Exception as e:\n    W_star_expr = repr(e)",),
           "ModuleNotFoundError"),
    Attack("read-grader-proc",
           (SNOOP + "import os\nleaks = []\n"
            "for pid in [os.getppid(), 1] + [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
            "    leaks += [snoop(f'/proc/{pid}/environ'), snoop(f'/proc/{pid}/cmdline')]\n"
            "W_next = ' | '.join(leaks)[:3000]",),
           "Permission denied"),
    Attack("open-a-socket",
           ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', PORT), timeout=2)\n"
            "    W_next = 'connected'\nexcept OSError as e:\n    W_next = repr(e)\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\nexcept OSError as e:\n"
            "    W_star_expr = repr(e)",),
           "Network is unreachable"),
    Attack("fork-bomb", ("import os\nwhile True:\n    try:\n        os.fork()\n"
                         "    except OSError:\n        pass",), "exceeded 3 s"),
    Attack("50gb-allocation", ("import numpy as np\nbig = np.ones(50 * 2**30 // 8)",),
           "exceeded the memory limit"),
    Attack("busy-loop", ("while True: pass",), "cell 1 exceeded 3 s"),
    Attack("sleep-forever", ("import time\ntime.sleep(10**6)",), "cell 1 exceeded 3 s"),
    Attack("fill-the-disk",
           ("errors = set()\nfor folder in ('.', '/tmp', '/dev/shm'):\n"
            "    for i in range(20):\n        try:\n"
            "            with open(f'{folder}/fill{i}', 'wb') as f:\n"
            "                for _ in range(80):\n                    f.write(b'0' * 2**20)\n"
            "        except OSError as e:\n            errors.add(e.strerror)\n"
            "            if e.strerror != 'File too large':\n                break\n"
            "W_next = sorted(errors)",),
           "No space left on device"),
    Attack("1gb-print", ("for _ in range(1024):\n    print('x' * 2**20)", WRONG_ANSWERS),
           "differs from the key"),
    Attack("daemon-outlives-job",
           ("import os, subprocess, time\n"
            "subprocess.Popen(['sleep', '987654'], start_new_session=True)\n"
            "if os.fork() == 0:\n    os.setsid()\n    while True:\n        time.sleep(1)",
            WRONG_ANSWERS),
           "differs from the key"),
    Attack("ignore-sigterm", ("import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):"
                              "\n    signal.signal(s, signal.SIG_IGN)\nwhile True: pass",),
           "cell 1 exceeded 3 s"),
    Attack("delete-files",
           ("import os, shutil\n"
            f"for p in ('{ROOT}', '{cache_dir()}', '/usr', '/job', '..', '/tmp'):\n"
            "    shutil.rmtree(p, ignore_errors=True)\n"
            f"for p in {PLANTED!r}:\n    try:\n        open(p, 'w').write('x')\n"
            "    except OSError:\n        pass", WRONG_ANSWERS),
           "differs from the key"),
    Attack("zip-bomb", says="expands", build=_zip_bomb),
    Attack("zip-traversal", says="points outside the archive", build=_zip_traversal),
    Attack("200mb-notebook", says="200 MiB is over the 20 MiB limit", build=_huge_notebook),
)
