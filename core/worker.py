"""`python -m core worker`: one JSON job spec on stdin, JSON lines on stdout.

The add-on runs this as a child process so Blender never freezes and a crash in torch
cannot take Blender down. Lines: {"type": "progress", "fraction", "stage"} while working,
then exactly one {"type": "result", "status": "ok"|"error"|"cancelled", …}. SIGTERM (the
add-on's Cancel) stops at the next tile; temp files go, no output is written.
"""
from __future__ import annotations

import json
import signal
import sys
import threading

from .errors import BrushworkError, Cancelled
from .progress import json_line

EXIT = {"ok": 0, "error": 2, "cancelled": 130}


def main(stdin=None, stdout=None) -> int:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        from . import jobs

        try:
            spec = json.loads(stdin.read())
        except json.JSONDecodeError as e:
            raise BrushworkError(f"job spec is not valid JSON: {e}") from None
        if not isinstance(spec, dict):
            raise BrushworkError("job spec must be a JSON object")
        job = jobs.Job.from_dict(spec)
        json_line(stdout, type="progress", fraction=0.0, stage="loading")
        result = jobs.run(job, lambda f, s: json_line(stdout, type="progress", fraction=round(f, 4), stage=s),
                          stop.is_set)
        status, extra = "ok", {"output": result.output, "width": result.width, "height": result.height,
                               "seconds": round(result.seconds, 3), "untrained": result.untrained}
    except BrushworkError as e:
        status, extra = "error", {"message": str(e)}
    except TypeError as e:  # a spec field of the wrong type
        status, extra = "error", {"message": f"job spec: {e}"}
    except Cancelled:
        status, extra = "cancelled", {}
    json_line(stdout, type="result", status=status, **extra)
    return EXIT[status]
