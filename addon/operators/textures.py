"""Stylize Texture (and Apply Strength), Revert Texture and Cancel.

Stylize plans one worker job for all the Base Color images (one look, or each its own
statistics; see plan.py), runs it in a child process (polled from a timer with the UI
live; blocking in background mode, where timers and modal operators never run), and
only when every job has succeeded
loads the new images and relinks the materials, in one undo step. An error or a
cancel deletes what this run wrote, so the materials and folders stay as they were.
Apply Strength is Stylize again at the strength the material's before/after slider
shows, so the look dialled in by mixing pixels is painted for real, in feature space.
Cancel stops whichever Brushwork job is running (they share the panel's progress bar).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import bpy
from bpy.props import BoolProperty

from .. import materials, plan, preferences
from ..driving import DrivenOperator, is_running, request_cancel, wait_for
from ..previews import drop_preview
from ..properties import check_settings, style_path
from ..worker_client import Worker


class _Run:
    """One Stylize: its plan, the job being worked on, and what it has written so far."""

    def __init__(self, context, settings, strength: float | None = None):
        self.settings, self.strength = settings, strength   # strength: None is the panel's
        self.style = style_path(settings)
        self.work_dir = Path(tempfile.mkdtemp(prefix="brushwork-"))
        self.plan = plan.make(context, settings, self.work_dir, strength)
        self.python = preferences.python_setup(context)
        self.worker, self.written, self.made_dirs, self.complete = None, [], [], False
        self.backend = ""  # what ran the networks, as the worker reports it

    def steps(self):
        """The job generator (see driving.py): the plan's worker jobs (usually one for every
        image, see plan.py), then done."""
        n = len(self.plan.specs)
        try:
            for i, spec in enumerate(self.plan.specs):
                for output in spec["outputs"]:
                    self.made_dirs += plan.make_dirs(Path(output).parent)
                self.worker = Worker(spec, self.python)
                label = f"{len(spec['contents'])} map(s)" + (f" ({i + 1}/{n})" if n > 1 else "")
                msg = yield from wait_for(self.worker, lambda f, i=i: (i + f) / n, label)
                self.written += msg["outputs"]
                self.backend = msg.get("backend", "")
                self.worker = None
            self.complete = True
        finally:
            if not self.complete:
                self.discard()
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def apply(self) -> list[str]:
        """Load the results (a UDIM set as a tiled image) and relink every use once (an
        image inside a node group once, in the group), each material's before/after slider
        at the full result; returns the new image names."""
        names = []
        strength = self.settings.strength if self.strength is None else self.strength
        for job in self.plan.jobs:
            original = bpy.data.images[job.image]
            image = bpy.data.images.load(job.output, check_existing=False)
            if job.tiles:
                image.source = "TILED"   # Blender finds the set's other tiles beside the first
            image.name = f"{original.name}.stylized"
            if Path(job.output).suffix.lower() != ".exr":   # an EXR result is scene-linear, as loaded
                image.colorspace_settings.name = original.colorspace_settings.name
            image.alpha_mode = original.alpha_mode
            if self.settings.pack:
                image.pack()
            elif plan.wants_relative(original):
                image.filepath = bpy.path.relpath(image.filepath)
            names.append(image.name)
            pending = set(job.uses)
            for mat_name in job.materials:
                mat = bpy.data.materials[mat_name]
                for found in materials.base_color_images(mat, self.settings.colour_inputs):
                    if found.key in pending:
                        pending.discard(found.key)
                        materials.use_stylized(found, image, self.style, strength)
                mat.brushwork_mix = 1.0
        return names

    def discard(self) -> None:
        """Undo this run's traces on disk: its outputs and any folder it created. Every
        planned output is a name that was free when planned, so whatever is there is this
        run's (an image set the worker stopped in writes some images before the others)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.kill_after()
        for spec in self.plan.specs:
            for path in spec["outputs"]:
                Path(path).unlink(missing_ok=True)
        plan.remove_dirs(self.made_dirs)


class BRUSHWORK_OT_stylize_texture(DrivenOperator, bpy.types.Operator):
    """Paint the Base Color textures of the chosen materials (active, selected objects', whole scene's) after the style image"""
    bl_idname = "brushwork.stylize_texture"
    bl_label = "Stylize Texture"
    bl_options = {"REGISTER", "UNDO"}

    apply_strength: BoolProperty(
        name="Apply Strength", options={"SKIP_SAVE"},
        description="Paint at the strength the active material's before/after slider shows")

    @classmethod
    def description(cls, context, properties):
        if properties.apply_strength:
            return ("Paint again at the strength the before/after slider shows (the slider mixes "
                    "pixels; Strength re-paints in feature space)")
        return cls.__doc__

    def execute(self, context):
        settings = context.scene.brushwork
        problem = check_settings(settings)
        if not problem and not materials.materials_of(context, settings.scope):
            problem = "No material: select an object with a material"
        strength = None
        if not problem and self.apply_strength:
            active = materials.materials_of(context, "ACTIVE")
            painted = materials.painted_strength(active[0]) if active else None
            if painted is None or not materials.mixes(active[0]):
                problem = "Nothing to apply: stylize this material's texture first"
            else:
                strength = round(active[0].brushwork_mix * painted, 3)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        self.run = _Run(context, settings, strength)
        skipped = self.run.plan.skipped
        if not self.run.plan.jobs:
            shutil.rmtree(self.run.work_dir, ignore_errors=True)
            self.report({"ERROR"}, f"Nothing to paint: skipped {'; '.join(skipped)}" if skipped
                        else "No colour image feeds Base Color here")
            return {"CANCELLED"}
        for line in skipped:
            self.report({"WARNING"}, f"Skipped {line}")
        return self.drive(context, self.run.steps())

    def finished(self, context):
        names = self.run.apply()
        if self.run.strength is not None:
            self.run.settings.strength = self.run.strength   # the panel shows what was painted
        drop_preview(context)   # the full job it was a preview of is done
        where = Path(self.run.written[0]).parent
        engine = {"onnx": "onnxruntime", "torch": "PyTorch"}.get(self.run.backend, self.run.backend)
        self.report({"INFO"}, f"Stylized {len(names)} image(s): {', '.join(names)} (files in {where}; "
                    f"{engine or 'engine'})")
        if not bpy.data.filepath and not self.run.settings.pack:
            self.report({"WARNING"}, "The .blend is not saved: results are in a temp folder; "
                        "save the .blend and re-run, or enable Pack into .blend")


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
        count = sum(materials.revert(m) for m in materials.materials_of(context, settings.scope))
        if not count:
            self.report({"WARNING"}, "Nothing to revert: no stylized texture here")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Reverted {count} texture(s) to the original")
        return {"FINISHED"}


CLASSES = (BRUSHWORK_OT_stylize_texture, BRUSHWORK_OT_cancel, BRUSHWORK_OT_revert_texture)
