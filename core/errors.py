"""Errors the user is meant to read.

`BrushworkError` carries a one-line message that names the file and the problem; the
CLI prints it and exits 2, the worker sends it as the job's result. Anything else is a
bug and keeps its traceback.
"""
from __future__ import annotations


import sys


def warn(msg: str) -> None:
    """A line on stderr the user should see (the CLI shows it, the worker passes it on)."""
    print(f"brushwork: warning: {msg}", file=sys.stderr)


class BrushworkError(Exception):
    """Bad input or a missing prerequisite, explained in one line for the user."""


class Cancelled(Exception):
    """The job was asked to stop; everything it wrote has been removed."""
