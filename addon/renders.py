"""Renders as files the engine reads: display colour through the scene's view transform,
and the Vector and Z passes (multilayer EXR) that steady an animation; a still, a frame
range, or a 360° panorama, with the scene's own settings put back after.

The networks were trained on display-referred images. A render is scene-linear, so it
is turned into display colour *on purpose*, by the scene's own view transform (AgX,
Filmic, Standard…) as Blender shows it, and saved as 16-bit PNG: highlights above 1 are
compressed by the view transform, exactly as in the viewer, not clipped by us.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import bpy
from mathutils import Vector


@contextlib.contextmanager
def image_format(scene, fmt: str, **extra):
    """Temporarily set the scene's output format (Blender 5 also needs the media type)."""
    ims = scene.render.image_settings
    keys = [k for k in ("media_type", "file_format", "color_depth", "color_mode", "exr_codec") if hasattr(ims, k)]
    saved = {k: getattr(ims, k) for k in keys}
    try:
        if hasattr(ims, "media_type"):
            ims.media_type = "MULTI_LAYER_IMAGE" if fmt == "OPEN_EXR_MULTILAYER" else "IMAGE"
        ims.file_format = fmt
        for k, v in extra.items():
            setattr(ims, k, v)
        yield
    finally:
        for k in keys:
            with contextlib.suppress(TypeError, ValueError, AttributeError):
                setattr(ims, k, saved[k])


def save_display(image, scene, path: Path) -> None:
    """`image` (a render result or any image) through the scene's view transform as 16-bit PNG."""
    with image_format(scene, "PNG", color_depth="16", color_mode="RGB"):
        image.save_render(str(path), scene=scene)


def save_passes(scene, path: Path) -> None:
    """The last render's passes (Combined, Vector, Depth…) as one multilayer EXR."""
    with image_format(scene, "OPEN_EXR_MULTILAYER", color_depth="32"):
        bpy.data.images["Render Result"].save_render(str(path), scene=scene)


@contextlib.contextmanager
def motion_passes(scene):
    """Vector and Z passes on, motion blur off (it zeroes the Vector pass); restored after."""
    layer = bpy.context.view_layer
    saved = (layer.use_pass_vector, layer.use_pass_z, scene.render.use_motion_blur, scene.frame_current)
    try:
        layer.use_pass_vector = layer.use_pass_z = True
        scene.render.use_motion_blur = False
        yield
    finally:
        layer.use_pass_vector, layer.use_pass_z, scene.render.use_motion_blur = saved[:3]
        scene.frame_set(saved[3])


OWN_RENDER = {"active": False}   # Brushwork's own renders: auto-stylize leaves them alone


def render_still(scene) -> None:
    """Render the current frame (Brushwork's own render: auto-stylize leaves it alone)."""
    OWN_RENDER["active"] = True
    try:
        bpy.ops.render.render()
    finally:
        OWN_RENDER["active"] = False


def render_frame(scene, frame: int, png: Path, exr: Path | None = None) -> None:
    """Render `frame` and save its display colour (and, given `exr`, its passes)."""
    scene.frame_set(frame)
    render_still(scene)
    if exr is not None:
        save_passes(scene, exr)
    save_display(bpy.data.images["Render Result"], scene, png)


def render_range(scene, frames_dir: Path, passes_dir: Path | None, share: float):
    """Steps (see driving.py) rendering every frame of the scene's range (display PNGs,
    and passes when given a folder for them), taking the progress up to `share`; frames
    already on disk are kept, so a re-run resumes."""
    frames = range(scene.frame_start, scene.frame_end + 1, scene.frame_step)
    for folder in (frames_dir, passes_dir):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        png = frames_dir / f"frame_{f:05d}.png"
        exr = passes_dir / f"frame_{f:05d}.exr" if passes_dir is not None else None
        yield share * i / len(frames), f"render frame {f} ({i + 1}/{len(frames)})"
        if not (png.exists() and (exr is None or exr.exists())):
            render_frame(scene, f, png, exr)


def fps(scene) -> float:
    """The scene's frame rate in frames per second (fps_base divides it: 24 / 1.001 for 23.976)."""
    return scene.render.fps / scene.render.fps_base


def last_render():
    """The Render Result image if a render has finished in this session, else None."""
    image = bpy.data.images.get("Render Result")
    return image if image is not None and image.type == "RENDER_RESULT" else None


def camera_focus(scene) -> float | None:
    """The scene camera's depth-of-field focus (None without depth of field: the engine then
    takes the median depth)."""
    cam = scene.camera
    if cam is None or cam.type != "CAMERA":
        return None
    dof = cam.data.dof
    if dof.focus_object is not None:
        to_target = dof.focus_object.matrix_world.translation - cam.matrix_world.translation
        forward = cam.matrix_world.to_quaternion() @ Vector((0, 0, -1))
        return max(float(to_target.dot(forward)), 1e-3)
    return float(dof.focus_distance) if dof.use_dof else None


@contextlib.contextmanager
def equirect_camera(scene):
    """The scene camera made an equirectangular panorama (Cycles, 2:1) for the duration; restored after.

    The camera's own data is left alone: a temporary copy is used, so nothing the artist set
    (lens, type, sensor) changes even if the render fails."""
    cam = scene.camera
    if cam is None:
        raise RuntimeError("the scene has no camera")
    r = scene.render
    saved = (cam.data, r.engine, r.resolution_x, r.resolution_y, r.resolution_percentage)
    data = cam.data.copy()
    try:
        data.type, data.panorama_type = "PANO", "EQUIRECTANGULAR"
        cam.data = data
        r.engine = "CYCLES"
        r.resolution_y = max(2, r.resolution_x // 2)
        r.resolution_x = 2 * r.resolution_y
        yield
    finally:
        cam.data, r.engine, r.resolution_x, r.resolution_y, r.resolution_percentage = saved
        bpy.data.cameras.remove(data)
