"""A movie file → a stylized movie file that holds still: `python -m core video`.

The footage is decoded and encoded as a stream (core/media/video.py), so memory does not grow
with the clip's length. As with rendered frames (core/jobs/frames.py), the whole clip gets one
transformation: the style side once, and content statistics averaged over a few frames
spread through the chosen range. With `coherence="flow"` the motion between consecutive
*content* frames is estimated (core/scene/flow.py: DIS optical flow, both directions), and the
previous output, warped along it, is blended in where the two frames see the same
surface: the render path's own warp-and-blend (motion.carry) on estimated motion.

The result appears only when complete (temporary name, renamed at the end); a cancel or
an error removes what was written. The source's sound is copied unchanged.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from core.media import colour
from core.scene import motion
from core.media import video
from core.backends import has
from core.engine.stylizer import Progress, Settings, Stylizer, check_choices, default_method
from core.errors import BrushworkError, warn
from core.jobs.image import check_cancel, check_new_file, load_style
from core.engine.methods import average_content

STAT_FRAMES = 5          # frames whose content statistics are averaged into the shared transformation
COHERENCE = ("flow", "none")
BLEND = 0.75             # weight of the warped previous output where it is valid, as for renders


@dataclass
class VideoJob:
    movie: str                       # the footage: any file ffmpeg reads (MP4, MOV, MKV, …)
    styles: list[str]
    output: str                      # the new .mp4 (never the input)
    method: str = field(default_factory=default_method)
    settings: Settings = field(default_factory=Settings)
    coherence: str = "flow"          # flow: steadied along estimated motion; none: frames alone
    blend: float = BLEND
    start: float = 0.0               # seconds
    end: float | None = None         # seconds; None: to the end
    preserve_color: bool = False
    device: str = "auto"
    precision: str = "auto"          # torch's arithmetic (core/jobs/image.py's Job.precision)
    allow_untrained: bool = False
    overwrite: bool = False


@dataclass
class VideoResult:
    output: str
    frames: int
    width: int
    height: int
    fps: float
    seconds: float
    flicker: float | None            # mean warp error along the estimated motion (0–255), with flow
    flicker_alone: float | None      # the same for the frames stylized alone
    notes: list[str]                 # what was done to the source (10-bit, HDR, variable rate)


def _require(module: str, package: str, what: str) -> None:
    """A clear line, not a traceback, where the Blender extension's bundled packages stop."""
    if not has(module):
        raise BrushworkError(f"{what} needs the {package} package, which is not installed here "
                             f"(pip install {package}, or the add-on's Install button)")


def check(job: VideoJob) -> video.Source:
    """Everything that needs no network: options, paths, and what the source is."""
    job.settings.check(len(job.styles))
    check_choices(job.method, job.device)
    if not job.styles:
        raise BrushworkError("no style image given")
    _require("imageio_ffmpeg", "imageio-ffmpeg", "decoding and encoding video")
    if job.coherence == "flow":
        _require("cv2", "opencv-python-headless", "optical flow (--coherence flow)")
    if job.coherence not in COHERENCE:
        raise BrushworkError(f"--coherence {job.coherence!r}: use {' or '.join(COHERENCE)}")
    if not 0 <= job.blend < 1:
        raise BrushworkError(f"blend {job.blend}: must be at least 0 and below 1")
    if Path(job.output).suffix.lower() != ".mp4":
        raise BrushworkError(f"{job.output}: the stylized movie is written as .mp4; name an .mp4 file")
    check_new_file(job.output, [job.movie, *job.styles], job.overwrite)
    src = video.probe(job.movie)
    if job.start < 0 or (job.end is not None and job.end <= job.start):
        raise BrushworkError(f"--start {job.start:g} --end {job.end}: need 0 ≤ start < end")
    if src.duration and job.start >= src.duration:
        raise BrushworkError(f"--start {job.start:g}: the movie is only {src.duration:.2f} s long")
    return src


def _notes(src: video.Source) -> list[str]:
    notes = []
    if src.hdr:
        notes.append(f"{src.hdr} HDR source: tone-mapped to SDR Rec.709 (Hable) for the networks; "
                     "the result is 8-bit SDR")
    elif src.bits > 8:
        notes.append(f"{src.bits}-bit source ({src.pix_fmt}): stylized and written as 8-bit")
    if src.variable_rate:
        notes.append(f"variable frame rate: resampled to a constant {float(src.fps):.3f} fps "
                     "(frames repeated or dropped where the rate varied; the sound stays in sync)")
    if src.rotation:
        notes.append(f"the source is shown rotated by {src.rotation}°: stylized and written upright")
    w, h = (src.height, src.width) if src.rotation in (90, 270) else (src.width, src.height)
    if w % 2 or h % 2:
        notes.append(f"odd size {w}×{h}: written as H.264 4:4:4 to keep it exact "
                     "(4:2:0 needs even sides)")
    return notes


def run(job: VideoJob, progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
        on_frame: Callable[[int, np.ndarray, np.ndarray, np.ndarray], None] | None = None) -> VideoResult:
    """Stylize the movie; raises BrushworkError for bad input, Cancelled (nothing written) if asked.

    `on_frame(i, content, alone, output)` sees every frame in the working space (for
    measurements)."""
    t0 = time.perf_counter()
    src = check(job)
    notes = _notes(src)
    for note in notes:
        warn(note)
    end = min(job.end, src.duration) if job.end is not None and src.duration else job.end
    seconds = None if end is None else end - job.start
    span = (end if end is not None else src.duration) - job.start
    expected = max(1, round(span * float(src.fps))) if span > 0 else None

    progress = _monotonic(progress)
    styles_rgb = [load_style(p) for p in job.styles]
    check_cancel(cancel)
    stylizer = Stylizer(job.method, job.device, job.allow_untrained, precision=job.precision)
    if stylizer.untrained:
        warn(f"{job.method} runs with deterministic RANDOM weights ({', '.join(stylizer.untrained)})")
    sides = [stylizer.style(s, p) for s, p in zip(styles_rgb, job.styles)]
    if progress:
        progress(0.0, "statistics")
    shared = _shared_content(stylizer, src, job, span)

    writer = None
    from core.scene.flow import Flow
    flow = Flow() if job.coherence == "flow" else None
    errors, errors_alone = [], []
    prev = None          # (content, alone, output) of the previous frame
    frames = video.read_movie(src, job.start, seconds)
    try:
        for i, frame in enumerate(frames):
            check_cancel(cancel)
            rgb = colour.to_working(frame.astype(np.float32) / 255, False)
            if writer is None:
                writer = video.MovieWriter(job.output, src, (rgb.shape[1], rgb.shape[0]), job.start, seconds)
            total = max(expected or 0, i + 1)
            stage = f"frame {i + 1}/{total}"
            if progress:
                progress(0.99 * i / total, stage)
            sub = (lambda f, s, i=i, total=total: progress(0.99 * (i + f) / total, stage)) if progress else None
            alone = stylizer.run(rgb, sides, job.settings, sub, cancel, content=shared)
            if job.preserve_color:
                alone = colour.preserve_color(np.clip(alone, 0, 1), rgb)
            alone = out = np.clip(alone, 0, 1)
            if flow is not None and prev is not None:
                back, valid = flow.steady_mask(prev[0], rgb)
                if job.blend > 0:
                    out = motion.carry(alone, prev[2], back, valid, job.blend)
                errors.append(motion.warp_error(prev[2], out, back, valid))
                errors_alone.append(motion.warp_error(prev[1], alone, back, valid))
            if on_frame:
                on_frame(i, rgb, alone, out)
            writer.write(out)
            prev = (rgb, alone, out)
        if writer is None:
            raise BrushworkError(f"{job.movie}: no frames in the chosen range")
        check_cancel(cancel)
        if progress:
            progress(0.99, "sound")
        writer.finish()
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    finally:
        frames.close()   # stops the decoding ffmpeg now, not when the generator is collected
    if progress:
        progress(1.0, "done")
    mean = lambda xs: float(np.mean(xs)) if xs else None  # noqa: E731
    return VideoResult(job.output, writer.frames, writer.size[0], writer.size[1], float(src.fps),
                       time.perf_counter() - t0, mean(errors), mean(errors_alone), notes)


def _shared_content(stylizer: Stylizer, src: video.Source, job: VideoJob, span: float):
    """Content statistics averaged over frames spread through the range: one transformation."""
    picks = np.linspace(0, max(span, 0) * 0.98, STAT_FRAMES) if span > 0 else [0.0]
    sides = []
    for t in picks:
        frame = video.movie_frame(src, job.start + float(t))
        if frame is not None:
            rgb = colour.to_working(frame.astype(np.float32) / 255, False)
            sides.append(stylizer.content(rgb, job.settings))
    if not sides:
        raise BrushworkError(f"{job.movie}: no frames could be decoded in the chosen range")
    return average_content(sides)


def _monotonic(progress: Progress | None) -> Progress | None:
    """Progress that never goes back, though the frame count is an estimate until the end."""
    if progress is None:
        return None
    most = [0.0]

    def report(fraction: float, stage: str) -> None:
        most[0] = max(most[0], fraction)
        progress(most[0], stage)
    return report

