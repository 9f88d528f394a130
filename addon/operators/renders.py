"""Stylize Render (a still), Stylize Animation (a frame range, steadied by motion vectors)
and Stylize Panorama (a 360° still or animation).

Renders become files through the scene's view transform (renders.py); the engine's
worker does the rest: one image job for a still, one frame-sequence job for an
animation (one transformation for all frames, the previous stylized frame carried along
the render's own motion vectors, numbered PNGs and an MP4). An animation's renders and
stylized frames are kept on disk as they finish, so Cancel keeps the finished frames
and running it again resumes where it stopped. The MP4 is always a new file (a re-run
of a finished animation writes `<scene>.stylized.001.mp4`): nothing is replaced unasked.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from .. import jobspec, plan, preferences, renders
from ..driving import DrivenOperator, one_job, sequence_job, steadiness
from ..previews import show_in_image_editor
from ..properties import check_settings
from ..worker_client import Worker


class BRUSHWORK_OT_stylize_render(DrivenOperator, bpy.types.Operator):
    """Paint the last render (or the named image) after the style image, as a new image"""
    bl_idname = "brushwork.stylize_render"
    bl_label = "Stylize Render"

    image_name: StringProperty(name="Image", description="Image to stylize instead of the last render")

    def execute(self, context):
        scene, settings = context.scene, context.scene.brushwork
        problem = check_settings(settings)
        source = bpy.data.images.get(self.image_name) if self.image_name else renders.last_render()
        if not problem and source is None:
            problem = (f"No image named '{self.image_name}'" if self.image_name
                       else "Nothing rendered yet: render (F12) first, or name an image")
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        self.source_name = source.name
        self.work = Path(tempfile.mkdtemp(prefix="brushwork-"))
        content = self.work / "render.png"
        try:
            renders.save_display(source, scene, content)
        except RuntimeError as e:
            shutil.rmtree(self.work, ignore_errors=True)
            self.report({"ERROR"}, f"{source.name}: could not read its pixels ({e})")
            return {"CANCELLED"}
        if settings.depth_aware and source.type != "RENDER_RESULT":
            shutil.rmtree(self.work, ignore_errors=True)
            self.report({"ERROR"}, "Depth-Aware Strokes needs a render with its Z pass (the last render), not an image")
            return {"CANCELLED"}
        passes = None
        if settings.depth_aware:   # this render's Z pass, beside its pixels in the job's folder
            passes = self.work / "passes.exr"
            renders.save_passes(scene, passes)
        self.output, made = plan.render_output(source.name)
        spec = (jobspec.render_depth_aware(settings, content, self.output, passes, renders.camera_focus(scene))
                if passes else jobspec.render_still(settings, content, self.output))
        return self.drive(context, one_job(Worker(spec, preferences.python_setup(context)), self.source_name,
                                           self.work, made))

    def finished(self, context):
        image = bpy.data.images.load(self.output, check_existing=False)
        image.name = f"{self.source_name}.stylized"
        show_in_image_editor(context, image)
        self.report({"INFO"}, f"Stylized {self.source_name} → {image.name} ({self.output})")


class BRUSHWORK_OT_stylize_animation(DrivenOperator, bpy.types.Operator):
    """Render the frame range with motion vectors and paint every frame with one style transformation"""
    bl_idname = "brushwork.stylize_animation"
    bl_label = "Stylize Animation"
    cancelled_note = "the frames finished so far are kept; run it again to resume"

    frames_dir: StringProperty(name="Frames", subtype="DIR_PATH",
                               description="Stylize this folder of frames instead of rendering the scene")

    def execute(self, context):
        settings = context.scene.brushwork
        problem = check_settings(settings)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        scene = context.scene
        self.root = plan.output_dir() / f"{bpy.path.clean_name(scene.name)}_animation"
        self.video = plan.new_name(self.root, scene.name, ".mp4", set(), ext=".mp4")
        self.result = {}
        return self.drive(context, self._steps(context, scene, settings))

    def _steps(self, context, scene, settings):
        frames_in, vectors = (Path(bpy.path.abspath(self.frames_dir)), None) if self.frames_dir else \
            (self.root / "render", self.root / "passes")
        share = 0.0
        if not self.frames_dir:
            share = 0.5  # rendering takes about as long as stylizing on a CPU
            with renders.motion_passes(scene):
                yield from renders.render_range(scene, frames_in, vectors, share)
        spec = jobspec.render_frames(settings, frames_in, self.root / "frames", self.video, renders.fps(scene),
                                     vectors)
        yield from sequence_job(context, spec, share, self.result)

    def finished(self, context):
        r = self.result
        video = f"video {r['video']}" if r.get("video") else "no MP4 (install the dependencies in the preferences)"
        self.report({"INFO"}, f"Stylized {r['frames']} frames into {r['output']}; {video}{steadiness(r)}")


class BRUSHWORK_OT_stylize_panorama(DrivenOperator, bpy.types.Operator):
    """Render the scene as a 360° equirectangular panorama (or take a 2:1 image) and paint it, seam-free"""
    bl_idname = "brushwork.stylize_panorama"
    bl_label = "Stylize Panorama"

    image_name: StringProperty(name="Image", description="An equirectangular (2:1) image instead of rendering")
    animation: BoolProperty(name="Animation", description="Render and paint every frame of the scene's range "
                            "with one style transformation, as a 360° MP4 (a re-run resumes)")

    def execute(self, context):
        scene, settings = context.scene, context.scene.brushwork
        problem = check_settings(settings)
        source = bpy.data.images.get(self.image_name) if self.image_name else None
        if not problem and self.image_name and source is None:
            problem = f"No image named '{self.image_name}'"
        if not problem and self.image_name and self.animation:
            problem = "Animation renders the scene's frame range; an image is a still"
        if not problem and scene.camera is None:
            problem = "The scene has no camera to render the panorama from"
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        if self.animation:
            name = bpy.path.clean_name(scene.name)
            self.root = plan.output_dir() / f"{name}_panorama"
            self.video = plan.new_name(self.root, name, ".mp4", set(), ext=".mp4")
            self.result = {}
            return self.drive(context, self._animation(context, scene, settings))
        self.work = Path(tempfile.mkdtemp(prefix="brushwork-"))
        content = self.work / "panorama.png"
        try:
            if source is None:
                with renders.equirect_camera(scene):
                    renders.render_still(scene)
                    renders.save_display(renders.last_render(), scene, content)
                self.source_name = f"{scene.name} panorama"
            else:
                renders.save_display(source, scene, content)
                self.source_name = source.name
        except RuntimeError as e:
            shutil.rmtree(self.work, ignore_errors=True)
            self.report({"ERROR"}, f"Could not get the panorama: {e}")
            return {"CANCELLED"}
        self.output, made = plan.render_output(self.source_name, ".jpg")  # JPEG: GPano XMP
        spec = jobspec.panorama_still(settings, content, self.output)
        return self.drive(context, one_job(Worker(spec, preferences.python_setup(context)), self.source_name,
                                           self.work, made))

    def _animation(self, context, scene, settings):
        frames_in = self.root / "render"
        saved = scene.frame_current
        try:
            with renders.equirect_camera(scene):
                yield from renders.render_range(scene, frames_in, None, 0.5)
        finally:
            scene.frame_set(saved)
        spec = jobspec.panorama_frames(settings, frames_in, self.root / "frames", self.video, renders.fps(scene))
        yield from sequence_job(context, spec, 0.5, self.result)

    def finished(self, context):
        if self.animation:
            r = self.result
            video = f"360° video {r['video']}" if r.get("video") else \
                "no MP4 (install the dependencies in the preferences)"
            self.report({"INFO"}, f"Stylized {r['frames']} panorama frames into {r['output']}; {video}")
            return
        image = bpy.data.images.load(self.output, check_existing=False)
        image.name = f"{self.source_name}.stylized"
        show_in_image_editor(context, image)
        self.report({"INFO"}, f"Stylized panorama → {image.name} ({self.output}, photo-sphere JPEG)")


CLASSES = (BRUSHWORK_OT_stylize_render, BRUSHWORK_OT_stylize_animation, BRUSHWORK_OT_stylize_panorama)
