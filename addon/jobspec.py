"""Every job spec the add-on sends to `python -m core worker`, built from the panel's settings.

One function per kind of job, all taking the shared engine settings from `engine()`, so
a setting reaches every job the same way and what each job asks of the worker can be
read in one place. Field names, types and ranges are the engine's job contract
(core/jobs/schema.py), which every spec is checked against before a worker starts
(worker_client.py). No `bpy`: callers find the files (plan.py, renders.py, the
operators); nothing here renders, reads the scene or runs a job.

Every spec lists what goes in, where the result goes, what is particular to its kind,
then the engine settings.
"""
from __future__ import annotations

import os

from .choices import DEVICES, METHODS, WRAPS, style_path

FilePath = str | os.PathLike   # a file or folder; specs hold plain strings


def engine(settings, strength: float | None = None) -> dict:
    """How every job paints: after which style and method, how strongly (the panel's
    Strength unless given: Apply Strength), at what stroke size, in tiles of what size, on
    what device. Without a "method" the engine takes its best trained one (the menu's Best
    available)."""
    spec = {"strength": settings.strength if strength is None else strength, "preserve_color": settings.preserve_color,
            "style_scale": settings.style_scale, "tile": settings.tile, "device": DEVICES[settings.device],
            "styles": [style_path(settings)]}
    if METHODS[settings.method]:
        spec["method"] = METHODS[settings.method]
    return spec


def _image(settings, content: FilePath, output: FilePath, strength: float | None = None, **kind) -> dict:
    """One image in, one new image out. Every image the add-on sends is colour (a Base
    Color map, a render, a panorama), so `force_color` overrules the engine's guess from
    the file name ("rough_stone.png" would pass for a data map)."""
    return {"content": str(content), "output": str(output), **kind, "force_color": True,
            **engine(settings, strength)}


def texture(settings, content: FilePath, output: FilePath, strength: float | None = None,
            emission: bool = False) -> dict:
    """A Base Color image: kept tileable as the panel's Tileable says (`emission`: painted as light)."""
    kind = {"emission": True} if emission else {}
    return _image(settings, content, output, strength, wrap=WRAPS[settings.tileable], **kind)


def texture_set(settings, contents: list[FilePath], outputs: list[FilePath], pooled: bool,
                strength: float | None = None, emission: bool = False) -> dict:
    """Base Color maps (several materials' images, a UDIM set's tiles) painted in one job:
    `pooled`, with one transformation from all their statistics together (one look), else
    each with its own. Tileable as the panel says, "Detect" deciding per map (a UDIM tile
    rarely tiles). `emission`: the maps are light, painted so black stays black."""
    spec = {"contents": [str(c) for c in contents], "outputs": [str(o) for o in outputs], "pooled": pooled,
            "wrap": WRAPS[settings.tileable], "force_color": True, **engine(settings, strength)}
    if emission:
        spec["emission"] = True
    return spec


def render_still(settings, content: FilePath, output: FilePath, overwrite: bool = False) -> dict:
    """A render's display PNG: its edges are edges, never wrapped. `overwrite`: the output
    may replace an earlier result (auto-stylize re-rendering a frame), else it must be new."""
    spec = _image(settings, content, output, wrap="none")
    if overwrite:
        spec["overwrite"] = True
    return spec


def render_depth_aware(settings, content: FilePath, output: FilePath, passes: FilePath,
                       camera_focus: float | None) -> dict:
    """A render painted finely at the focus distance (the method's relu3_1 member) and
    coarsely away from it (its relu4_1 sibling), by the Z pass in `passes` (multilayer
    EXR). Focus: the panel's, else the camera's depth of field, else none (the engine
    takes the median depth); falloff: the panel's, else the engine's own (a quarter of
    the depth range)."""
    spec = {**render_still(settings, content, output), "depth": str(passes), "depth_side": settings.depth_side,
            "far_scale": settings.far_scale}
    focus = settings.focus_distance or camera_focus
    if focus:
        spec["focus"] = focus
    if settings.falloff:
        spec["falloff"] = settings.falloff
    return spec


def panorama_still(settings, content: FilePath, output: FilePath) -> dict:
    """An equirectangular (2:1) image: seam-free across the meridian, the poles painted in
    perspective views, photo-sphere metadata in a JPEG."""
    return _image(settings, content, output, panorama=True)


def _frames(settings, frames: FilePath, output: FilePath, video: FilePath, fps: float, **kind) -> dict:
    """A folder of numbered frames → stylized frames in `output` and an MP4 at `fps`,
    all painted with one style transformation so the look holds still."""
    return {"frames": str(frames), "output": str(output), "video": str(video), "fps": fps, **kind,
            **engine(settings)}


def render_frames(settings, frames: FilePath, output: FilePath, video: FilePath, fps: float,
                  vectors: FilePath | None = None) -> dict:
    """An animation: each frame keeps `coherence` of the previous stylized frame, moved
    along the render's motion vectors (the passes in `vectors`). Without them (a folder
    of frames the artist names) each frame is painted on its own, by the shared transformation."""
    kind = {"coherence": settings.coherence, **({"vectors": str(vectors)} if vectors else {})}
    return _frames(settings, frames, output, video, fps, **kind)


def panorama_frames(settings, frames: FilePath, output: FilePath, video: FilePath, fps: float) -> dict:
    """A 360° animation: every frame a seam-free panorama."""
    return _frames(settings, frames, output, video, fps, panorama=True)


def movie(settings, movie: FilePath, output: FilePath, trim: tuple[float, float] | None = None) -> dict:
    """Filmed footage → a new MP4, steadied as the panel's Steady says (footage has no
    motion vectors). `trim`: (start, end) in seconds of the source, only that part."""
    kind = {"start": trim[0], "end": trim[1]} if trim else {}
    return {"movie": str(movie), "output": str(output), **kind, "coherence": settings.movie_coherence,
            **engine(settings)}


def learn(settings, contents: list[FilePath] | None, minutes: float, steps: int | None = None) -> dict:
    """Learn the panel's painting (core/training/learn.py) for `minutes` (or `steps`), from
    `contents` (the maps that will be painted; None: the engine's procedural set), on the
    panel's device."""
    spec = {"learn": style_path(settings), "device": DEVICES[settings.device],
            **({"steps": steps} if steps else {"minutes": minutes})}
    if contents:
        spec["contents"] = [str(c) for c in contents]
    return spec
