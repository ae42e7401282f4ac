"""The sandbox worker: the only code that runs next to a submission. UNTRUSTED side.

Started by the grader as `python -I worker.py` (inside bubblewrap where available) with a clean
environment. It imports nothing from the grader, so it can run in the assignment's student
environment (another numpy, another Python) without the grader's code or keys in reach.

It is a fork server ("zygote") that never sees a job's data:

  fd 0    a SOCK_SEQPACKET control socket to the grader, one JSON message per packet:
          <- {"preload", "namespaces", "scratch", "jobs_root", ...}   start-up settings
          -> {"op": "ready", "namespaces": bool}
          <- {"op": "fork", "job": ID} + two file descriptors (SCM_RIGHTS): the read end of
             the job's input pipe and the write end of its event pipe, both made by the grader
          -> {"op": "forked", "job": ID}
          <- {"op": "kill", "job": ID}                              (a limit was hit)
          -> {"op": "ended", "job": ID, "exit": code}

The zygote passes the two descriptors on to a fresh process and closes its copies: it never
reads the cells, the probes or the results. That process is made ahead ("the spare"): right
after the zygote is ready and again right after each job has ended, it forks the next job's
processes, which confine themselves and wait for the two descriptors on a socket pair; a fork
message only hands them over (the forks of a 100 MB warm image, ~4 ms each, are off the
job's path). A spare is made only when no job of the slot is alive, from the zygote, which
holds nothing of any job, so it holds nothing of one either. The grader writes the job into
the input pipe, reads the events from the event pipe and keeps every clock. Where the kernel
allows it (the start-up settings say), each job gets its own user, pid, mount, ipc, uts and
network namespaces and fresh size-capped tmpfs mounts on /tmp, /dev/shm and /job:

  zygote -> A: unshare the namespaces, fork B, wait for it  (A killed = the job is over)
         -> B: pid 1 of the job's pid namespace; dies with A; a session of its own; mounts the
               fresh scratch; drops every capability, applies the rlimits, runs the job in a
               folder with an unpredictable name (job_init, then job_process)

Killing A kills B, and a pid namespace whose init dies takes every process in it along (also
those that double-forked or called setsid); the tmpfs mounts vanish with the namespace, so
nothing is cleaned up and nothing a job leaves reaches the next. Without namespaces the job
is the zygote's child in its own process group, and the zygote empties the scratch folders
afterwards without ever crossing into a mounted file system.

The job runs the code cells in order in an IPython InteractiveShell (a failing cell does not
stop the next one), then answers probes, writing JSON event lines:

  cell_start/cell_end, probe_start/probe_end, done (or crash)

Probes: {"id", "kind": "value", "name"} reads a variable; {"id", "kind": "call", "name",
"args", "repeat", "seed", "seeds", "swap", "batch"} calls a function (see `answer_call`).
Values leave as plain JSON (arrays as dtype/shape/base64, sympy expressions as trees; a probe's
answer that is one formula as its tree's JSON text: encode_answer).
Nothing here is trusted by the grader: every event is size-capped and validated there.
"""

import ast
import base64
import ctypes
import gc
import io
import json

dumps = json.dumps  # bound before any student code runs: patching json later changes nothing
import os
import re
import resource
import select
import shutil
import signal
import socket
import stat
import sys

ENCODING_LIMITS = {"depth": 12, "items": 2_000_000, "str": 20_000}
RECORD_LIMIT = 2000  # calls of a swapped function recorded per probe, at most
#: Array dtypes the wire carries, by numpy kind, and what each is sent as.
ARRAY_DTYPES = {"f": "<f8", "i": "<i8", "u": "<i8", "b": "|b1", "c": "<c16"}


# --- encoding values as plain JSON ----------------------------------------------------------

TOO_LARGE = {"t": "unsupported", "type": "value too large or too deeply nested"}


def encode(value, budget=None, depth=0):
    """A Python value as a JSON-able tagged tree; unknown types become {"t": "unsupported"}."""
    budget = budget if budget is not None else [ENCODING_LIMITS["items"]]
    budget[0] -= 1
    if budget[0] < 0 or depth > ENCODING_LIMITS["depth"]:
        return TOO_LARGE
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    sympy = sys.modules.get("sympy")
    if value is None:
        return {"t": "none"}
    if type(value) is bool:
        return {"t": "bool", "v": value}
    if type(value) is int:
        return {"t": "int", "v": str(value)[:ENCODING_LIMITS["str"]]}
    if isinstance(value, float):
        return {"t": "float", "v": repr(float.__float__(value))}
    if isinstance(value, str):
        return {"t": "str", "v": str.__str__(value)[:ENCODING_LIMITS["str"]],
                "truncated": len(value) > ENCODING_LIMITS["str"]}
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if np is not None and isinstance(value, (np.ndarray, np.generic)):
        return encode_array(np, value, budget)
    if sympy is not None and isinstance(value, sympy.MatrixBase):
        rows, cols = value.shape
        seen = {}
        return {"t": "matrix", "rows": rows, "cols": cols,
                "items": [encode_expr(sympy, value[i, j], budget, seen)
                          for i in range(rows) for j in range(cols)]}
    if sympy is not None and isinstance(value, sympy.Basic):
        return {"t": "expr", "tree": encode_expr(sympy, value, budget)}
    if isinstance(value, (list, tuple, dict)) and len(value) > budget[0]:
        return TOO_LARGE  # an item costs at least 1: said at once, not after 10**7 of them
    if isinstance(value, (list, tuple)):
        block = encode_stack(np, torch, value, budget, depth)
        if block is not None:
            return block
        rows = encode_rows(np, torch, value, budget, depth)
        if rows is not None:
            return rows
        return {"t": "list", "items": [encode(v, budget, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "items": [[encode(k, budget, depth + 1), encode(v, budget, depth + 1)]
                                       for k, v in value.items()]}
    if callable(value):
        return {"t": "callable", "type": type(value).__name__[:100]}
    return {"t": "unsupported", "type": type(value).__name__[:100]}


def encode_answer(value):
    """A probe's value as encode() gives it, but a value that is one formula (an expression
    or a matrix of them) as {"t": "formula", "tree": its tree as compact JSON text}: the
    grader reads one string where it would build and walk a tree of some 10^4 lists (a
    symbolic inverse: 3 ms to read, 1.3 ms to write out again for its judge), and hands the
    text on as it came; its judge names the formula by that text and reads it only to
    build it. The text is what the grader's symbolic.tree_text writes for the same tree."""
    node = encode(value)
    if node.get("t") == "expr":
        tree = ["expr", node["tree"]]
    elif node.get("t") == "matrix":
        tree = ["matrix", node["rows"], node["cols"], node["items"]]
    else:
        return node
    return {"t": "formula", "tree": dumps(tree, separators=(",", ":"))}


def encode_array(np, value, budget):
    """ndarray -> {"t": "array", dtype, shape, b64}; data copied into a plain base ndarray of a
    whitelisted dtype (float64, int64, bool, complex128), so subclasses have no say."""
    arr = np.array(value, copy=True, subok=False)
    kind = arr.dtype.kind
    target = ARRAY_DTYPES.get(kind)
    if target is None:
        return {"t": "unsupported", "type": "array of dtype " + str(arr.dtype)[:40]}
    budget[0] -= arr.size
    if budget[0] < 0:
        return {"t": "unsupported", "type": "array too large"}
    arr = arr.astype(target, order="C")  # keeps 0-d arrays 0-d, unlike ascontiguousarray
    if target == "<f8" and arr.size >= PALETTE_MIN:
        paletted = encode_palette(np, arr)
        if paletted is not None:
            return paletted
    return {"t": "array", "dtype": target, "shape": list(arr.shape),
            "b64": base64.b64encode(arr.tobytes()).decode("ascii")}


PALETTE_MIN = 1024  # float64 arrays of fewer entries are always sent whole
PALETTE_MAX = 16    # distinct values at most in a palette


def encode_palette(np, arr):
    """A large float64 array of few distinct values (bit for bit: -0.0 and each NaN are
    their own), the draws of a ternary quantiser, sent as those values and one byte per
    entry: {"t": "array", "dtype": "<f8", shape, "palette": base64 of the values, "b64":
    base64 of uint8 indices}, an eighth of the bytes; None where it has more values (they
    are looked for among the first 4096 entries only)."""
    bits = arr.reshape(-1).view("<u8")
    values = np.unique(bits[:4096])
    if len(values) > PALETTE_MAX:
        return None
    index = np.minimum(np.searchsorted(values, bits), len(values) - 1)
    if not np.array_equal(values[index], bits):
        return None
    return {"t": "array", "dtype": "<f8", "shape": list(arr.shape),
            "palette": base64.b64encode(values.tobytes()).decode("ascii"),
            "b64": base64.b64encode(index.astype("|u1").tobytes()).decode("ascii")}


ROWS_MIN = 16  # a list of fewer rows (encode_rows) or items (encode_stack): item by item


def encode_stack(np, torch, value, budget, depth):
    """A long list of floats, of ints of 64 bits, or of arrays of one shape and dtype, as
    students keep a history (`losses.append(L)`, `Ws.append(W.copy())` of (5, 1) columns,
    np.matrix in numpy-1 code, float32 scalars), sent as one column (encode_column):
    {"t": "stack", "n": items, "column": {"t": "array", ..., "item": ...}}, decoded into the
    same list as item-by-item encoding, which costs some 5 us and 40-60 bytes an item (the
    800 of one probe: 4 ms, and as much again to decode); None where the list is not such."""
    if np is None or len(value) < ROWS_MIN or depth + 1 > ENCODING_LIMITS["depth"]:
        return None
    column = encode_column(np, torch, value)
    if column is None:
        return None
    node, entries = column
    if len(value) + entries > budget[0]:
        return None  # item by item, which says where the budget ran out
    budget[0] -= len(value) + entries
    return {"t": "stack", "n": len(value), "column": node}


def encode_rows(np, torch, value, budget, depth):
    """A long list of equal-length lists (or tuples) whose j-th items make a column
    (encode_column), sent as columns: {"t": "rows", "n": rows, "columns": [{"t": "array",
    dtype, "shape": [rows, *item shape], b64, "item": "float" | "int" | "array"}]}, decoded
    into the same list of lists as item-by-item encoding (e.g. a swapped function's recorded
    calls [g, s, out]); None where the list is not such a table (the caller encodes it item
    by item, as it does past the budget or the depth limit)."""
    if np is None or len(value) < ROWS_MIN or depth + 2 > ENCODING_LIMITS["depth"]:
        return None
    first = value[0]
    if not isinstance(first, (list, tuple)) or not first:
        return None
    width = len(first)
    columns = [[] for _ in range(width)]
    for row in value:
        if not isinstance(row, (list, tuple)) or len(row) != width:
            return None
        for column, item in zip(columns, row):
            column.append(item)
    cost, encoded = 1 + len(value) * (1 + width), []
    for items in columns:
        column = encode_column(np, torch, items)
        if column is None:
            return None
        node, entries = column
        cost += entries
        encoded.append(node)
    if cost > budget[0]:
        return None  # item by item, which says where the budget ran out
    budget[0] -= cost
    return {"t": "rows", "n": len(value), "columns": encoded}


def encode_column(np, torch, items):
    """Items of one kind as one block of shape [len(items), *item shape]: all floats
    (np.float64 is one) as "<f8", all ints of 64 bits as "<i8", or all arrays of one shape
    and one dtype of the wire (ndarrays and their subclasses, numpy scalars, torch tensors;
    one dtype: a block of int64 and uint64 would be float64) -> ({"t": "array", dtype,
    shape, b64, "item": "float" | "int" | "array"}, the array entries it adds to the budget's
    count: the block's size for arrays, 0 for numbers); None for anything else (bools, big
    ints, strings, mixed kinds go item by item)."""
    head = items[0]
    if isinstance(head, float):
        if not all(isinstance(v, float) for v in items):
            return None
        block, item = np.array([float.__float__(v) for v in items], dtype="<f8"), "float"
    elif type(head) is int:
        if not all(type(v) is int and -2**63 <= v < 2**63 for v in items):
            return None
        block, item = np.array(items, dtype="<i8"), "int"
    else:
        if torch is not None:
            items = [v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v
                     for v in items]
        head = items[0]
        if not isinstance(head, (np.ndarray, np.generic)):
            return None
        target = ARRAY_DTYPES.get(head.dtype.kind)
        if target is None or not all(isinstance(v, (np.ndarray, np.generic))
                                     and not isinstance(v, float) and v.dtype == head.dtype
                                     and v.shape == head.shape for v in items):
            return None
        block = np.stack([np.asarray(v) for v in items]).astype(target, order="C")
        item = "array"
    return ({"t": "array", "dtype": str(block.dtype.str), "shape": list(block.shape),
             "b64": base64.b64encode(block.tobytes()).decode("ascii"), "item": item},
            block.size if item == "array" else 0)


def encode_expr(sympy, expr, budget, seen=None):
    """A sympy expression as a tree: ["Symbol", name] | ["Integer", "12"] |
    ["Rational", "p", "q"] | ["Float", "0.5"] | [FuncName, child, ...]. A subexpression met
    again (sympy shares them: a symbolic inverse repeats its determinant) is encoded once,
    `seen` maps it to (tree, nodes); it costs its nodes of the budget each time, as written
    out."""
    seen = {} if seen is None else seen
    try:
        tree, nodes = seen.get(expr) or (None, 0)
    except TypeError:  # an unhashable object posing as an expression
        tree, nodes = None, 0
    if tree is not None and budget[0] >= nodes:
        budget[0] -= nodes
        return tree
    before = budget[0]
    tree = _expr_tree(sympy, expr, budget, seen)
    if budget[0] >= 0:
        try:
            seen[expr] = (tree, before - budget[0])
        except TypeError:
            pass
    return tree


def _expr_tree(sympy, expr, budget, seen):
    budget[0] -= 1
    if budget[0] < 0:
        return ["Unsupported", "expression too large"]
    if not isinstance(expr, sympy.Basic):
        return ["Unsupported", type(expr).__name__[:100]]
    if expr.is_Symbol:
        return ["Symbol", str(expr.name)[:200]]
    if expr.is_Integer:
        return ["Integer", str(int(expr))]
    if expr.is_Rational:
        return ["Rational", str(int(expr.p)), str(int(expr.q))]
    if expr.is_Float:
        return ["Float", repr(float(expr))]
    if expr.is_NumberSymbol or expr.is_number and not expr.args:
        return [type(expr).__name__[:100]]
    return [expr.func.__name__[:100]] + [encode_expr(sympy, a, budget, seen) for a in expr.args]


def decode_array(np, item):
    """A probe input array, written by the grader (trusted data)."""
    raw = base64.b64decode(item["b64"])
    return np.frombuffer(raw, dtype=item["dtype"]).reshape(item["shape"]).copy()


# --- the job: run cells, answer probes ----------------------------------------------------------

class CappedText(io.TextIOBase):
    """A stdout/stderr stand-in that keeps the first `cap` characters and counts the rest."""

    def __init__(self, cap):
        self.cap, self.parts, self.kept, self.dropped = cap, [], 0, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = self.cap - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def take(self):
        text, dropped = "".join(self.parts), self.dropped
        self.parts, self.kept, self.dropped = [], 0, 0
        return text, dropped


def make_shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class GradingShell(InteractiveShell):
        def enable_gui(self, gui=None):
            """No event loop in a grading worker: `%matplotlib inline` and friends are no-ops."""

        def enable_matplotlib(self, gui=None):
            """`%matplotlib inline` (or any backend) keeps matplotlib headless on Agg: plt.show()
            draws nothing and prints nothing."""
            return gui, "agg"

        def should_run_async(self, raw_cell, **kwargs):
            """Only a cell that says `await` or `async` can hold a top-level await: IPython's
            trial compile of every other cell, to look for one, is skipped."""
            texts = (raw_cell, kwargs.get("transformed_cell") or "")
            if not any(word in text for text in texts for word in ("await", "async")):
                return False
            return super().should_run_async(raw_cell, **kwargs)

    config = Config()
    config.HistoryManager.enabled = False
    shell = GradingShell(config=config, colors="nocolor")  # IPython 9 spells it so
    # what a cell displays is kept as the text it prints, as in IPython's terminal: no HTML,
    # LaTeX or PNG of it is made (a sympy matrix's LaTeX, a figure's PNG: nothing reads them)
    shell.display_formatter.active_types = ["text/plain"]
    # a cell's traceback is kept in its output as `python` prints one (file, line, the line's
    # text, the error), not IPython's default with context lines read through stack_data:
    # 4-7 ms per failing cell against 0.3 ms, and in a broken notebook each later cell that
    # uses a name the failed one never set fails too. Reports show the error, not this text.
    shell.InteractiveTB.set_mode("Plain")
    parse = ParsedOnce(shell.compile)
    shell.compile.ast_parse = parse.recall
    manager = shell.input_transformer_manager
    manager.transform_cell = plain_or_transformed(manager.transform_cell, parse)
    return shell


class ParsedOnce:
    """A cell's syntax tree, parsed once: plain_or_transformed parses a cell to learn that
    it is plain Python, and IPython's run_cell then parses the same text again to run it
    (CachingCompiler.ast_parse; together about a third of the time IPython adds to a
    solution's cells). `parse` parses as IPython does (its compiler's flags: a cell's
    `from __future__` import applies to the later ones) and keeps that one tree; `recall`,
    in place of the compiler's ast_parse, gives it back once for the same text and flags,
    and parses anything else itself. One tree is held at a time, never a job's earlier."""

    def __init__(self, compiler):
        self.compiler, self.original = compiler, compiler.ast_parse
        self.kept = None  # (text, flags, tree)

    def __call__(self, text):
        self.kept = None
        tree = self.original(text)
        self.kept = (text, self.compiler.flags, tree)
        return tree

    def recall(self, source, filename="<unknown>", symbol="exec"):
        kept, self.kept = self.kept, None
        if kept is not None and symbol == "exec" and kept[0] == source \
                and kept[1] == self.compiler.flags:
            return kept[2]
        return self.original(source, filename, symbol)


#: Lines textwrap.dedent empties (IPython's leading_indent dedents every cell).
BLANKS_WITH_SPACES = re.compile(r"^[ \t]+$", re.MULTILINE)


def plain_or_transformed(transform, parse=ast.parse):
    """IPython's input transformation (`transform`: TransformerManager.transform_cell, which
    tokenizes every cell, about 0.2 ms a cell), skipped for a cell it gives back unchanged:
    one that parses as Python (so it holds no magic, shell escape or help: their % ! ? are
    not Python where IPython looks for them) and has none of what the transformations find
    in the raw text (pasted prompts: >>> ... In [n]:; a first line blank or indented; a
    line of spaces, which dedent empties). Such a cell is returned as IPython returns it,
    with a final newline; `parse` (ParsedOnce in the shell) is given that text."""
    def transform_cell(cell):
        lines = cell.splitlines()
        if (not lines or not lines[0] or lines[0].isspace() or lines[0][0] in " \t"
                or ">>>" in cell or "In [" in cell
                or any(line.lstrip().startswith("...") for line in lines)
                or BLANKS_WITH_SPACES.search(cell)):
            return transform(cell)
        text = cell if cell.endswith("\n") else cell + "\n"
        try:
            parse(text)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return transform(cell)
        return text
    return transform_cell


def describe_error(exc):
    name = type(exc).__name__
    text = str(exc)
    return (name + (": " + text if text else ""))[:2000]


def close_figures():
    """Figures a cell drew are closed after it: memory stays flat, nothing is shown."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except BaseException:  # noqa: BLE001 - a patched pyplot must not stop grading
            pass


#: The zygote's shell, made and warmed before any job (serve): each job's process gets its
#: own copy of it by fork, empty but for IPython's own names. None: make one per job.
WARM_SHELL = None


def run_job(job, emit):
    limits = job["limits"]
    shell = WARM_SHELL if WARM_SHELL is not None else make_shell()
    out = CappedText(limits["output_chars"])
    real_stdout, real_stderr = sys.stdout, sys.stderr
    skip = set(job.get("skip", []))
    write_modules(job.get("files", {}))
    for index, source in enumerate(job["cells"]):
        if index in skip:
            continue
        emit({"ev": "cell_start", "cell": index})
        sys.stdout = sys.stderr = out
        try:
            result = shell.run_cell(source, store_history=False)
            error = result.error_before_exec or result.error_in_exec
        except BaseException as exc:  # noqa: BLE001 - a cell may raise anything, even SystemExit
            error = exc
        finally:
            sys.stdout, sys.stderr = real_stdout, real_stderr
        close_figures()
        text, dropped = out.take()
        emit({"ev": "cell_end", "cell": index, "ok": error is None,
              "error": None if error is None else describe_error(error),
              "memory": isinstance(error, MemoryError),
              "output": text, "output_dropped": dropped})
    namespace = shell.user_ns
    for probe in job["probes"]:
        emit({"ev": "probe_start", "id": probe["id"]})
        sys.stdout = sys.stderr = out
        try:
            value = answer_probe(probe, namespace)
            payload = {"ok": True, "value": encode_answer(value)}
        except BaseException as exc:  # noqa: BLE001
            payload = {"ok": False, "memory": isinstance(exc, MemoryError),
                       "error": str(exc) if isinstance(exc, ProbeError) else describe_error(exc)}
        finally:
            sys.stdout, sys.stderr = real_stdout, real_stderr
        close_figures()
        out.take()
        emit({"ev": "probe_end", "id": probe["id"], **payload})
    emit({"ev": "done"})


class ProbeError(Exception):
    """A probe that cannot be answered; its text is the whole message (no class name)."""


def write_modules(files):
    """The submission's own modules (name.py -> text, names checked by the grader) written
    into the job's folder, which goes first on sys.path: `import FP_layers` finds them."""
    for name, text in files.items():
        if os.path.basename(name) == name and name.endswith(".py"):
            with open(name, "w", encoding="utf-8") as handle:
                handle.write(text)
    if files:
        sys.path.insert(0, os.getcwd())


def resolve_name(name, namespace):
    """A probe's target: a name of the namespace, or a dotted path whose first part is one
    (else a module of the submission, imported from the job's folder) and the rest attributes:
    "FP_layers.STE.apply"."""
    first, _, rest = name.partition(".")
    if first in namespace:
        target = namespace[first]
    elif rest and os.path.isfile(first + ".py"):
        import importlib
        target = importlib.import_module(first)
    else:
        raise ProbeError(first + " is not defined")
    for attribute in rest.split(".") if rest else ():
        if not hasattr(target, attribute):
            raise ProbeError(name + " is not defined")
        target = getattr(target, attribute)
    return target


def answer_probe(probe, namespace):
    target = resolve_name(probe["name"], namespace)
    if probe["kind"] == "value":
        return target
    if not callable(target):
        raise ProbeError(probe["name"] + " is not a function")
    return answer_call(probe, target, namespace)


def seed_everything(seed):
    import random
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


class Recorder:
    """Stands in for a student's function while another one runs: calls it, counts the calls
    and keeps the first `keep` (args..., result) of them: arguments given by keyword in their
    positions, arrays copied as they were at the call (the caller may overwrite them after:
    `g[i] = f(g[i], s)`)."""

    def __init__(self, function, keep):
        self.function, self.keep = function, keep
        self.calls, self.records = 0, []
        try:
            import inspect
            self.signature = inspect.signature(function)
        except (TypeError, ValueError):
            self.signature = None

    def __call__(self, *args, **kwargs):
        kept = len(self.records) < self.keep
        if kept:
            given = args
            if kwargs and self.signature is not None:
                try:
                    given = self.signature.bind(*args, **kwargs).args
                except TypeError:
                    pass
            given = [snapshot(a) for a in given]
        result = self.function(*args, **kwargs)
        self.calls += 1
        if kept:
            self.records.append(given + [snapshot(result)])
        return result


def snapshot(value):
    """`value` as it is now: numpy arrays and torch tensors copied, lists copied item by item
    (other values are kept as they are)."""
    if hasattr(value, "copy") and type(value).__module__ == "numpy":
        return value.copy()
    if hasattr(value, "detach") and hasattr(value, "clone"):
        return value.detach().clone()
    if isinstance(value, list):
        return [snapshot(v) for v in value]
    return value


def answer_call(probe, target, namespace):
    """Call `target` as the probe says and return what the grader reads.

    args      plain JSON values, arrays {"t": "array"}, {"t": "ref", "name": N} (the student's
              own N) and {"t": "seed"} (the seed of the current call)
    repeat    calls with the same inputs (RNGs seeded once with `seed`); results stacked
    seeds     one call per seed, RNGs seeded with it before each; results stacked
    swap      {"name": N, "keep": K}: the student's global N is replaced, during the calls,
              by a Recorder (the grader learns whether the function it probes is the one used)
    batch     {"arg": i, "n": n}: first try ONE call with args[i] stacked n times on a new
              axis 0; used when it returns an array of shape (n, *args[i].shape)
    autograd  {"arg": i, "upstream": array}: every array argument becomes a float32 torch
              tensor on the CPU, args[i] one that requires a gradient; the answer is a dict
              {"value": the result, "grad": dL/d args[i] for L = sum(upstream * result), or
              None where the result carries no gradient}
    With seeds, swap or batch the answer is a dict {"value": stacked results, "batched",
    "calls", "records"} (the last three where they apply); otherwise the call's result.
    """
    if probe.get("autograd") is not None:
        return autograd_call(probe, target, namespace)
    np = sys.modules.get("numpy")
    if np is None:
        import numpy as np
    repeat, seed = int(probe.get("repeat", 1)), int(probe.get("seed", 0))
    seeds = probe.get("seeds")
    swap, batch = probe.get("swap"), probe.get("batch")
    extended = seeds is not None or swap is not None or batch is not None

    def resolve(item, current_seed):
        if isinstance(item, dict) and item.get("t") == "array":
            return decode_array(np, item)
        if isinstance(item, dict) and item.get("t") == "ref":
            if item["name"] not in namespace:
                raise ProbeError(item["name"] + " is not defined")
            return namespace[item["name"]]
        if isinstance(item, dict) and item.get("t") == "seed":
            return current_seed
        return item

    def call(current_seed):
        args = [resolve(a, current_seed) for a in probe.get("args", [])]
        try:
            return target(*args)
        except TypeError as exc:
            raise ProbeError(signature_mismatch(probe["name"], target, len(args), exc)) from None

    recorder = None
    if swap is not None:
        original = namespace.get(swap["name"])
        if not callable(original):
            raise ProbeError(swap["name"] + " is not a function")
        recorder = Recorder(original, min(int(swap.get("keep", 0)), RECORD_LIMIT))
        namespace[swap["name"]] = recorder
    answer = {}
    calls = []
    try:
        if batch is not None:
            stacked = batched_call(np, probe, target, batch, seed)
            if stacked is not None:
                answer["batched"] = True
                return {"value": stacked, **answer}
            answer["batched"] = False
        if seeds is not None:
            results = []
            for current in seeds:
                seed_everything(int(current))
                before = recorder.calls if recorder else 0
                results.append(np.array(call(int(current)), dtype=float))
                calls.append((recorder.calls if recorder else 0) - before)
            value = np.stack(results)
        else:
            seed_everything(seed)
            if repeat == 1:
                value = call(seed)
            else:
                value = np.stack([np.array(call(seed), dtype=float) for _ in range(repeat)])
            calls.append(recorder.calls if recorder else 0)
    finally:
        if recorder is not None:
            namespace[swap["name"]] = recorder.function
    if not extended:
        return value
    answer["value"] = value
    if recorder is not None:
        answer["calls"] = calls
        answer["records"] = recorder.records
    return answer


def autograd_call(probe, target, namespace):
    """The call of an `autograd` probe (see answer_call), RNGs seeded with its seed."""
    import numpy as np
    import torch
    spec = probe["autograd"]
    args = []
    for index, item in enumerate(probe.get("args", [])):
        if isinstance(item, dict) and item.get("t") == "array":
            item = torch.from_numpy(decode_array(np, item).astype(np.float32))
            item.requires_grad_(index == int(spec["arg"]))
        elif isinstance(item, dict) and item.get("t") == "ref":
            item = resolve_name(item["name"], namespace)
        args.append(item)
    seed_everything(int(probe.get("seed", 0)))
    try:
        result = target(*args)
    except TypeError as exc:
        raise ProbeError(signature_mismatch(probe["name"], target, len(args), exc)) from None
    grad = None
    if isinstance(result, torch.Tensor) and result.requires_grad:
        upstream = torch.from_numpy(decode_array(np, spec["upstream"]).astype(np.float32))
        (grad,) = torch.autograd.grad(result, args[int(spec["arg"])], grad_outputs=upstream,
                                      allow_unused=True)
    return {"value": result, "grad": grad}


def batched_call(np, probe, target, batch, seed):
    """One call with args[batch["arg"]] stacked batch["n"] times: the (n, ...) result, or None
    when the function does not work on stacked inputs (the caller then calls it n times)."""
    args = [decode_array(np, a) if isinstance(a, dict) and a.get("t") == "array" else a
            for a in probe.get("args", [])]
    index, n = int(batch["arg"]), int(batch["n"])
    single = np.asarray(args[index])
    args[index] = np.broadcast_to(single, (n,) + single.shape).copy()
    seed_everything(seed)
    try:
        result = np.asarray(target(*args), dtype=float)
    except Exception:  # noqa: BLE001 - any failure means: not vectorised, call one by one
        return None
    return result if result.shape == (n,) + single.shape else None


def signature_mismatch(name, target, count, exc):
    """A TypeError from calling the student's function with the grader's arguments, said in
    terms of both where the call itself does not fit the function's parameters:
    "terngrad takes (grads, clipGrads, T) here; the grader calls terngrad(a, b)". A TypeError
    raised inside a function that accepts the call passes as it is."""
    import inspect
    text = describe_error(exc)
    try:
        signature = inspect.signature(target)
        signature.bind(*range(count))
    except TypeError:
        called = ", ".join("abcdefgh"[i] if i < 8 else "..." for i in range(count))
        return (name + " takes (" + ", ".join(signature.parameters) + ") here; the grader "
                "calls " + name + "(" + called + ")")[:2000]
    except ValueError:  # a builtin without an inspectable signature
        return text
    return text


# --- Linux namespaces, mounts and capabilities (ctypes: the worker has no dependencies) ------

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
JOB_NAMESPACES = (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
                  | CLONE_NEWNET)
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def checked(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, what + ": " + os.strerror(error))


def enter_job_namespaces():
    """unshare() a user namespace (mapping only our own uid and gid) with fresh pid, mount,
    ipc, uts and network namespaces. The calling process keeps its pid; its next child is
    pid 1 of the new pid namespace."""
    uid, gid = os.geteuid(), os.getegid()
    # the zygote is not dumpable, and a non-dumpable process cannot write its own uid_map;
    # this fork of it holds nothing of any job, and no job can see it from its pid namespace
    libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    checked(libc().unshare(JOB_NAMESPACES), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", "%d %d 1" % (uid, uid)),
                       ("gid_map", "%d %d 1" % (gid, gid))):
        with open("/proc/self/" + name, "w") as handle:
            handle.write(text)


def mount_scratch(folders):
    """Private mount propagation, then a fresh tmpfs on each folder (name -> size in MB)."""
    checked(libc().mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for folder, size_mb in folders.items():
        options = ("size=%dm,mode=1777" % size_mb).encode()
        checked(libc().mount(b"tmpfs", folder.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                             options), "mount tmpfs " + folder)


def drop_capabilities():
    """No capabilities left, in any set, and none to be gained by exec (no_new_privs)."""
    lib = libc()
    lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    for cap in range(64):
        lib.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails harmlessly past the last capability

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    checked(lib.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def not_dumpable():
    """PR_SET_DUMPABLE = 0: a job (same uid) cannot ptrace this process or read its memory."""
    try:
        libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


# --- the processes of one job ------------------------------------------------------------------

def job_process(handover, settings):
    """The job (B with namespaces, else the zygote's child): confine, wait for the job's two
    pipes on `handover`, read the job from the first, run it, write events to the second;
    never returns."""
    try:
        if settings.get("namespaces"):
            drop_capabilities()
        job_in, events = receive_pipes(handover)
        job = read_job(job_in)
        limits = job["limits"]
        workdir = os.path.join(work_root(settings), "job-" + os.urandom(12).hex())
        os.mkdir(workdir, 0o700)
        os.chdir(workdir)
        os.environ.update(HOME=workdir, IPYTHONDIR=os.path.join(workdir, ".ipython"),
                          MPLCONFIGDIR=os.path.join(workdir, ".matplotlib"))
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        log = os.open("fd-output.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails, not kills
        apply_rlimits(limits)
    except BaseException:  # noqa: BLE001 - nothing ran: the grader sees no events and retries
        os._exit(70)
    stream = os.fdopen(events, "w", buffering=1)

    def emit(event):
        stream.write(dumps(event, allow_nan=False) + "\n")
        stream.flush()

    try:
        run_job(job, emit)
    except BaseException as exc:  # noqa: BLE001
        try:
            emit({"ev": "crash", "error": describe_error(exc)})
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(0)


def receive_pipes(handover):
    """The job's input and event pipes, sent by the zygote when the job is asked for; exits
    (nothing ran) if the zygote goes first or sends anything else."""
    _, fds, _, _ = socket.recv_fds(handover, 16, 2)
    handover.close()
    if len(fds) != 2:
        os._exit(70)
    return fds


def work_root(settings):
    """Where a job makes its folder: its own fresh /job (or /tmp) with namespaces, else the
    folder the grader named (emptied after every job)."""
    if settings.get("namespaces"):
        return "/job" if "/job" in settings["scratch"] else "/tmp"
    return settings["jobs_root"]


def read_job(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return json.loads(b"".join(chunks))


def apply_rlimits(limits):
    megabyte = 1024 * 1024
    for name, value in (("RLIMIT_AS", limits["memory_mb"] * megabyte),
                        ("RLIMIT_FSIZE", limits["file_mb"] * megabyte),
                        ("RLIMIT_NOFILE", limits["open_files"]),
                        ("RLIMIT_NPROC", limits["processes"]),
                        ("RLIMIT_CPU", int(limits["job_s"]) + 1),
                        ("RLIMIT_CORE", 0)):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError, AttributeError):
            pass  # not supported here (macOS has no RLIMIT_AS): the wall clocks still hold


def namespaced_job(handover, settings):
    """A: enter fresh namespaces and run B, pid 1 of them; exit with B's status. Never sees
    the job's pipes."""
    try:
        enter_job_namespaces()
        alive_r, alive_w = os.pipe()  # B learns A's death from this pipe's end of file
        pid = os.fork()
        if pid == 0:
            os.close(alive_w)
            job_init(handover, settings, alive_r)
        os.close(alive_r)
        handover.close()
        _, status = os.waitpid(pid, 0)
        os._exit(min(max(os.waitstatus_to_exitcode(status), 0), 255)
                 if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
    except BaseException:  # noqa: BLE001
        os._exit(71)


def job_init(handover, settings, alive):
    """B: pid 1 of the job's pid namespace, and the job itself. Dies with A; leads a session
    and process group of its own (the zygote's group would otherwise be the job's: its
    kill(0, SIGKILL) reached the zygote and A, and the slot had to be started again); mounts
    the job's fresh scratch; runs the job (job_process). When it exits, the kernel kills
    whatever else the job left in its namespace.

    Being the namespace's init, the job ignores the signals it has no handler for that come
    from inside the namespace (its own kill(getpid(), SIGTERM) does not end it); what ends a
    job from outside still does: A's death (SIGKILL from the ancestor namespace, as the
    death signal), the rlimits' SIGKILL, faults, the cgroup's OOM kill. The job's orphans
    are its own children (a job reaps them or leaves them as zombies until it ends, within
    its process cap). An init of its own that forked the job would cost a fork and an exit
    of the 100 MB warm image more per job (a slot's CPU per empty job: 19.5-20 ms with it,
    14-15.5 ms without)."""
    try:
        libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if select.select([alive], [], [], 0)[0]:
            os._exit(72)  # A died before the death signal was armed
        os.setsid()
        mount_scratch(settings.get("scratch", {}))
        os.close(alive)
    except BaseException:  # noqa: BLE001
        os._exit(73)
    job_process(handover, settings)


def plain_job(handover, settings):
    """Without namespaces: the job in its own process group, as the zygote's child."""
    os.setpgid(0, 0)
    job_process(handover, settings)


class Spare:
    """The next job's processes, forked from the zygote before the job is asked for: `pid`
    is the job's first process, `handover` the zygote's end of the socket pair its job
    process waits on for the two pipes."""

    def __init__(self, control, settings, namespaced):
        self.handover, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid = os.fork()
        if self.pid == 0:
            control.sock.close()  # the job never reaches the grader's control channel
            self.handover.close()
            (namespaced_job if namespaced else plain_job)(theirs, settings)
        theirs.close()

    def hand_over(self, fds):
        """Send the job's pipes; False if the spare is gone already (its first process has
        ended, or none of its processes holds the socket any more)."""
        try:
            if os.waitpid(self.pid, os.WNOHANG)[0] != 0:
                return False
            socket.send_fds(self.handover, [b"job"], fds)
            return True
        except OSError:  # ChildProcessError included
            return False
        finally:
            self.handover.close()

    def discard(self):
        """Kill and reap a spare that will not run a job."""
        self.handover.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError, PermissionError):
            pass


def empty_folder(path):
    """Delete everything under `path` without ever crossing into another file system (a bind
    mount of the environment, say): an entry on another device is left alone."""
    try:
        device = os.lstat(path).st_dev
        entries = os.listdir(path)
    except OSError:
        return
    for entry in entries:
        child = os.path.join(path, entry)
        try:
            info = os.lstat(child)
        except OSError:
            continue
        if info.st_dev != device:
            continue
        if stat.S_ISDIR(info.st_mode):
            try:
                os.chmod(child, 0o700)
            except OSError:
                pass
            empty_folder(child)
            try:
                os.rmdir(child)
            except OSError:
                pass
        else:
            try:
                os.unlink(child)
            except OSError:
                pass


def reap_strays():
    """Without namespaces, inside the sandbox's pid namespace only: kill every process left
    but the zygote and pid 1, then collect the zombies."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, os.getpid()):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


# --- the zygote ----------------------------------------------------------------------------------

def namespaces_work(scratch):
    """Whether this kernel lets us give a job its own namespaces and scratch (tried in a child)."""
    pid = os.fork()
    if pid == 0:
        try:
            enter_job_namespaces()
            inner = os.fork()
            if inner == 0:
                try:
                    mount_scratch(scratch)
                    drop_capabilities()
                    os._exit(0)
                except BaseException:  # noqa: BLE001
                    os._exit(1)
            _, status = os.waitpid(inner, 0)
            os._exit(0 if status == 0 else 1)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return status == 0


class Control:
    """The SOCK_SEQPACKET control socket: one JSON message per packet."""

    def __init__(self, sock):
        self.sock = sock

    def send(self, message):
        self.sock.send(json.dumps(message).encode())

    def receive(self):
        """(message, fds), or (None, []) when the grader has gone."""
        data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 4)
        if not data:
            return None, fds
        return json.loads(data), fds


def watch(control, pid, job_id, kill):
    """Wait for the job's first process to end, killing it when the grader says so."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    while True:
        watched = [control.sock] + ([pidfd] if pidfd is not None else [])
        ready, _, _ = select.select(watched, [], [], None if pidfd is not None else 0.05)
        if pidfd is not None and pidfd in ready or pidfd is None:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if pidfd is not None:
                    os.close(pidfd)
                return status
        if control.sock in ready:
            message, fds = control.receive()
            for fd in fds:
                os.close(fd)
            if message is None or (message.get("op") == "kill" and message.get("job") == job_id):
                kill(pid)


def warm_up():
    """What the preloaded libraries load on first use, done once here rather than in every
    job (measured on the duke-hw2 solution's cells: about 30 ms a job): sympy's first matrix
    product imports sympy.tensor and sympy.combinatorics, pyplot's first figure builds its
    axes and legend machinery. Generic objects only: nothing of any job or key."""
    sympy = sys.modules.get("sympy")
    pyplot = sys.modules.get("matplotlib.pyplot")
    try:
        if sympy is not None:
            a, b = sympy.symbols("a b")
            sympy.Matrix([[a, b], [b, a]]) * sympy.Matrix([[a], [b]])
        if pyplot is not None:
            figure, axes = pyplot.subplots()
            axes.plot([0, 1], [1, 0], label="a")
            axes.legend()
            axes.set_title("t")
            pyplot.close("all")
    except Exception:  # noqa: BLE001 - a library that cannot warm up still serves the jobs
        pass


def serve():
    control = Control(socket.socket(fileno=0))
    settings, _ = control.receive()
    not_dumpable()
    if settings.get("fonts"):  # the environment's prebuilt font list: no font scan at import
        try:
            shutil.copytree(settings["fonts"], os.environ["MPLCONFIGDIR"], dirs_exist_ok=True)
        except (OSError, KeyError):
            pass
    for module in settings.get("preload", []):
        try:
            __import__(module)
        except Exception:  # noqa: BLE001 - not installed, or broken here: a job imports it
            pass
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)  # a multi-threaded op before fork() can hang the child
    warm_up()
    global WARM_SHELL  # made and warmed once, here, not in every child (about 25 ms each):
    WARM_SHELL = make_shell()  # no job has run in this process, so it holds nothing of one
    WARM_SHELL.run_cell("pass", store_history=False)
    scratch = {folder: size for folder, size in settings.get("scratch", {}).items()
               if os.path.isdir(folder)}
    settings["scratch"] = scratch
    if settings.get("namespaces"):
        settings["namespaces"] = namespaces_work(scratch)
    gc.freeze()  # children then skip copying the warm heap on their first full collection
    # (no gc.collect() first: the imports leave next to no garbage, and a full collection
    # of the warm heap costs 20 ms before the first job can start)
    control.send({"op": "ready", "namespaces": bool(settings.get("namespaces")),
                  "pid": os.getpid()})
    namespaced = settings.get("namespaces")

    def kill(pid):
        try:
            if namespaced:
                os.kill(pid, signal.SIGKILL)
            else:
                os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    spare = Spare(control, settings, namespaced)
    while True:
        message, fds = control.receive()
        if message is None:
            spare.discard()
            return
        if message.get("op") != "fork" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            continue
        if not spare.hand_over(fds):  # it died waiting: a fresh one (if that one cannot
            spare.discard()           # start either, watch() reads its exit status)
            spare = Spare(control, settings, namespaced)
            spare.hand_over(fds)
        pid = spare.pid
        for fd in fds:
            os.close(fd)
        control.send({"op": "forked", "job": message["job"]})
        status = watch(control, pid, message["job"], kill)
        if not namespaced:
            kill(pid)  # what the job left in its process group
            if settings.get("reap"):
                reap_strays()
            for folder in settings.get("clean", []):  # named by the grader: never the host's
                empty_folder(folder)
        control.send({"op": "ended", "job": message["job"],
                      "exit": os.waitstatus_to_exitcode(status)})
        spare = Spare(control, settings, namespaced)  # no job of the slot is alive now


if __name__ == "__main__":
    serve()
