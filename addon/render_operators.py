"""Stylize Render (a still) and Stylize Animation (a frame range, steadied by motion vectors).

Renders become files through the scene's view transform (renders.py); the engine's
worker does the rest: one image job for a still, one frame-sequence job for an
animation (one transformation for all frames, the previous stylized frame carried along
the render's own motion vectors, numbered PNGs and an MP4). An animation's renders and
stylized frames are kept on disk as they finish, so Cancel keeps the finished frames
and running it again resumes where it stopped.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from . import plan, preferences, renders
from .driving import DrivenOperator, wait_for
from .operators import check_style
from .properties import DEVICES, METHODS
from .worker_client import Worker


def engine_settings(settings) -> dict:
    spec = {"strength": settings.strength, "preserve_color": settings.preserve_color,
            "style_scale": settings.style_scale, "tile": settings.tile, "device": DEVICES[settings.device],
            "styles": [bpy.path.abspath(settings.style_image)]}
    if METHODS[settings.method]:
        spec["method"] = METHODS[settings.method]
    return spec


def one_job(worker, label: str, work: Path):
    """Steps of a single worker job; its temp folder goes when it ends, however it ends."""
    try:
        yield from wait_for(worker, lambda f: f, label)
    finally:
        worker.cancel()
        shutil.rmtree(work, ignore_errors=True)


def render_range(scene, frames_dir: Path, passes_dir: Path | None, share: float):
    """Steps rendering every frame of the scene's range (display PNGs, and passes when
    given a folder for them); frames already on disk are kept, so a re-run resumes."""
    frames = range(scene.frame_start, scene.frame_end + 1, scene.frame_step)
    for folder in (frames_dir, passes_dir):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        png = frames_dir / f"frame_{f:05d}.png"
        exr = passes_dir / f"frame_{f:05d}.exr" if passes_dir is not None else None
        yield share * i / len(frames), f"render frame {f} ({i + 1}/{len(frames)})"
        if not (png.exists() and (exr is None or exr.exists())):
            renders.render_frame(scene, f, png, exr)


def sequence_job(context, spec: dict, share: float, result: dict):
    """Steps of a frame-sequence or movie worker job taking the progress after `share`;
    its summary lands in `result`. A cancelled worker removes its partial file."""
    worker = Worker(spec, preferences.python_setup(context))
    try:
        result.update((yield from wait_for(worker, lambda f: share + (1 - share) * f, "stylize")))
    finally:
        worker.cancel()


def steadiness(result: dict) -> str:
    """"; flicker A (frames alone B)" from a sequence job's summary, or "" without motion."""
    if result.get("flicker") is None or not result.get("flicker_alone"):
        return ""
    return f"; flicker {result['flicker']:.2f} (frames alone {result['flicker_alone']:.2f})"


def _show(context, image) -> None:
    for area in context.screen.areas if context.screen else []:
        if area.type == "IMAGE_EDITOR":
            area.spaces.active.image = image
            return


class BRUSHWORK_OT_stylize_render(DrivenOperator, bpy.types.Operator):
    """Paint the last render (or the named image) after the style image, as a new image"""
    bl_idname = "brushwork.stylize_render"
    bl_label = "Stylize Render"

    image_name: StringProperty(name="Image", description="Image to stylize instead of the last render")

    def execute(self, context):
        settings = context.scene.brushwork
        problem = check_style(settings)
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
            renders.save_display(source, context.scene, content)
        except RuntimeError as e:
            shutil.rmtree(self.work, ignore_errors=True)
            self.report({"ERROR"}, f"{source.name}: could not read its pixels ({e})")
            return {"CANCELLED"}
        spec = {"content": str(content), "wrap": "none", "force_color": True, **engine_settings(settings)}
        if settings.depth_aware:
            problem = self._depth(context, source, spec)
            if problem:
                shutil.rmtree(self.work, ignore_errors=True)
                self.report({"ERROR"}, problem)
                return {"CANCELLED"}
        self.output = spec["output"] = plan.render_output(source.name)
        return self.drive(context, one_job(Worker(spec, preferences.python_setup(context)), self.source_name, self.work))

    def _depth(self, context, source, spec) -> str | None:
        """Depth-aware strokes: the render's Z pass, focus from the panel or the camera."""
        if source.type != "RENDER_RESULT":
            return "Depth-Aware Strokes needs a render with its Z pass (the last render), not an image"
        passes = self.work / "passes.exr"
        renders.save_passes(context.scene, passes)
        settings = context.scene.brushwork
        spec.update(depth=str(passes), depth_side=settings.depth_side)
        focus = settings.focus_distance or renders.camera_focus(context.scene)
        if focus:
            spec["focus"] = focus
        if settings.falloff:
            spec["falloff"] = settings.falloff
        return None

    def finished(self, context):
        image = bpy.data.images.load(self.output, check_existing=False)
        image.name = f"{self.source_name}.stylized"
        _show(context, image)
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
        problem = check_style(settings)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        scene = context.scene
        self.root = plan.output_dir() / f"{bpy.path.clean_name(scene.name)}_animation"
        self.video = self.root / f"{bpy.path.clean_name(scene.name)}.stylized.mp4"
        self.result = {}
        return self.drive(context, self._steps(context, scene, settings))

    def _steps(self, context, scene, settings):
        frames_in, vectors = (Path(bpy.path.abspath(self.frames_dir)), None) if self.frames_dir else \
            (self.root / "render", self.root / "passes")
        share = 0.0
        if not self.frames_dir:
            share = 0.5  # rendering takes about as long as stylizing on a CPU
            with renders.motion_passes(scene):
                yield from render_range(scene, frames_in, vectors, share)
        spec = {"frames": str(frames_in), "output": str(self.root / "frames"), "video": str(self.video),
                "fps": scene.render.fps / scene.render.fps_base, "coherence": settings.coherence,
                **({"vectors": str(vectors)} if vectors else {}), **engine_settings(settings)}
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
        problem = check_style(settings)
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
            self.video = self.root / f"{name}.stylized.mp4"
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
        self.output = plan.render_output(self.source_name, ".jpg")  # JPEG: GPano XMP
        spec = {"content": str(content), "output": self.output, "panorama": True, "force_color": True,
                **engine_settings(settings)}
        return self.drive(context, one_job(Worker(spec, preferences.python_setup(context)), self.source_name, self.work))

    def _animation(self, context, scene, settings):
        frames_in = self.root / "render"
        saved = scene.frame_current
        try:
            with renders.equirect_camera(scene):
                yield from render_range(scene, frames_in, None, 0.5)
        finally:
            scene.frame_set(saved)
        spec = {"frames": str(frames_in), "output": str(self.root / "frames"), "video": str(self.video),
                "fps": scene.render.fps / scene.render.fps_base, "panorama": True, **engine_settings(settings)}
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
        _show(context, image)
        self.report({"INFO"}, f"Stylized panorama → {image.name} ({self.output}, photo-sphere JPEG)")


CLASSES = (BRUSHWORK_OT_stylize_render, BRUSHWORK_OT_stylize_animation, BRUSHWORK_OT_stylize_panorama)


register, unregister = bpy.utils.register_classes_factory(CLASSES)
