"""Errors the user is meant to read.

`BrushworkError` carries a one-line message that names the file and the problem; the
CLI prints it and exits 2, the worker sends it as the job's result. Anything else is a
bug and keeps its traceback.

The engine names settings in words ("style scale 9: must be between 0.125 and 8"), so an
artist in Blender reads the panel's words; the CLI re-labels them with its flags
(`--style-scale 9: …`) through `SettingError.labelled` and `BrushworkError.setting`.
"""
from __future__ import annotations

import json
import math
import sys


def warn(msg: str) -> None:
    """A line on stderr the user should see (the CLI shows it, the worker passes it on)."""
    print(f"brushwork: warning: {msg}", file=sys.stderr)


class BrushworkError(Exception):
    """Bad input or a missing prerequisite, explained in one line for the user.

    `setting`: the setting the message is about or points to (snake_case), if any."""

    def __init__(self, message: str, setting: str | None = None):
        super().__init__(message)
        self.setting = setting


class SettingError(BrushworkError):
    """A setting's value refused: "<setting in words> <value>: <problem>"."""

    def __init__(self, setting: str, value, problem: str):
        self.value, self.problem = value, problem
        super().__init__(f"{words(setting)} {show(value)}: {problem}", setting)

    def labelled(self, label: str) -> str:
        """The same message with the setting called `label` (the CLI's flag)."""
        return f"{label} {show(self.value)}: {self.problem}"


def check_number(setting: str, value, ok, problem: str) -> float:
    """`value` if it is a finite number for which `ok(value)` holds, else a SettingError.

    Every number is checked where it enters: NaN compares false both ways, so a range
    test alone (`if value < 0`) lets it through, and inf satisfies any lower bound."""
    if not is_finite_number(value) or not ok(value):
        raise SettingError(setting, value, problem)
    return value


def is_finite_number(value) -> bool:
    """A real number a float can hold: not a bool, NaN or inf, nor an integer too large
    for a float (JSON and Python integers have no limit; `math.isfinite` overflows)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def words(setting: str) -> str:
    return setting.replace("_", " ")


SHOWN = 30   # characters of a value a message repeats; the rest is counted, not echoed


def show(value) -> str:
    """A value as the user typed it: 0.5, nan, inf, "text" (JSON for anything else),
    shortened past SHOWN characters (a 400-digit number is not worth repeating)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 96:   # str() of a huge int is slow, and past 4,300 digits refused
            return f"{'-' if value < 0 else ''}(a {int(value.bit_length() * 0.30103) + 1}-digit number)"
        return str(value)
    if isinstance(value, (float, str)):
        return shorten(str(value))
    try:
        return shorten(json.dumps(value, default=repr))
    except (RecursionError, ValueError):
        return f"a {type(value).__name__}"


def shorten(text: str, most: int = SHOWN) -> str:
    """`text`, or its start and end around "…" when longer than `most` characters."""
    if len(text) <= most:
        return text
    return f"{text[:most // 2]}…{text[-(most // 2 - 1):]} ({len(text)} characters)"


class Cancelled(Exception):
    """The job was asked to stop; everything it wrote has been removed."""
