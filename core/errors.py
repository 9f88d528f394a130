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
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not ok(value):
        raise SettingError(setting, value, problem)
    return value


def words(setting: str) -> str:
    return setting.replace("_", " ")


def show(value) -> str:
    """A value as the user typed it: 0.5, nan, inf, "text" (JSON for anything else)."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, default=repr)


class Cancelled(Exception):
    """The job was asked to stop; everything it wrote has been removed."""
