"""Runs a Brushwork job (a generator of steps) with the UI live, or blocking in background mode.

A job is a generator: it does a little work, yields `(fraction, text)` for the progress
bar (or None while it only waits for the worker), and returns when done; it raises
`JobError` with a message for the artist, and cleans up in its own `finally` when closed
early (Cancel, Esc, an error). With a window, a timer advances it one step per tick,
so Blender stays responsive; in background mode (`blender -b`, the `bpy` module) timers
and modal operators never run, so the same generator is simply run to the end.

Here too are what the operators build their jobs from, so none imports another: steps
that follow a worker to its result (`wait_for`, `one_job`, `sequence_job`, and
`steadiness` to report a sequence's summary), and `request_cancel`, which stops any job.
"""
from __future__ import annotations

import atexit
import shutil
import threading
import time
from pathlib import Path

import bpy

from . import plan, preferences
from .worker_client import Worker

_cancel = threading.Event()   # set by the Cancel button, Esc, or request_cancel() from any thread
_active = {"job": None}       # the one job in progress (the panel shows it)


class JobError(Exception):
    """A job stopped for a reason the artist can act on (the message says which)."""


def request_cancel() -> None:
    """Ask the running job to stop (safe from any thread, e.g. a pipeline's watchdog)."""
    _cancel.set()


def is_running() -> bool:
    return _active["job"] is not None


def wait_for(worker, to_fraction, label: str):
    """Steps that follow a worker to its result: yields progress, returns the result message."""
    while True:
        messages = worker.poll()
        if not messages:
            yield None
            continue
        for msg in messages:
            if msg.get("type") == "progress":
                yield to_fraction(msg.get("fraction", 0.0)), f"{label} {msg.get('stage', '')}".strip()
            elif msg.get("type") == "result":
                if msg.get("status") == "ok":
                    return msg
                if msg.get("status") == "cancelled":
                    raise JobError("cancelled")
                raise JobError(msg.get("message", "the worker failed"))


def one_job(worker, label: str, work: Path, made_dirs: list[Path] = (), keep_on_cancel: bool = False):
    """Steps of a single worker job, returning its result; its temp folder goes when it
    ends, however it ends, and the output folders made for it (`plan.make_dirs`) when it
    fails. `keep_on_cancel`: a cancelled worker is given time to finish what it keeps
    (learning saves its best weights so far) before its folder goes."""
    ok = False
    try:
        result = yield from wait_for(worker, lambda f: f, label)
        ok = True
        return result
    finally:
        if not ok and keep_on_cancel:
            worker.cancel()
            worker.kill_after(120)
        _end(worker, ok, made_dirs)
        shutil.rmtree(work, ignore_errors=True)


def sequence_job(context, spec: dict, share: float, result: dict, made_dirs: list[Path] = ()):
    """Steps of a frame-sequence or movie worker job taking the progress after `share`
    (what came before it, e.g. rendering, took the rest); its summary lands in `result`.
    A cancelled worker removes its partial file; a failed job, the folders made for it."""
    worker = Worker(spec, preferences.python_setup(context))
    ok = False
    try:
        result.update((yield from wait_for(worker, lambda f: share + (1 - share) * f, "stylize")))
        ok = True
    finally:
        _end(worker, ok, made_dirs)


def _end(worker, ok: bool, made_dirs: list[Path]) -> None:
    """Stop the worker; after a failure wait until it has removed its partial files, then
    take away the folders made for its output, so nothing of the run is left."""
    worker.cancel()
    if not ok:
        worker.kill_after()
        plan.remove_dirs(made_dirs)


def steadiness(result: dict) -> str:
    """"; flicker A (frames alone B)" from a sequence job's summary, or "" without motion."""
    if result.get("flicker") is None or not result.get("flicker_alone"):
        return ""
    return f"; flicker {result['flicker']:.2f} (frames alone {result['flicker_alone']:.2f})"


class DrivenOperator:
    """Mixin for operators whose work is a job generator (see the module docstring)."""

    _timer = None
    _job = None
    cancelled_note = "nothing was changed"   # what a cancel leaves, for the artist

    @classmethod
    def poll(cls, context):
        """One Brushwork job at a time (they share the progress bar and the Cancel button)."""
        if is_running():
            cls.poll_message_set("Brushwork is already working; wait or cancel")
            return False
        return True

    def drive(self, context, job) -> set:
        _cancel.clear()
        _active["job"] = self
        self._job = job
        self._last_print = 0.0
        if bpy.app.background or context.window is None:
            try:
                for step in job:
                    if _cancel.is_set():
                        return self._stop(context, "cancelled")
                    if step is None:
                        time.sleep(0.1)
                    else:
                        self._progress(context, *step)
            except JobError as e:
                return self._stop(context, str(e))
            except KeyboardInterrupt:
                return self._stop(context, "cancelled")
            return self._stop(context, None)
        self._progress(context, 0.0, "starting")
        self._timer = context.window_manager.event_timer_add(0.1, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" or _cancel.is_set():
            return self._stop(context, "cancelled")
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        try:
            step = next(self._job)
        except StopIteration:
            return self._stop(context, None)
        except JobError as e:
            return self._stop(context, str(e))
        if step is not None:
            self._progress(context, *step)
        return {"PASS_THROUGH"}

    def cancel(self, context) -> None:
        """Blender ends the modal operator itself: quitting, File > Open, its window closed.
        Stop the job now, while Python still runs: its clean-up removes what it wrote and
        waits for the worker, which would otherwise outlive Blender."""
        if _active["job"] is self and self._job is not None:
            self._stop(context, "cancelled")

    def finished(self, context) -> None:
        """Called once the job has run to its end (apply results, report)."""

    def _progress(self, context, fraction: float, text: str) -> None:
        state = context.window_manager.brushwork_job
        state.running, state.progress, state.status = True, fraction, text
        if bpy.app.background:
            now = time.monotonic()
            if now - self._last_print > 1.0 or fraction >= 1:
                print(f"Brushwork: {text} {fraction:.0%}", flush=True)
                self._last_print = now
            return
        if context.workspace:
            context.workspace.status_text_set(f"Brushwork: {text} {fraction:.0%}  (Esc to cancel)")
        _redraw(context)

    def _stop(self, context, error: str | None) -> set:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        try:
            self._job.close()  # runs the job's own cleanup when it ended early
            if error is None:
                self.finished(context)
            elif error == "cancelled":
                self.report({"WARNING"}, f"Brushwork cancelled; {self.cancelled_note}")
            else:
                self.report({"ERROR"}, error)
        finally:
            _active["job"] = None
            _cancel.clear()
            state = context.window_manager.brushwork_job
            state.running, state.progress, state.status = False, 0.0, ""
            if not bpy.app.background and context.workspace:
                context.workspace.status_text_set(None)
                _redraw(context)
        return {"FINISHED"} if error is None else {"CANCELLED"}


def stop_all() -> None:
    """Close the running job, if any, without a context: the last chance before Python
    shuts down (atexit) or the add-on goes away. The job's own clean-up (`finally`) then
    runs while imports still work, instead of in the garbage collector at shutdown."""
    op = _active["job"]
    if op is None:
        return
    _active["job"] = None
    _cancel.clear()
    if op._job is not None:
        op._job.close()


atexit.register(stop_all)


def _redraw(context) -> None:
    for area in context.screen.areas if context.screen else []:
        if area.type in {"VIEW_3D", "PROPERTIES", "STATUSBAR", "IMAGE_EDITOR"}:
            area.tag_redraw()
