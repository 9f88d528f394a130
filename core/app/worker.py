"""`python -m core worker`: one JSON job spec on stdin, JSON lines on stdout.

A spec with "frames" (a folder) is a frame sequence (core/jobs/frames.py's FramesJob fields);
one with "movie" (a video file) is core/jobs/movie.py's VideoJob; one with "contents" and
"outputs" (lists) paints several images with one look (core/jobs/image_set.py); otherwise
one image (core/jobs/image.py's Job fields). Every job takes the engine options of
core/jobs/spec.py's EngineOptions, "backend" included. One with "learn" (a painting)
tunes ccpl-r31 to it (core/training/learn.py's LearnJob: "contents", "steps", "minutes");
its result line names the learned file, and a cancel keeps the best so far.

The add-on runs this as a child process so Blender never freezes and a crash in torch
cannot take Blender down. Lines: {"type": "progress", "fraction", "stage"} while working,
then exactly one {"type": "result", "status": "ok"|"error"|"cancelled", …}. SIGTERM (the
add-on's Cancel) stops at the next tile; temp files go, no output is written.
"""
from __future__ import annotations

import importlib
import json
import signal
import sys
import threading
import traceback
from dataclasses import asdict

from ..errors import BrushworkError, Cancelled, shorten
from ..app.progress import json_line

EXIT = {"ok": 0, "error": 2, "cancelled": 130}
# The field that tells a spec's job type → the module that runs it and its job class;
# each result's fields (less timings) are the result line's.
# "learn" (a painting to learn: core/training/learn.py's LearnJob) comes first: it may carry "contents".
JOBS = {"learn": ("..training.learn", "LearnJob"),
        "frames": ("..jobs.frames", "FramesJob"), "movie": ("..jobs.movie", "VideoJob"),
        "contents": ("..jobs.image_set", "ImageSetJob"), "content": ("..jobs.image", "Job")}


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


def _run(stdin, stdout, stop: threading.Event) -> tuple[str, dict]:
    try:
        from ..jobs.spec import from_spec

        try:
            spec = json.loads(stdin.read())
        except json.JSONDecodeError as e:
            raise BrushworkError(f"job spec is not valid JSON: {e}") from None
        except RecursionError:
            raise BrushworkError("job spec is nested too deeply (a job spec is one object of fields)") from None
        except UnicodeDecodeError as e:
            raise BrushworkError(f"job spec is not UTF-8 text ({e.reason} at byte {e.start})") from None
        except ValueError as e:   # e.g. an integer literal past Python's digit limit
            raise BrushworkError(f"job spec: {shorten(str(e), 120)}") from None
        if not isinstance(spec, dict):
            raise BrushworkError("job spec must be a JSON object")
        report = lambda f, s: json_line(stdout, type="progress", fraction=round(f, 4), stage=s)  # noqa: E731
        module, job_class = JOBS[next((key for key in JOBS if key in spec), "content")]
        try:
            jobs = importlib.import_module(module, __package__)
        except ImportError as e:
            if module != JOBS["learn"][0]:
                raise
            raise BrushworkError(f"learning a painting needs the engine's training code and PyTorch ({e})") from None
        job = from_spec(getattr(jobs, job_class), spec)  # checks field names and types
        report(0.0, "loading")
        result = asdict(jobs.run(job, report, stop.is_set))
        result.pop("timings", None)
        return "ok", dict(result, seconds=round(result["seconds"], 3))
    except BrushworkError as e:
        return "error", {"message": str(e)}
    except Cancelled:
        return "cancelled", {}
    except Exception as e:  # a bug: keep its traceback, still answer
        traceback.print_exc()
        return "error", {"message": f"internal error: {type(e).__name__}: {e}", "internal": True}
