"""Preview (a quick low-resolution Stylize Texture) and Discard Preview.

A 4K map takes minutes on a CPU; the artist should not wait that long to learn that the
painting was the wrong one. Preview paints the first Base Color image the full job would
paint, shrunk to 512 px on its long side, with the same settings, into a throw-away
image ("Brushwork Preview", shown in the panel and the Image Editor): seconds, and the
material and the folders beside the .blend are never touched. Stylize Texture is then
the full job. Strokes look coarser in the preview: the same strokes on fewer pixels.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import bpy

from .. import jobspec, materials, plan, preferences
from ..driving import DrivenOperator, one_job
from ..previews import PREVIEW_IMAGE, drop_preview, show_in_image_editor
from ..properties import check_settings
from ..worker_client import Worker

SIDE = 512


class BRUSHWORK_OT_preview_texture(DrivenOperator, bpy.types.Operator):
    """Paint a quick 512 px preview of the first Base Color image (for large maps: seconds, not minutes); the material is not changed"""
    bl_idname = "brushwork.preview_texture"
    bl_label = "Preview"

    def execute(self, context):
        settings = context.scene.brushwork
        problem = check_settings(settings)
        if not problem and not materials.materials_of(context, settings.scope):
            problem = "No material: select an object with a material"
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        work = Path(tempfile.mkdtemp(prefix="brushwork-"))
        try:
            jobs = plan.make(context, settings, work).jobs
            if not jobs:
                raise RuntimeError("No colour image feeds Base Color here")
            self.source = jobs[0].image
            content, self.full = plan.downscaled(jobs[0].content, work, SIDE)
        except (RuntimeError, OSError) as e:
            shutil.rmtree(work, ignore_errors=True)
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        folder = plan.preview_dir()
        folder.mkdir(parents=True, exist_ok=True)
        self.output = plan.new_name(folder, self.source, Path(content).suffix, set())
        spec = jobspec.texture(settings, content, self.output, emission=jobs[0].emission)
        return self.drive(context, one_job(Worker(spec, preferences.python_setup(context)),
                                           f"preview {self.source}", work))

    def finished(self, context):
        drop_preview(context)
        image = bpy.data.images.load(self.output, check_existing=False)
        image.name = PREVIEW_IMAGE
        original = bpy.data.images.get(self.source)
        if original is not None:
            image.colorspace_settings.name = original.colorspace_settings.name
        w, h = image.size
        context.window_manager.brushwork_job.preview = f"{self.source}: {w}×{h} of {self.full[0]}×{self.full[1]}"
        show_in_image_editor(context, image)
        self.report({"INFO"}, f"Preview of {self.source} at {w}×{h} in image '{PREVIEW_IMAGE}'; "
                              "Stylize Texture paints it full size")


class BRUSHWORK_OT_discard_preview(bpy.types.Operator):
    """Remove the quick preview (its image and file)"""
    bl_idname = "brushwork.discard_preview"
    bl_label = "Discard Preview"

    def execute(self, context):
        drop_preview(context)
        return {"FINISHED"}


CLASSES = (BRUSHWORK_OT_preview_texture, BRUSHWORK_OT_discard_preview)
