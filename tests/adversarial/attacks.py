"""Hostile submissions, one attack each, every one of which has broken some autograder.

Each `Attack` is a notebook's code cells (or a file builder for attacks on the loader), the
points it may earn honestly, and words its report must contain (what happened). Paths of the
host (the project, the key cache, the output folder) are written into the attacks as literal
strings: the sandbox must make them unreachable.

Attacks across jobs come with `before`: the cells of a job graded just before, in the same
(single) worker slot. A planter leaves `PLANTED_SECRET` wherever it can and the attack then
searches for it (its report must not hold it); a saboteur damages what it can and the attack
is an honest example notebook (`honest`), which must score exactly as when graded alone.
Answers are stored under the old names (W_star) and the numbered ones (p2_1_W_star).

`python -m tests.adversarial.table` grades them all and prints the table of outcomes.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat

from graders import ROOT
from graders.keys import cache_dir

#: Written into the grader's environment by the tests; no report may ever contain it.
SECRET = "grader-env-secret-5b1d"
#: Planted in an honest classmate's notebook in the same batch.
CLASSMATE = "classmate-private-answer-9e2c"
#: Files an attack tries to create on the host; none may exist afterwards.
PLANTED = ("/tmp/grader-pwned", str(ROOT / "pwned"), str(Path.home() / "pwned"),
           "/tmp/grader-pwned-by-eval")
#: What a planter leaves behind for the next job; `XJ0B:` then lower-case letters, so that a
#: searcher can look for the prefix without its own code ever matching the whole.
PLANTED_SECRET = "XJ0B:" + "planted-by-the-previous-job"

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


#: Old answer names and the numbered ones (graders/assignments/names.py), and the lines that
#: copy the one to the other.
ALIASES = {"W_star": "p2_1_W_star", "W_next": "p2_1_W_next", "W_star_expr": "p2_1_W_star_expr",
           "logL_sgd": "p2_2_logL"}
ALIAS_LINES = (f"for _old, _new in {sorted(ALIASES.items())!r}:\n"
              "    if _old in globals():\n        globals()[_new] = globals()[_old]")


@dataclass(frozen=True)
class Attack:
    name: str
    cells: tuple[str, ...] = ()
    says: str = ""                   # the report must contain this
    honest_points: float = 0.0       # what the submission earns honestly
    build: Callable[[Path], Path] | None = None  # for attacks on the loader: makes the file
    before: tuple[str, ...] = ()     # cells of a job graded just before, in the same slot
    honest: str = ""                 # an example notebook graded instead of `cells`
    bomb: bool = False               # aimed at the grader's own side: must end in seconds

    def __post_init__(self):
        assert isinstance(self.cells, tuple) and all(isinstance(c, str) for c in self.cells)
        assert isinstance(self.before, tuple) and all(isinstance(c, str) for c in self.before)


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


# --- across jobs: what one job leaves for the next ------------------------------------------

#: The searches of a job that looks for what an earlier job left; each in its own cell (under
#: the cell limit), each adding its name to `searched`; the last cell reports in W_next.
SEARCH_SETUP = r'''
import ctypes, glob, os, re, socket
PATTERN = re.compile(rb"XJ0B:[a-z-]{8,60}")
found, searched = set(), []
def look(data, where):
    found.update(where + " " + m.decode() for m in PATTERN.findall(data))
'''
SEARCH_MEMORY = r'''
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
    for line in maps:
        fields = line.split()
        name = fields[5] if len(fields) > 5 else ""
        if not fields[1].startswith("r") or name in ("[vvar]", "[vsyscall]", "[vvar_vclock]") \
                or (name and not name.startswith("[")):
            continue  # file-backed: the same for every job
        start, end = (int(x, 16) for x in fields[0].split("-"))
        for at in range(start, end, 1 << 24):
            try:
                mem.seek(at)
                look(mem.read(min(1 << 24, end - at)), "memory")
            except (OSError, OverflowError, ValueError):
                break
searched.append("memory")
'''
SEARCH_FILES = r'''
home = os.path.expanduser("~")
for pattern in ("./**", "../**", "/tmp/**", "/dev/shm/**", "/var/tmp/**", home + "/**",
                "/job/**", "/run/**"):
    for path in glob.glob(pattern, recursive=True, include_hidden=True)[:3000]:
        try:
            with open(path, "rb") as f:
                look(f.read(1 << 16), "file " + path)
        except OSError:
            pass
searched.append("files")
'''
SEARCH_PROCESSES = r'''
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    for part in ("cmdline", "environ"):
        try:
            with open(f"/proc/{pid}/{part}", "rb") as f:
                look(f.read(1 << 16), f"/proc/{pid}/{part}")
        except OSError:
            pass
searched.append("processes")
'''
SEARCH_IPC = r'''
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
ids = {libc.shmget(0x5EC12E7, 0, 0)}
try:
    ids |= {int(l.split()[1]) for l in open("/proc/sysvipc/shm").readlines()[1:]}
except OSError:
    pass
for shmid in ids - {-1}:
    address = libc.shmat(shmid, None, 0o10000)  # SHM_RDONLY
    if address not in (None, ctypes.c_void_p(-1).value):
        look(ctypes.string_at(address, 4096), f"sysv shm {shmid}")
try:
    look(open("/proc/net/unix", "rb").read(), "/proc/net/unix")
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(1)
        s.connect("\0xjob-listener")
        look(s.recv(4096), "abstract socket")
except OSError:
    pass
searched.append("ipc")
'''
SEARCH_REPORT = ('W_next = "searched " + ", ".join(searched) + "; found " + '
                 '("nothing" if not found else "; ".join(sorted(found)))[:250]')
SEARCHES = {"memory": SEARCH_MEMORY, "files": SEARCH_FILES, "processes": SEARCH_PROCESSES,
            "ipc": SEARCH_IPC}


def searcher(*places: str) -> tuple[str, ...]:
    return (SEARCH_SETUP, *(SEARCHES[p] for p in places), SEARCH_REPORT)


PLANT_MEMORY = (f"secret = {PLANTED_SECRET!r}\nkept = [secret * 1000 for _ in range(100)]\n"
                "W_next = secret  # a result passes through whoever relays results")
PLANT_FILES = f"""
import os
secret = {PLANTED_SECRET!r}
for folder in (".", "..", "/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~"), "/job"):
    for name in ("planted.txt", ".planted"):
        try:
            with open(os.path.join(folder, name), "w") as f:
                f.write(secret)
            os.chmod(os.path.join(folder, name), 0o666)
        except OSError:
            pass
"""
PLANT_PROCESS = f"""
import os, subprocess, time
secret = {PLANTED_SECRET!r}
subprocess.Popen(["/bin/sh", "-c", "sleep 600", secret], start_new_session=True,
                 env={{"SECRET": secret}})
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.environ["SECRET"] = secret
        os.execv("/bin/sleep", ["sleep", "601", secret])
    os._exit(0)
time.sleep(0.2)
"""
PLANT_IPC = f"""
import ctypes, os, socket, time
secret = {PLANTED_SECRET!r}.encode()
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shmid = libc.shmget(0x5EC12E7, 4096, 0o1000 | 0o666)  # IPC_CREAT
if shmid >= 0:
    ctypes.memmove(libc.shmat(shmid, None, 0), secret, len(secret))
if os.fork() == 0:
    os.setsid()
    server = socket.socket(socket.AF_UNIX)
    server.bind("\\0xjob-listener")
    server.listen()
    while True:
        connection, _ = server.accept()
        connection.sendall(secret)
        connection.close()
time.sleep(0.2)
"""

#: A saboteur's cells: each tries to break what the next job in the slot needs.
KILL_ZYGOTE = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"
KILL_ALL = "import os, signal\nos.kill(-1, signal.SIGKILL)"
KILL_GROUP = ("import os, signal\nfor group in (0, -os.getpgid(0)):\n    try:\n"
              "        os.kill(group, signal.SIGKILL)\n    except OSError:\n        pass")
STOP_ZYGOTE = ("import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n"
               "        os.kill(pid, signal.SIGSTOP)\n    except OSError:\n        pass")
LOWER_LIMITS = """
import os, resource
for pid in (os.getppid(), 1):
    for name, value in (("RLIMIT_NOFILE", 5), ("RLIMIT_AS", 32 * 2**20), ("RLIMIT_NPROC", 0),
                        ("RLIMIT_FSIZE", 0), ("RLIMIT_CPU", 1), ("RLIMIT_STACK", 2**16)):
        try:
            resource.prlimit(pid, getattr(resource, name), (value, value))
        except (OSError, ValueError):
            pass
    try:
        os.setpriority(os.PRIO_PROCESS, pid, 19)
    except OSError:
        pass
"""
WRITE_ZYGOTE_MEMORY = """
import os
for pid in (os.getppid(), 1):
    try:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "r+b", 0) as mem:
            for line in maps:
                fields = line.split()
                if "w" in fields[1]:
                    start, end = (int(x, 16) for x in fields[0].split("-"))
                    mem.seek(start)
                    mem.write(b"\\xcc" * min(end - start, 1 << 20))
    except (OSError, ValueError):
        pass
"""
DAEMON_KILLER = """
import os, signal, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        end = time.time() + 120
        while time.time() < end:
            try:
                os.kill(-1, signal.SIGKILL)  # every process of this uid but itself
            except OSError:
                pass
            time.sleep(0.05)
    os._exit(0)
time.sleep(0.2)
"""
UNREMOVABLE = """
import os
for root in (".", "/tmp", "/dev/shm", ".."):
    try:
        folder = os.path.join(root, "stuck")
        os.makedirs(os.path.join(folder, "deeper"), exist_ok=True)
        open(os.path.join(folder, "deeper", "file"), "w").write("x")
        os.chmod(os.path.join(folder, "deeper"), 0)
        os.chmod(folder, 0o500)
    except OSError:
        pass
for path, mode in ((".", 0o500), ("..", 0o500), ("/tmp", 0o500)):
    try:
        os.chmod(path, mode)
    except OSError:
        pass
os.umask(0o777)
"""
PLANT_STARTUP = """
import os
evil = "import numpy\\nnumpy.linalg.solve = lambda *a, **k: numpy.zeros(3)\\n"
for root in (".", "..", "/tmp", "/dev/shm", os.path.expanduser("~"), "/job"):
    for path in (".ipython/profile_default/startup/00-evil.py", "numpy.py", "sympy.py",
                 "sitecustomize.py", "usercustomize.py", ".matplotlib/matplotlibrc"):
        try:
            target = os.path.join(root, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "w").write(evil if path.endswith(".py") else "backend: evil")
        except OSError:
            pass
"""
FILL_AND_LEAVE = """
for folder in (".", "/tmp", "/dev/shm", ".."):
    for i in range(40):
        try:
            with open(f"{folder}/fill{i}", "wb") as f:
                for _ in range(60):
                    f.write(b"0" * 2**20)
        except OSError as e:
            if e.strerror != "File too large":
                break
"""


# --- the loader: files no notebook editor writes -----------------------------------------------

def _write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def _notebook_json(cells=("x = 1",), metadata=None) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {},
            "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": c,
                       "execution_count": None, "id": f"c{i}"} for i, c in enumerate(cells)]}


def _lone_surrogates(folder: Path) -> Path:
    """Text JSON can hold and UTF-8 cannot: lone surrogates in a markdown cell, in code, and
    printed by the code (into its output)."""
    nb = _notebook_json([WRONG_ANSWERS + "\n" + ALIAS_LINES,
                         "print('\\ud800' * 3)\nW_star_expr = '\ud800'"])
    nb["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "id": "m",
                           "source": "Your answer (2.1) \udc80"})
    return _write(folder, "lone-surrogates.ipynb", json.dumps(nb))


def _zip_member(folder: Path, name: str, patch: Callable[[bytearray], None]) -> Path:
    """A stored zip of one notebook, its bytes then changed by `patch`."""
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("hw_X.ipynb", json.dumps(_notebook_json([WRONG_ANSWERS])))
    data = bytearray(path.read_bytes())
    patch(data)
    path.write_bytes(bytes(data))
    return path


def _flip_a_data_byte(data: bytearray) -> None:
    """A stored member's data changed after its CRC was written."""
    data[data.find(b'"cells"') + 1] ^= 0x20


def _set_flag(bit: int, rename: bytes = b"hw_X"):
    """A patch that renames the member (same length) and sets a general-purpose flag bit
    (0x1 encrypted, 0x800 name in UTF-8) in its local and central headers."""
    def patch(data: bytearray) -> None:
        data[:] = data.replace(b"hw_X", rename)
        data[6] |= bit & 0xFF
        data[7] |= bit >> 8
        central = data.find(b"PK\x01\x02")
        data[central + 8] |= bit & 0xFF
        data[central + 9] |= bit >> 8
    return patch


def _long_member_name(folder: Path) -> Path:
    path = folder / "long-member-name.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a" * 300 + ".ipynb", json.dumps(_notebook_json([WRONG_ANSWERS])))
    return path


def _answer_sheet(name: str, body: str):
    def build(folder: Path) -> Path:
        (folder / name).mkdir()
        return _write(folder / name, "answers.toml", 'assignment = "duke-hw2"\n' + body)
    return build


def _fifo(folder: Path) -> Path:
    path = folder / "fifo.ipynb"
    os.mkfifo(path)
    return path


# --- names: files whose name is the attack -----------------------------------------------------

def _named(name: bytes | str, cells=(WRONG_ANSWERS,)):
    """A notebook of wrong answers under a hostile file name (bytes: not UTF-8)."""
    def build(folder: Path) -> Path:
        raw = name if isinstance(name, bytes) else name.encode()
        path = Path(os.fsdecode(os.fsencode(folder) + b"/" + raw))
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c)
                                             for c in (*cells, ALIAS_LINES)])
        nb.metadata["grader"] = {"assignment": "duke-hw2"}
        nbformat.write(nb, path)
        return path
    return build


def _folder_named(name: str):
    def build(folder: Path) -> Path:
        (folder / name).mkdir()
        return _named(name + "/answers.ipynb")(folder)
    return build


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
    # across jobs, reading: the planter runs first in the slot, the searcher must find nothing
    Attack("cross-job-memory", searcher(*SEARCHES), "found nothing", before=(PLANT_MEMORY,)),
    Attack("cross-job-files", searcher(*SEARCHES), "found nothing", before=(PLANT_FILES,)),
    Attack("cross-job-processes", searcher(*SEARCHES), "found nothing", before=(PLANT_PROCESS,)),
    Attack("cross-job-ipc", searcher(*SEARCHES), "found nothing", before=(PLANT_IPC,)),
    # across jobs, damage: the saboteur runs first in the slot, an honest notebook after it
    Attack("damage-kill-zygote", before=(KILL_ZYGOTE,), honest="solution"),
    Attack("damage-kill-every-process", before=(KILL_ALL,), honest="solution"),
    Attack("damage-kill-process-group", before=(KILL_GROUP,), honest="solution"),
    Attack("damage-stop-zygote", before=(STOP_ZYGOTE,), honest="solution"),
    Attack("damage-lower-zygote-limits", before=(LOWER_LIMITS,), honest="solution"),
    Attack("damage-write-zygote-memory", before=(WRITE_ZYGOTE_MEMORY,), honest="solution"),
    Attack("damage-daemon-that-kills", before=(DAEMON_KILLER,), honest="solution"),
    Attack("damage-unremovable-folders", before=(UNREMOVABLE,), honest="solution"),
    Attack("damage-plant-startup-files", before=(PLANT_STARTUP,), honest="solution"),
    Attack("damage-fill-and-leave", before=(FILL_AND_LEAVE,), honest="solution"),
    # the loader: every odd file is a zero with its reason
    Attack("deeply-nested-json", says="nested too deeply", build=lambda f: _write(
        f, "deeply-nested-json.ipynb", '{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}")),
    Attack("json-list-notebook", says="the JSON is a list",
           build=lambda f: _write(f, "json-list-notebook.ipynb", "[1, 2, 3]")),
    Attack("5000-digit-number", says="a number too long", build=lambda f: _write(
        f, "5000-digit-number.ipynb", '{"nbformat": ' + "9" * 5000 + "}")),
    Attack("odd-grader-metadata", says="differs from the key", build=lambda f: _write(
        f, "odd-grader-metadata.ipynb", json.dumps(_notebook_json(
            [WRONG_ANSWERS, ALIAS_LINES], {"grader": ["duke-hw2"], "kernelspec": 7})))),
    Attack("lone-surrogates", says="differs from the key", build=_lone_surrogates),
    Attack("cell-without-source", says="has no source text", build=lambda f: _write(
        f, "cell-without-source.ipynb", json.dumps({**_notebook_json(), "cells": [
            {"cell_type": "code", "id": "c0", "metadata": {}, "outputs": [],
             "execution_count": None}]}))),
    Attack("crc-damaged-zip", says="is damaged",
           build=lambda f: _zip_member(f, "crc-damaged-zip.zip", _flip_a_data_byte)),
    Attack("encrypted-zip", says="is encrypted",
           build=lambda f: _zip_member(f, "encrypted-zip.zip", _set_flag(0x1))),
    Attack("zip-member-not-utf8", says="not a readable zip archive",
           build=lambda f: _zip_member(f, "zip-member-not-utf8.zip",
                                       _set_flag(0x800, b"hw\xff\xfe"))),
    Attack("zip-member-name-over-255-bytes", says="over 255 bytes", build=_long_member_name),
    Attack("fifo-instead-of-a-file", says="not a regular file", build=_fifo),
    Attack("deeply-nested-toml", says="too large to check",
           build=_answer_sheet("deeply-nested-toml", "W_next = " + "[" * 2000 + "]" * 2000)),
    Attack("huge-toml-list", says="too large to check",
           build=_answer_sheet("huge-toml-list", "W_next = [" + "1," * 2_100_000 + "]")),
    Attack("toml-formula-bomb", says="too large to check", bomb=True,
           build=_answer_sheet("toml-formula-bomb", 'W_next = ["(lambda**1000)**1000", "1", "2"]'
                               '\np2_1_W_next = ["(lambda**1000)**1000", "1", "2"]')),
    # the grader's own side: values that would take it hours or run code in it
    Attack("sympy-huge-exponent", ("import sympy as sp\nx = sp.Symbol('lambda')\n"
                                   "W_next = sp.Matrix([x**(10**6), x, x])",),
           "too large to check", bomb=True),
    Attack("formula-text-bomb", ("W_next = ['2**10**10', '(9**999)**999', 'x']",),
           "too large to check", bomb=True),
    Attack("eval-through-a-matrix",
           ("W_next = [\"__import__('os').system('touch /tmp/grader-pwned-by-eval')\", "
            "'__import__(\"os\").getpid()', '1']",),
           "is not allowed in a formula", bomb=True),
    Attack("ten-million-item-list", ("W_next = list(range(10**7))",), "too large",
           bomb=True),
    Attack("deeply-nested-list", ("W_next = []\nfor _ in range(10**5):\n    W_next = [W_next]",),
           "too large", bomb=True),
    Attack("100mb-string", ("W_next = 'x' * 10**8",), "could not read the formula",
           bomb=True),
    Attack("backtracking-regex",  # a failed cell is searched for the names it defines
           ("\n" * 60_000 + "p2_1_W_star" + " [" * 60_000,), "SyntaxError", bomb=True),
    # names: a file name is data too (the gradebook, the output folders)
    Attack("name-starting-with-equals", says="differs from the key",
           build=_named("=2+5+cmd|' -C calc'!A0.ipynb")),
    Attack("name-starting-with-at", says="differs from the key",
           build=_named("@SUM(1+1)*cmd.ipynb")),
    Attack("name-starting-with-minus", says="differs from the key", build=_named("-2+3+cmd.ipynb")),
    Attack("name-of-the-gradebook", says="differs from the key",
           build=_named("gradebook.csv.ipynb")),
    Attack("folder-named-like-the-class-page", says="differs from the key",
           build=_folder_named("index.html")),
    Attack("name-with-newline", says="differs from the key", build=_named("new\nline.ipynb")),
    Attack("name-not-utf8", says="differs from the key", build=_named(b"caf\xe9-not-utf8.ipynb")),
    Attack("name-dot-dot", says="differs from the key", build=_named("...ipynb")),
)
