"""`python -m core worker`: one JSON job spec on stdin, JSON lines on stdout.

A spec with "frames" (a folder) is a frame sequence (core/jobs/frames.py's FramesJob fields);
one with "movie" (a video file) is core/jobs/movie.py's VideoJob; otherwise one image
(core/jobs/image.py's Job fields).

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
import traceback

from core.errors import BrushworkError, Cancelled
from core.app.progress import json_line

EXIT = {"ok": 0, "error": 2, "cancelled": 130}


def main(stdin=None, stdout=None) -> int:
    """Run one job; exit 0 ok, 2 error (bad spec or input), 130 cancelled, 1 internal error.

    A bug still ends in a result line (status "error", traceback on stderr), so the
    add-on is never left waiting for one. Signal handlers are restored on return, for
    callers that run this in-process.
    """
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    stop = threading.Event()
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            saved[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        status, extra = _run(stdin, stdout, stop)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    json_line(stdout, type="result", status=status, **extra)
    return 1 if extra.get("internal") else EXIT[status]


def _sequence(spec: dict, report, stop: threading.Event) -> tuple[str, dict]:
    """A frame sequence (core/jobs/frames.py) or a movie file (core/jobs/movie.py)."""
    from core.jobs import image as jobs
    if "frames" in spec:
        from core.jobs import frames
        job = jobs.from_spec(frames.FramesJob, spec, ("frames", "styles", "output"))
        report(0.0, "loading")
        r = frames.run(job, report, stop.is_set)
        return "ok", {"output": r.output, "frames": r.frames, "done": r.done, "video": r.video,
                      "seconds": round(r.seconds, 3), "flicker": r.flicker, "flicker_alone": r.flicker_alone}
    from core.jobs import movie as clip
    job = jobs.from_spec(clip.VideoJob, spec, ("movie", "styles", "output"))
    report(0.0, "loading")
    r = clip.run(job, report, stop.is_set)
    return "ok", {"output": r.output, "frames": r.frames, "width": r.width, "height": r.height,
                  "fps": r.fps, "seconds": round(r.seconds, 3), "flicker": r.flicker,
                  "flicker_alone": r.flicker_alone, "notes": r.notes}


def _run(stdin, stdout, stop: threading.Event) -> tuple[str, dict]:
    try:
        from core.jobs import image as jobs
        from core.jobs.image import _check_type

        try:
            spec = json.loads(stdin.read())
        except json.JSONDecodeError as e:
            raise BrushworkError(f"job spec is not valid JSON: {e}") from None
        if not isinstance(spec, dict):
            raise BrushworkError("job spec must be a JSON object")
        report = lambda f, s: json_line(stdout, type="progress", fraction=round(f, 4), stage=s)  # noqa: E731
        if "frames" in spec or "movie" in spec:  # sequences pick the backend for their Stylizer here
            from core.backends import preferred
            backend = spec.pop("backend", "auto")
            _check_type("backend", backend)
            with preferred(backend):
                return _sequence(spec, report, stop)
        job = jobs.Job.from_dict(spec)  # checks field names and types
        json_line(stdout, type="progress", fraction=0.0, stage="loading")
        result = jobs.run(job, report, stop.is_set)
        return "ok", {"output": result.output, "width": result.width, "height": result.height,
                      "seconds": round(result.seconds, 3), "untrained": result.untrained, "wrap": result.wrap,
                      "backend": result.backend}
    except BrushworkError as e:
        return "error", {"message": str(e)}
    except Cancelled:
        return "cancelled", {}
    except Exception as e:  # a bug: keep its traceback, still answer
        traceback.print_exc()
        return "error", {"message": f"internal error: {type(e).__name__}: {e}", "internal": True}
