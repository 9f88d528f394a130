"""One stylization job from files to a file: what the CLI and the worker both run.

The job checks everything it can before any network runs (files, sizes, data maps,
output path), so a mistake costs the user a second, not a minute. The original files
are never written; the result appears atomically, or not at all.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from core import backends
from core.media import colour
from core.scene import depth, panorama
from core.mem.buffers import bands, buffer, release
from core.engine.stylizer import Progress, Settings, Stylizer, check_choices, check_content, check_style, default_method
from core.errors import BrushworkError, Cancelled, warn
from core.media.image_io import SUPPORTED, Picture, read_image, write_image
from core.media.maptype import data_map_reason
from core.scene.poles import fix_poles
from core.engine.tileable import detect_wrap


@dataclass
class Job:
    content: str
    styles: list[str]
    output: str
    method: str = field(default_factory=default_method)
    settings: Settings = field(default_factory=Settings)
    preserve_color: bool = False
    device: str = "auto"
    allow_untrained: bool = False
    overwrite: bool = False
    force_color: bool = False  # stylize even what looks like a normal/roughness map
    depth: str | None = None   # depth map: fine strokes in focus, coarse paint away (core/scene/depth.py)
    focus: float | None = None     # focus distance (scene units); default: the median depth
    falloff: float | None = None   # distance over which paint takes over; default: a quarter of the depth range
    depth_side: str = "both"       # both | far | near: which side of the focus plane dissolves
    far_scale: float = 3.0         # stroke size away from focus, relative to style_scale
    panorama: bool = False         # equirect 360°: 2:1 checked, meridian wrapped, GPano XMP in JPEG
    poles: bool = True             # panorama: paint the polar caps in perspective views (core/scene/poles.py)
    hdr: str = "auto"              # float input above 1: clip | tonemap; auto: tonemap panoramas (HDRIs)
    backend: str = "auto"          # auto (torch if installed, else onnxruntime) | torch | onnx
    precision: str = "auto"        # torch: auto (fp16 on CUDA, fp32 elsewhere; WCT fp32) | fp32 | bf16 | fp16

    @classmethod
    def from_dict(cls, spec: dict) -> "Job":
        """A job from the worker's JSON spec (the CLI's options, snake_case)."""
        return from_spec(cls, spec, ("content", "styles", "output"))


def from_spec(cls, spec: dict, required: tuple[str, ...]):
    """A job dataclass (with a `settings` field) from a JSON spec.

    Types are checked here, so a wrong one is a message, not a crash deep inside
    (and "overwrite": "false" is not taken for true).
    """
    spec = dict(spec)
    known = (set(cls.__dataclass_fields__) - {"settings"}) | set(Settings.__dataclass_fields__)
    unknown = set(spec) - known
    if unknown:
        raise BrushworkError(f"job spec: unknown field(s) {', '.join(sorted(unknown))}")
    for name in required:
        if name not in spec:
            raise BrushworkError(f"job spec: '{name}' is required")
    if isinstance(spec["styles"], str):
        spec["styles"] = [spec["styles"]]
    for name, value in spec.items():
        _check_type(name, value)
    settings = Settings(**{k: spec.pop(k) for k in list(spec) if k in Settings.__dataclass_fields__})
    return cls(settings=settings, **spec)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_SPEC_TYPES = {  # field → (test, what the message asks for)
    "content": (lambda v: isinstance(v, str), "a path string"),
    "output": (lambda v: isinstance(v, str), "a path string"),
    "styles": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
               "a path string or a list of them"),
    "method": (lambda v: isinstance(v, str), "a string"),
    "device": (lambda v: isinstance(v, str), "a string"),
    "backend": (lambda v: isinstance(v, str), "auto, torch or onnx"),
    "precision": (lambda v: v in backends.PRECISIONS, "auto, fp32, bf16 or fp16"),
    "wrap": (lambda v: isinstance(v, str), "a string"),
    "strength": (_is_number, "a number"),
    "style_scale": (_is_number, "a number"),
    "tile": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "style_weights": (lambda v: v is None or (isinstance(v, list) and all(map(_is_number, v))),
                      "a list of numbers"),
    **{flag: (lambda v: isinstance(v, bool), "true or false")
       for flag in ("preserve_color", "allow_untrained", "overwrite", "force_color")},
    # frame sequences (core/jobs/frames.py)
    "frames": (lambda v: isinstance(v, str), "a folder path string"),
    "vectors": (lambda v: v is None or isinstance(v, str), "a folder path string or null"),
    "video": (lambda v: v is None or isinstance(v, str), "an .mp4 path string or null"),
    "coherence": (lambda v: _is_number(v) or v in ("flow", "none"), "a number (frames) or flow/none (movie)"),
    "fps": (_is_number, "a number"),
    # movie files (core/jobs/movie.py)
    "movie": (lambda v: isinstance(v, str), "a path string"),
    "start": (_is_number, "a number of seconds"),
    "end": (lambda v: v is None or _is_number(v), "a number of seconds or null"),
    "blend": (_is_number, "a number"),
    # depth-aware style (core/scene/depth.py)
    "depth": (lambda v: v is None or isinstance(v, str), "a path string or null"),
    "focus": (lambda v: v is None or _is_number(v), "a number or null"),
    "falloff": (lambda v: v is None or _is_number(v), "a number or null"),
    "depth_side": (lambda v: isinstance(v, str), "both, far or near"),
    "far_scale": (_is_number, "a number"),
    "panorama": (lambda v: isinstance(v, bool), "true or false"),
    "poles": (lambda v: isinstance(v, bool), "true or false"),
    "hdr": (lambda v: v in HDR_MODES, "auto, clip or tonemap"),
}
HDR_MODES = ("auto", "clip", "tonemap")


def _check_type(name: str, value) -> None:
    test, wanted = _SPEC_TYPES[name]
    if not test(value):
        raise BrushworkError(f"job spec: '{name}' must be {wanted}, not {json.dumps(value, default=repr)}")


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


def check_new_file(output: str, inputs: list[str], overwrite: bool) -> Path:
    """The path of a result file to write: not one of `inputs`, not a folder, not an
    existing file unless `overwrite`, in a folder that exists."""
    out = Path(output)
    for src in inputs:
        if Path(src).exists() and out.exists() and os.path.samefile(src, out):
            raise BrushworkError(f"{output}: is the input {src}; results are new files, originals stay")
    if out.is_dir():
        raise BrushworkError(f"{output}: is a folder; name the file to write")
    if out.exists() and not overwrite:
        raise BrushworkError(f"{output}: already exists; pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise BrushworkError(f"{output}: folder {out.parent} does not exist")
    return out


def load_style(path: str) -> np.ndarray:
    pic = read_image(path)
    return colour.to_working(pic.color, pic.linear)


def run(job: Job, progress: Progress | None = None, cancel=None,
        stylizer: Stylizer | None = None) -> Result:
    """Run a job; raises BrushworkError for bad input, Cancelled if asked to stop.

    Every check that needs no network (options, files, styles, alpha vs. JPEG) comes
    before the networks load; `cancel` is also asked before loading and before writing,
    so a cancelled job never leaves an output.
    """
    t0 = time.perf_counter()
    job.settings.check(len(job.styles))
    check_choices(job.method, job.device)
    backends.resolve(job.backend)
    if not job.styles:
        raise BrushworkError("no style image given")
    out_path = check_paths(job)
    timings, t = {}, time.perf_counter()
    content = read_image(job.content)
    keep = _Layout.of(content)
    if content.linear and _hdr(job) == "tonemap":
        rgb, keep.exposure = colour.tonemap(content.color)
        keep.peak = float(content.color.max())
    else:
        rgb = colour.to_working(content.color, content.linear)
    del content  # the decoded file is image-sized; only its layout and alpha are needed
    check_content(rgb, job.content)
    h, w = rgb.shape[:2]
    if job.panorama:
        panorama.check_equirect(h, w, job.content)
    if keep.alpha is not None and out_path.suffix.lower() in (".jpg", ".jpeg"):
        raise BrushworkError(f"{job.output}: JPEG cannot hold the alpha of {job.content}; "
                             "save as PNG, TIFF or EXR")
    reason = data_map_reason(job.content, rgb)
    if reason and not job.force_color:
        raise BrushworkError(f"{job.content}: looks like a data map ({reason}); normal, roughness "
                             "and height maps are data, not colour. Pass --force-color if it is a colour image")
    styles_rgb = [load_style(p) for p in job.styles]
    for s, name in zip(styles_rgb, job.styles):
        check_style(s, name)
    timings["read"] = time.perf_counter() - t
    check_cancel(cancel)
    stylizer = stylizer or Stylizer(job.method, job.device, job.allow_untrained, job.backend, job.precision)
    if stylizer.untrained:
        warn(f"{job.method} runs with deterministic RANDOM weights ({', '.join(stylizer.untrained)} "
             "not trained yet): the output shows the plumbing, not a painting")
    t = time.perf_counter()
    sides = [stylizer.style(s, name) for s, name in zip(styles_rgb, job.styles)]
    timings["style"], t = time.perf_counter() - t, time.perf_counter()
    settings = job.settings
    if job.panorama:
        settings = replace(settings, wrap="x")  # the ±180° meridian joins
    elif settings.wrap == "auto":
        settings = replace(settings, wrap=detect_wrap(rgb))  # resolved here to report it
    if job.depth:
        result = _depth_aware(job, stylizer, rgb, sides, settings, progress, cancel)
    elif job.panorama and job.poles:
        result = paint_panorama(stylizer, rgb, sides, settings, progress, cancel)
    else:
        result = stylizer.run(rgb, sides, settings, progress, cancel)
    if job.preserve_color:
        result = colour.preserve_color(np.clip(result, 0, 1), rgb)
    del rgb  # image-sized, and not needed to write
    timings["stylize"], t = time.perf_counter() - t, time.perf_counter()
    check_cancel(cancel)
    xmp = panorama.gpano_xmp(w, h) if job.panorama and out_path.suffix.lower() in (".jpg", ".jpeg") else None
    write_image(str(out_path), keep.apply(result, out_path), xmp=xmp)
    timings["write"] = time.perf_counter() - t
    if progress:
        progress(1.0, "done")
    return Result(str(out_path), w, h, time.perf_counter() - t0, stylizer.untrained, settings.wrap,
                  getattr(stylizer.backend, "name", ""), timings)


def _depth_aware(job: Job, stylizer: Stylizer, rgb, sides, settings: Settings, progress, cancel):
    """Fine strokes at the focus plane, strokes `far_scale`× larger away from it."""
    dmap = depth.read_depth(job.depth, rgb.shape[:2])
    focus = depth.default_focus(dmap) if job.focus is None else job.focus
    near = dmap[np.isfinite(dmap) & (dmap < 1e9)]
    falloff = job.falloff if job.falloff is not None else max(float(np.ptp(near)) / 4 if near.size else 1.0, 1e-3)
    w = depth.weight(dmap, focus, falloff, job.depth_side)   # checks falloff and side before any network runs
    coarse_settings = replace(settings, style_scale=min(8.0, settings.style_scale * job.far_scale))
    half = lambda a, b: (lambda f, s: progress(a + (b - a) * f, s)) if progress else None  # noqa: E731
    fine = stylizer.run(rgb, sides, settings, half(0.0, 0.5), cancel)
    coarse = stylizer.run(rgb, sides, coarse_settings, half(0.5, 1.0), cancel)
    return depth.mix(fine, coarse, w)


def _hdr(job: Job) -> str:
    if job.hdr not in HDR_MODES:
        raise BrushworkError(f"--hdr {job.hdr}: use auto, clip or tonemap")
    return ("tonemap" if job.panorama else "clip") if job.hdr == "auto" else job.hdr


def paint_panorama(stylizer: Stylizer, rgb, sides, settings: Settings, progress=None, cancel=None,
                   content=None) -> np.ndarray:
    """The equirect painted flat with the meridian wrapped, then its polar caps painted
    in perspective views with the same transformation (core/scene/poles.py)."""
    part = lambda a, b: (lambda f, s: progress(a + (b - a) * f, s)) if progress else None  # noqa: E731
    settings = replace(settings, wrap="x")
    content = content or stylizer.content(rgb, settings)
    flat = stylizer.run(rgb, sides, settings, part(0.0, 0.6), cancel, content=content)
    view_settings = replace(settings, wrap="none")
    paint = lambda view, pole: stylizer.run(  # noqa: E731
        view, sides, view_settings, part(0.6 if pole > 0 else 0.8, 0.8 if pole > 0 else 1.0), cancel,
        content=content)
    return fix_poles(rgb, flat, paint)


def check_cancel(cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled()


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
