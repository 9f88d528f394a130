"""Progress for people (a bar on a terminal) and for programs (JSON lines)."""
from __future__ import annotations

import json
import sys
import time


class Bar:
    """A one-line bar on stderr; plain lines every 10 % when stderr is not a terminal."""

    def __init__(self, stream=None):
        stream = stream or sys.stderr  # looked up now: stderr may have been replaced since import
        self.stream, self.tty = stream, stream.isatty()
        self.t0, self.last = time.monotonic(), -1

    def __call__(self, fraction: float, stage: str) -> None:
        pct = int(fraction * 100)
        if self.tty:
            filled = int(fraction * 30)
            eta = (time.monotonic() - self.t0) * (1 - fraction) / fraction if fraction > 0.02 else None
            tail = f" ETA {eta:4.0f}s" if eta is not None and fraction < 1 else ""
            self.stream.write(f"\r[{'#' * filled}{' ' * (30 - filled)}] {pct:3d}% {stage:<10}{tail}   ")
            if fraction >= 1:
                self.stream.write("\n")
        elif pct // 10 != self.last // 10 or fraction >= 1:
            self.stream.write(f"{pct:3d}% {stage}\n")
        self.last = pct
        self.stream.flush()


def json_line(stream, **fields) -> None:
    """One JSON object per line, flushed at once: the worker's protocol."""
    stream.write(json.dumps(fields) + "\n")
    stream.flush()
