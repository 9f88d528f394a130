"""Stylize Texture, Revert and Cancel.

Stylize plans one worker job per Base Color image, runs them one after another in a
child process (polled from a timer with the UI live; blocking in background mode,
where timers and modal operators never run), and only when every job has succeeded
loads the new images and relinks the materials, in one undo step. An error or a
cancel deletes what this run wrote, so the materials and folders stay as they were.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import bpy

from . import materials, plan, preferences
from .worker_client import Worker

_cancel = threading.Event()   # set by the Cancel button, Esc, or request_cancel() from any thread
_active = {"run": None}       # the one run in progress (the panel shows it)


def request_cancel() -> None:
    """Ask the running Stylize to stop (safe from any thread, e.g. a pipeline's watchdog)."""
    _cancel.set()


def is_running() -> bool:
    return _active["run"] is not None


class _Run:
    """One Stylize: its plan, the job being worked on, and what it has written so far."""

    def __init__(self, context, settings):
        self.settings = settings
        self.style = bpy.path.abspath(settings.style_image)
        self.work_dir = Path(tempfile.mkdtemp(prefix="brushwork-"))
        self.plan = plan.make(context, settings, self.work_dir)
        self.python = preferences.python_setup(context)
        self.index, self.worker, self.written, self.made_dirs = -1, None, [], []
        self.last_print = 0.0

    def start_next(self) -> bool:
        """Start the next job's worker; False when all are done."""
        self.index += 1
        if self.index >= len(self.plan.jobs):
            return False
        job = self.plan.jobs[self.index]
        out_dir = Path(job.output).parent
        if not out_dir.exists():
            missing = [p for p in [out_dir, *out_dir.parents] if not p.exists()]
            out_dir.mkdir(parents=True)
            self.made_dirs.extend(missing)   # deepest first: removed in this order on failure
        self.worker = Worker(job.spec, self.python)
        return True

    def fraction(self, within: float) -> float:
        return (self.index + within) / max(1, len(self.plan.jobs))

    def status(self, stage: str) -> str:
        job = self.plan.jobs[self.index]
        return f"Brushwork: {job.image} ({self.index + 1}/{len(self.plan.jobs)}) {stage}"

    def finished_job(self, msg: dict) -> str | None:
        """Record a job's result; returns an error message, or None if it went well."""
        if msg.get("status") == "ok":
            self.written.append(msg["output"])
            return None
        if msg.get("status") == "cancelled":
            return "cancelled"
        return f"{self.plan.jobs[self.index].image}: {msg.get('message', 'failed')}"

    def apply(self) -> list[str]:
        """Load the results and relink every use; returns the new image names."""
        names = []
        for job in self.plan.jobs:
            original = bpy.data.images[job.image]
            image = bpy.data.images.load(job.output, check_existing=False)
            image.name = f"{original.name}.stylized"
            image.colorspace_settings.name = original.colorspace_settings.name
            image.alpha_mode = original.alpha_mode
            if self.settings.pack:
                image.pack()
            names.append(image.name)
            for mat_name, node_name in job.uses:
                mat = bpy.data.materials[mat_name]
                for found in materials.base_color_images(mat):
                    if found.node.name == node_name:
                        materials.use_stylized(found, image, self.style)
        return names

    def discard(self) -> None:
        """Undo this run's traces on disk: its outputs and any folder it created."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.kill_after()
        for path in self.written:
            Path(path).unlink(missing_ok=True)
        for folder in self.made_dirs:
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty: something else lives there now

    def close(self) -> None:
        shutil.rmtree(self.work_dir, ignore_errors=True)


def _check_inputs(context, settings) -> str | None:
    if not settings.style_image:
        return "Pick a style image first (Brushwork panel > Style)"
    style = Path(bpy.path.abspath(settings.style_image))
    if not style.is_file():
        return f"Style image not found: {style}"
    if not materials.materials_of(context, settings.selected_objects):
        return "No material: select an object with a material"
    return None


class BRUSHWORK_OT_stylize_texture(bpy.types.Operator):
    """Paint the Base Color textures of the active material (or the selected objects) after the style image"""
    bl_idname = "brushwork.stylize_texture"
    bl_label = "Stylize Texture"
    bl_options = {"REGISTER", "UNDO"}

    _timer = None

    @classmethod
    def poll(cls, context):
        if is_running():
            cls.poll_message_set("Brushwork is already working; wait or cancel")
            return False
        return True

    def execute(self, context):
        settings = context.scene.brushwork
        problem = _check_inputs(context, settings)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        _cancel.clear()
        run = _Run(context, settings)
        for line in run.plan.skipped:
            self.report({"WARNING"}, f"Skipped {line}")
        if not run.plan.jobs:
            run.close()
            self.report({"ERROR"}, "No colour image feeds Base Color here"
                        + (f" ({len(run.plan.skipped)} skipped)" if run.plan.skipped else ""))
            return {"CANCELLED"}
        _active["run"] = run
        if bpy.app.background or context.window is None:
            return self._run_blocking(context, run)
        run.start_next()
        self._set_progress(context, 0.0, run.status("starting"))
        self._timer = context.window_manager.event_timer_add(0.1, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        run = _active["run"]
        if event.type == "ESC" or _cancel.is_set():
            return self._end(context, run, "cancelled")
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        for msg in run.worker.poll():
            if msg.get("type") == "progress":
                self._set_progress(context, run.fraction(msg.get("fraction", 0.0)), run.status(msg.get("stage", "")))
            elif msg.get("type") == "result":
                error = run.finished_job(msg)
                if error:
                    return self._end(context, run, error)
                if not run.start_next():
                    return self._end(context, run, None)
        return {"PASS_THROUGH"}

    def _run_blocking(self, context, run: _Run):
        """Background mode: the same jobs, waited for here; progress goes to stdout."""
        error = None
        try:
            while error is None and run.start_next():
                while True:
                    if _cancel.is_set():
                        error = "cancelled"
                        break
                    msg = run.worker.wait(timeout=0.2)
                    if msg is None:
                        continue
                    if msg.get("type") == "progress":
                        self._set_progress(context, run.fraction(msg.get("fraction", 0.0)),
                                           run.status(msg.get("stage", "")))
                    elif msg.get("type") == "result":
                        error = run.finished_job(msg)
                        break
        except KeyboardInterrupt:
            error = "cancelled"
        return self._end(context, run, error)

    def _set_progress(self, context, fraction: float, text: str) -> None:
        state = context.window_manager.brushwork_job
        state.running, state.progress, state.status = True, fraction, text
        run = _active["run"]
        if bpy.app.background:
            now = time.monotonic()
            if now - run.last_print > 1.0:
                print(f"{text} {fraction:.0%}", flush=True)
                run.last_print = now
            return
        if context.workspace:
            context.workspace.status_text_set(f"{text} {fraction:.0%}  (Esc to cancel)")
        _redraw(context)

    def _end(self, context, run: _Run, error: str | None):
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
        try:
            if error is None:
                names = run.apply()
                where = Path(run.written[0]).parent if run.written else ""
                self.report({"INFO"}, f"Stylized {len(names)} image(s): {', '.join(names)} (files in {where})")
                if not bpy.data.filepath and not run.settings.pack:
                    self.report({"WARNING"}, "The .blend is not saved: results are in a temp folder; "
                                "save the .blend and re-run, or enable Pack into .blend")
            else:
                run.discard()
                if error == "cancelled":
                    self.report({"WARNING"}, "Brushwork cancelled; nothing was changed")
                else:
                    self.report({"ERROR"}, error)
        finally:
            run.close()
            _active["run"] = None
            _cancel.clear()
            state = context.window_manager.brushwork_job
            state.running, state.progress, state.status = False, 0.0, ""
            if not bpy.app.background and context.workspace:
                context.workspace.status_text_set(None)
                _redraw(context)
        return {"FINISHED"} if error is None else {"CANCELLED"}


def _redraw(context) -> None:
    for area in context.screen.areas if context.screen else []:
        if area.type in {"VIEW_3D", "PROPERTIES", "STATUSBAR"}:
            area.tag_redraw()


class BRUSHWORK_OT_cancel(bpy.types.Operator):
    """Stop the running Stylize; nothing is changed"""
    bl_idname = "brushwork.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        return is_running()

    def execute(self, context):
        request_cancel()
        return {"FINISHED"}


class BRUSHWORK_OT_revert_texture(bpy.types.Operator):
    """Link the original Base Color images back (the stylized images stay in the file until purged)"""
    bl_idname = "brushwork.revert_texture"
    bl_label = "Revert Texture"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.brushwork
        count = sum(materials.revert(m) for m in materials.materials_of(context, settings.selected_objects))
        if not count:
            self.report({"WARNING"}, "Nothing to revert: no stylized texture here")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Reverted {count} texture(s) to the original")
        return {"FINISHED"}


CLASSES = (BRUSHWORK_OT_stylize_texture, BRUSHWORK_OT_cancel, BRUSHWORK_OT_revert_texture)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    if is_running():
        request_cancel()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
