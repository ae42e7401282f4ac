"""Typed settings: what a value of grader.toml must be, checked before anything runs.

An assignment module declares its tolerances (`TOLERANCES`) and the parameters its key takes
(`KEY_PARAMETERS`, per reference topic) as `Setting`s: a kind (int, number, bool, string,
list, table) and a range. `check_table` refuses an unknown name (a typo such as `stepz`), a
value of the wrong kind (`lr = "fast"`) and a value out of range (`steps = 0`, `rtol = -1`),
with a message that names the file, the key and the fix, before a key is built or a single
mark is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("int", "number", "bool", "string", "list", "table")


@dataclass(frozen=True)
class Setting:
    """One setting: `kind`, an inclusive `minimum`/`maximum`, a strict lower bound `above`,
    allowed `choices`, the Setting of each item of a list (`items`), the Settings of a
    table's fields (`fields`, None: any field), and a short `help` for messages."""

    kind: str
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    choices: tuple = ()
    items: "Setting | None" = None
    fields: dict[str, "Setting"] | None = None
    help: str = ""
    length: tuple[int, int] | None = None  # (min, max) items of a list

    def problem(self, value) -> str | None:
        """What is wrong with `value` (a phrase for "[key] is ..."), or None."""
        if not _is_kind(value, self.kind):
            return f"{value!r}, not {_describe(self.kind)}"
        if self.kind in ("int", "number"):
            if isinstance(value, float) and not math.isfinite(value):
                return f"{value}, not a finite number"
            if self.minimum is not None and value < self.minimum:
                return f"{value}; it must be at least {self.minimum:g}"
            if self.maximum is not None and value > self.maximum:
                return f"{value}; it must be at most {self.maximum:g}"
            if self.above is not None and value <= self.above:
                return f"{value}; it must be greater than {self.above:g}"
        if self.choices and value not in self.choices:
            return f"{value!r}; it must be one of {', '.join(map(repr, self.choices))}"
        if self.kind == "list":
            if self.length and not self.length[0] <= len(value) <= self.length[1]:
                low, high = self.length
                return (f"a list of {len(value)} items; it must have "
                        + (f"{low}" if low == high else f"{low} to {high}") + " items")
            for index, item in enumerate(value):
                wrong = self.items.problem(item) if self.items else None
                if wrong:
                    return f"a list whose item {index + 1} is {wrong}"
        return None


def _is_kind(value, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, {"bool": bool, "string": str, "list": list, "table": dict}[kind])


def _describe(kind: str) -> str:
    return {"int": "an integer", "number": "a number", "bool": "true or false",
            "string": "a string", "list": "a list", "table": "a table"}[kind]


class SettingError(ValueError):
    """A value that breaks its Setting: `key` (dotted, as in grader.toml) and the `problem`."""

    def __init__(self, key: str, problem: str, fix: str):
        super().__init__(f"[{key}] is {problem}; {fix}")
        self.key, self.problem, self.fix = key, problem, fix


def check_table(table: dict, schema: dict[str, Setting], where: str) -> None:
    """Every name of `table` known to `schema`, every value of its kind and in range; tables
    with declared fields are checked the same way, field by field."""
    for name, value in table.items():
        key = f"{where}.{name}"
        if name not in schema:
            known = ", ".join(sorted(schema)) or "none"
            raise SettingError(key, "not a known setting", f"known here: {known}")
        setting = schema[name]
        wrong = setting.problem(value)
        if wrong:
            raise SettingError(key, wrong, setting.help or "fix the value")
        if setting.kind == "table" and setting.fields is not None:
            check_table(value, setting.fields, key)


def required(table: dict, schema: dict[str, Setting], where: str) -> None:
    """Every name of `schema` present in `table` (tolerances have no defaults)."""
    missing = sorted(set(schema) - set(table))
    if missing:
        raise SettingError(where, f"missing {', '.join(missing)}",
                           "add " + ", ".join(f"{m} ({schema[m].help or schema[m].kind})"
                                              for m in missing))


def int_at_least(low: int, help: str = "") -> Setting:
    return Setting("int", minimum=low, help=help)


def number_above(low: float, help: str = "") -> Setting:
    return Setting("number", above=low, help=help)


def number_in(low: float, high: float, help: str = "") -> Setting:
    return Setting("number", minimum=low, maximum=high, help=help)


PROBABILITY = number_in(0, 1, "a share between 0 and 1")
NONNEGATIVE = Setting("number", minimum=0, help="a number of at least 0")
SEED = Setting("int", minimum=0, maximum=2**63 - 1, help="a seed: an integer of at least 0")
