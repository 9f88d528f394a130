"""Other libraries' own lines on stderr, kept from the user and summarised in ours.

libpng, libjpeg and OpenEXR print their complaints about a damaged file straight to the
process's stderr (file descriptor 2, below Python), and ffmpeg prints its own; the user
should read one line from us instead ("photo.png: not a readable image (libpng: IDAT:
CRC error)"). `captured()` points descriptor 2 at a temporary file for the length of a
call and gives back what was written there. Descriptor 2 is the whole process's, so
captures are serialised by a lock, and any of our own lines written meanwhile (warnings,
the progress bar) are passed on to the real stderr.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading

_LOCK = threading.RLock()
_OURS = re.compile(r"^(brushwork: |\s*\d{1,3}% |\r?\[)")  # our warnings and errors, the progress bar


class Capture:
    """What a library wrote to stderr during a `captured()` block."""

    def __init__(self, file):
        self.file = file
        self.lines: list[str] = []

    def read(self) -> list[str]:
        """The library's lines so far (a child process keeps writing after the block)."""
        self.file.seek(0)
        text = self.file.read().decode("utf-8", "replace")
        self.lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _OURS.match(ln)]
        return self.lines

    def last(self, default: str = "") -> str:
        """The library's last line, the one that usually says what went wrong."""
        lines = self.lines if self.file.closed else self.read()
        return lines[-1] if lines else default

    def close(self) -> None:
        self.file.close()


@contextlib.contextmanager
def captured(keep: bool = False):
    """Descriptor 2 into a temporary file for the block; yields its `Capture`.

    `keep`: the file stays open after the block (a child process started inside keeps
    it as its stderr); the caller reads and closes it."""
    with _LOCK:
        capture = Capture(tempfile.TemporaryFile())
        try:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            try:
                saved = os.dup(2)
            except OSError:  # no descriptor 2 (a windowed Blender): nothing to redirect
                saved = None
            else:
                os.dup2(capture.file.fileno(), 2)
            try:
                yield capture
            finally:
                if saved is not None:
                    with contextlib.suppress(Exception):
                        sys.stderr.flush()
                    os.dup2(saved, 2)
                    os.close(saved)
                    _pass_on_ours(capture)
                capture.read()
        finally:
            if not keep:
                capture.close()


def _pass_on_ours(capture: Capture) -> None:
    """Our own lines written during the capture (another thread's warning) go out after all."""
    capture.file.seek(0)
    text = capture.file.read().decode("utf-8", "replace")
    ours = [ln for ln in text.splitlines(keepends=True) if _OURS.match(ln)]
    if ours:
        sys.stderr.write("".join(ours))
        sys.stderr.flush()
    capture.file.seek(0, os.SEEK_END)


def summary(capture: Capture, library: str, joint: str | None = None) -> str:
    """" (libpng: <its last line>)" to end our message with, or "" when it said nothing;
    with `joint` (", "), the same without parentheses, to go inside ours."""
    last = capture.last()
    if not last:
        return ""
    last = re.sub(r"^(lib\w+ (error|warning)|<python_buffer>):\s*", "", last)[:160]
    return f"{joint}{library}: {last}" if joint else f" ({library}: {last})"
