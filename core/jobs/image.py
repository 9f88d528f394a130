"""One stylization job from files to a file: what the CLI and the worker both run.

The job checks everything it can before any network runs (files, sizes, data maps,
output path), so a mistake costs the user a second, not a minute. The original files
are never written; the result appears atomically, or not at all.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import backends
from ..engine.methods import ContentSide
from ..engine.stylizer import Progress, Settings, Stylizer, check_content, check_style, part
from ..engine.tileable import resolve_wrap
from ..errors import BrushworkError, SettingError, warn
from ..jobs.schema import HDR_MODES
from ..jobs.spec import EngineOptions, check_cancel, check_new_file, load_style
from ..media import colour
from ..media.dequantize import smooth_file
from ..media.image_io import SUPPORTED, Picture, read_image, write_image
from ..media.maptype import data_map_reason
from ..mem.buffers import bands, buffer, release
from ..scene import depth, panorama


@dataclass(kw_only=True)
class Job(EngineOptions):
    content: str
    output: str
    force_color: bool = False  # stylize even what looks like a normal/roughness map
    depth: str | None = None   # depth map: the relu3_1 method in focus, its relu4_1 sibling away (core/scene/depth.py)
    focus: float | None = None     # focus distance (scene units); default: the median depth
    falloff: float | None = None   # distance over which paint takes over; default: a quarter of the depth range
    depth_side: str = "both"       # both | far | near: which side of the focus plane dissolves
    far_scale: float = 1.0         # extra stroke size away from focus, relative to style_scale
    panorama: bool = False         # equirect 360°: 2:1 checked, meridian wrapped, GPano XMP in JPEG
    poles: bool = True             # panorama: paint the polar caps in perspective views (core/scene/poles.py)
    hdr: str = "auto"              # float input above 1: clip | tonemap; auto: tonemap panoramas (HDRIs)
    emission: bool = False         # an emission map: painted as light, black stays black (colour.as_light)


@dataclass
class Result:
    output: str
    width: int
    height: int
    seconds: float
    untrained: list[str]
    wrap: str  # the wrap used: "auto" resolved to what the image is
    backend: str = ""  # the backend that ran the networks: torch | onnx
    timings: dict = field(default_factory=dict)  # seconds: read, style, stylize, write


def check_paths(job: Job) -> Path:
    """Refuse outputs that would overwrite an input or an existing file, or can't be written."""
    out = Path(job.output)
    if out.suffix.lower() not in SUPPORTED:
        raise BrushworkError(f"{job.output}: unsupported output format; use one of {', '.join(SUPPORTED)}")
    return check_new_file(job.output, [job.content, *job.styles], job.overwrite)


def run(job: Job, progress: Progress | None = None, cancel=None,
        stylizer: Stylizer | None = None, content: ContentSide | None = None) -> Result:
    """Run a job; raises BrushworkError for bad input, Cancelled if asked to stop.

    Every check that needs no network (options, files, styles, depth map, alpha vs.
    JPEG) comes before the networks load; `cancel` is also asked before loading and
    before writing, so a cancelled job never leaves an output. `stylizer` and `content`
    (statistics pooled over several images) come from a job that paints a set
    (core/jobs/image_set.py). A depth-aware job runs two methods (core/scene/depth.py);
    a given `stylizer` paints the half whose method it runs, with `content` there
    (statistics belong to one method's features)."""
    t0 = time.perf_counter()
    job.check_engine()
    depth.check_settings(job.focus, job.falloff, job.far_scale, job.depth_side)  # before anything is read
    out_path = check_paths(job)
    timings, t = {}, time.perf_counter()
    if stylizer is None:
        backends.preload(job.backend)  # imported while the picture is read and smoothed
    rgb, keep, wrap = read_content(job, out_path)
    h, w = rgb.shape[:2]
    styles_rgb = [load_style(p) for p in job.styles]
    for s, name in zip(styles_rgb, job.styles):
        check_style(s, name)
    far = _far_weight(job, rgb.shape[:2]) if job.depth else None
    timings["read"] = time.perf_counter() - t
    check_cancel(cancel)
    given = stylizer
    stylizers = _stylizers(job, given)
    stylizer = stylizers[0]
    t = time.perf_counter()
    sides = [[s.style(img, name) for img, name in zip(styles_rgb, job.styles)] for s in stylizers]
    timings["style"], t = time.perf_counter() - t, time.perf_counter()
    settings = replace(job.settings, wrap=wrap)  # decided once, as the file was read; reported
    if job.depth:
        result = _depth_aware(job, stylizers, rgb, sides, settings, far, progress, cancel,
                              [content if s is given else None for s in stylizers])
    elif job.panorama and job.poles:
        result = panorama.paint(stylizer, rgb, sides[0], settings, progress, cancel, content=content)
    else:
        result = stylizer.run(rgb, sides[0], settings, progress, cancel, content=content)
    result = job.keep_colour(result, rgb)
    if job.emission:
        result = colour.as_light(result, rgb)
    del rgb  # image-sized, and not needed to write
    timings["stylize"], t = time.perf_counter() - t, time.perf_counter()
    check_cancel(cancel)
    xmp = panorama.gpano_xmp(w, h) if job.panorama and out_path.suffix.lower() in (".jpg", ".jpeg") else None
    write_image(str(out_path), keep.apply(result, out_path), xmp=xmp, overwrite=job.overwrite)
    timings["write"] = time.perf_counter() - t
    if progress:
        progress(1.0, "done")
    untrained = list(dict.fromkeys(k for s in stylizers for k in s.untrained))
    return Result(str(out_path), w, h, time.perf_counter() - t0, untrained, settings.wrap,
                  stylizer.backend.name, timings)


def read_content(job: Job, out_path: Path, smooth: bool = True) -> tuple[np.ndarray, "_Layout", str]:
    """The content in the working space, what the result keeps of it and the wrap the
    job paints with (the ±180° meridian for a panorama, "auto" decided on the picture),
    every check that needs only the file made: size, 2:1 for panoramas, alpha vs. JPEG,
    data maps. `smooth=False` skips the smoothing of 8-bit steps: for checking only."""
    content = read_image(job.content)
    keep = _Layout.of(content)
    if content.linear and _hdr(job) == "tonemap":
        rgb, keep.exposure = colour.tonemap(content.color)
        keep.peak = float(content.color.max())
    else:
        rgb = colour.to_working(content.color, content.linear)
    wrap = "x" if job.panorama else resolve_wrap(job.settings.wrap, rgb)
    if smooth:
        rgb = smooth_file(rgb, keep.dtype, job.content, wrap)  # 8-bit steps would paint as contour rings
    del content  # the decoded file is image-sized; only its layout and alpha are needed
    check_content(rgb, job.content)
    if job.panorama:
        panorama.check_equirect(*rgb.shape[:2], job.content)
    if keep.alpha is not None and out_path.suffix.lower() in (".jpg", ".jpeg"):
        seen = int((keep.alpha < 1).sum())
        if seen:
            raise BrushworkError(f"{job.output}: JPEG cannot hold transparency, and {job.content} has "
                                 f"{seen} pixel(s) that are not opaque; to keep them save as PNG, TIFF or EXR")
        keep.alpha = None  # opaque everywhere: the alpha carries nothing, and JPEG has no place for it
    reason = data_map_reason(job.content, rgb)
    if reason and not job.force_color:
        raise BrushworkError(f"{job.content}: looks like a data map ({reason}); normal, roughness and height "
                             "maps are data, not colour. Stylize it anyway with force color if it is a colour image",
                             "force_color")
    return rgb, keep, wrap


def _far_weight(job: Job, shape: tuple[int, int]) -> np.ndarray:
    """Per pixel, how much of the far half shows (0 in focus, 1 away): read and checked
    before any network loads."""
    dmap = depth.read_depth(job.depth, shape)
    focus = depth.default_focus(dmap) if job.focus is None else job.focus
    near = dmap[np.isfinite(dmap) & (dmap < 1e9)]
    falloff = job.falloff if job.falloff is not None else max(float(np.ptp(near)) / 4 if near.size else 1.0, 1e-3)
    return depth.weight(dmap, focus, falloff, job.depth_side)


def _stylizers(job: Job, given: Stylizer | None) -> list[Stylizer]:
    """The networks: the job's method, or for depth-aware style the near and far methods
    of its family (both loaded up front, so a missing file stops the job before it paints)."""
    if not job.depth:
        return [given or job.stylizer()]
    names, notes = depth.methods(job.method, job.allow_untrained)
    for note in notes:
        warn(note)
    return [given if given is not None and given.method.name == name else replace(job, method=name).stylizer()
            for name in names]


def _depth_aware(job: Job, stylizers: list[Stylizer], rgb, sides, settings: Settings, far: np.ndarray,
                 progress, cancel, contents):
    """The relu3_1 member in focus, the relu4_1 member (strokes `far_scale`× larger) away."""
    far_settings = replace(settings, style_scale=min(8.0, max(0.125, settings.style_scale * job.far_scale)))
    halves = []
    for i, (s, own, each, content) in enumerate(zip(stylizers, sides, (settings, far_settings), contents)):
        report = part(progress, i / 2, (i + 1) / 2)
        report = report and (lambda f, stage, r=report, n=s.method.name: r(f, f"{n} {stage}"))
        halves.append(s.run(rgb, own, each, report, cancel, content=content))
    return depth.mix(*halves, far)


def _hdr(job: Job) -> str:
    if job.hdr not in HDR_MODES:
        raise SettingError("hdr", job.hdr, "use auto, clip or tonemap")
    return ("tonemap" if job.panorama else "clip") if job.hdr == "auto" else job.hdr


@dataclass
class _Layout:
    """What the result keeps of the input: storage type, encoding, channels, alpha."""
    dtype: np.dtype
    linear: bool
    channels: int
    alpha: np.ndarray | None
    exposure: float | None = None  # the input was tone-mapped with this exposure (colour.tonemap)
    peak: float = 1.0              # its brightest value, the most the inverse gives back

    @classmethod
    def of(cls, pic: Picture) -> "_Layout":
        alpha = None if pic.alpha is None else pic.alpha.copy()
        return cls(np.dtype(pic.dtype), pic.linear, pic.color.shape[2], alpha)

    def apply(self, rgb: np.ndarray, out_path: Path) -> Picture:
        """The result in the input's own layout: channels, alpha (untouched), bit depth.

        Where the output format cannot hold the input's type, the nearest it can: float
        input to PNG becomes 16-bit sRGB, anything to JPEG 8-bit, integer input to EXR
        becomes linear float.
        """
        ext = out_path.suffix.lower()
        dtype = self.dtype
        if ext == ".exr":
            dtype = dtype if dtype.kind == "f" else np.dtype(np.float32)
        elif ext in (".jpg", ".jpeg"):
            dtype = np.dtype(np.uint8)
        elif dtype.kind == "f" and ext == ".png":
            dtype = np.dtype(np.uint16)
        linear = dtype.kind == "f"
        h, w = rgb.shape[:2]
        c = self.channels
        # Band by band into a buffer that is memory-mapped when large (core/mem/buffers.py),
        # so a 16K result never needs an image-sized temporary in RAM.
        pixels = buffer((h, w, c + (self.alpha is not None)), "result")
        for a, b in bands(h, w * 3 * 4 * 4):
            if linear and self.exposure is not None:  # back to the input's high dynamic range
                color = colour.untonemap(rgb[a:b], self.exposure, self.peak)
                color = colour.luminance(color)[..., None] if c == 1 else color
            else:
                color = colour.from_working(rgb[a:b], c, linear)
            pixels[a:b, :, :c] = color
            if self.alpha is not None:
                pixels[a:b, :, c] = self.alpha[a:b]
            release(rgb)
            release(pixels)
        return Picture(pixels=pixels, dtype=dtype, linear=linear, path=str(out_path))
