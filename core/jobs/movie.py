"""A movie file → a stylized movie file that holds still: `python -m core video`.

The footage is decoded and encoded as a stream (core/media/video.py), so memory does not
grow with the clip's length. As with rendered frames, the whole clip gets one
transformation (core/jobs/sequence.py), from frames spread through the chosen range.
With `coherence="flow"` the motion between consecutive *content* frames is estimated
(core/scene/flow.py: DIS optical flow, both directions), and the previous output, warped
along it, is blended in where the two frames see the same surface: the render path's own
warp-and-blend (motion.carry) on estimated motion.

The result appears only when complete (temporary name, renamed at the end); a cancel or
an error removes what was written. The source's sound is copied unchanged.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..backends import has
from ..engine.stylizer import Progress, Stylizer
from ..errors import BrushworkError, SettingError, check_number, warn
from ..jobs import sequence
from ..jobs.schema import DEFAULTS, RANGES
from ..jobs.spec import EngineOptions, check_cancel, check_new_file, load_style
from ..media import colour, video
from ..media.dequantize import smooth_steps
from ..scene import motion

COHERENCE = ("flow", "none")
BLEND = DEFAULTS["blend"]  # weight of the warped previous output where it is valid, as for renders


@dataclass(kw_only=True)
class VideoJob(EngineOptions):
    movie: str                       # the footage: any file ffmpeg reads (MP4, MOV, MKV, …)
    output: str                      # the new .mp4 (never the input)
    coherence: str = "flow"          # flow: steadied along estimated motion; none: frames alone
    blend: float = BLEND
    start: float = 0.0               # seconds
    end: float | None = None         # seconds; None: to the end


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
    job.check_engine()
    _require("imageio_ffmpeg", "imageio-ffmpeg", "decoding and encoding video")
    if job.coherence == "flow":
        _require("cv2", "opencv-python-headless", "optical flow (coherence flow)")
    if job.coherence not in COHERENCE:
        raise SettingError("coherence", job.coherence, f"use {' or '.join(COHERENCE)}")
    check_number("blend", job.blend, RANGES["blend"].holds, RANGES["blend"].words())
    check_number("start", job.start, RANGES["start"].holds, "must be 0 or more seconds")
    if job.end is not None:
        check_number("end", job.end, lambda v: v > job.start, f"must be after start ({job.start:g} s)")
    if Path(job.output).suffix.lower() != ".mp4":
        raise BrushworkError(f"{job.output}: the stylized movie is written as .mp4; name an .mp4 file")
    check_new_file(job.output, [job.movie, *job.styles], job.overwrite)
    src = video.probe(job.movie)
    if src.duration and job.start >= src.duration:
        raise SettingError("start", job.start, f"the movie is only {src.duration:.2f} s long")
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
    stylizer = job.stylizer()
    sides = [stylizer.style(s, p) for s, p in zip(styles_rgb, job.styles)]
    if progress:
        progress(0.0, "statistics")
    shared = _shared_content(stylizer, src, job, span)

    writer = None
    from ..scene.flow import Flow
    flow = Flow() if job.coherence == "flow" else None
    flicker = sequence.Flicker()
    prev = None          # (content, alone, output) of the previous frame
    frames = video.read_movie(src, job.start, seconds)
    try:
        for i, frame in enumerate(frames):
            check_cancel(cancel)
            rgb = smooth_steps(colour.to_working(frame.astype(np.float32) / 255, False), lossy=True)
            if writer is None:
                writer = video.MovieWriter(job.output, src, (rgb.shape[1], rgb.shape[0]), job.start, seconds,
                                           overwrite=job.overwrite)
            sub = sequence.frame_progress(progress, i, max(expected or 0, i + 1), share=0.99)
            alone = out = sequence.paint(job, stylizer, rgb, sides, shared, sub, cancel)
            if flow is not None and prev is not None:
                back, valid = flow.steady_mask(prev[0], rgb)
                if job.blend > 0:
                    out = motion.carry(alone, prev[2], back, valid, job.blend)
                flicker.add(prev[2], out, prev[1], alone, back, valid)
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
    return VideoResult(job.output, writer.frames, writer.size[0], writer.size[1], float(src.fps),
                       time.perf_counter() - t0, flicker.mean, flicker.mean_alone, notes)


def _shared_content(stylizer: Stylizer, src: video.Source, job: VideoJob, span: float):
    """Content statistics averaged over frames spread through the range: one transformation."""
    picks = np.linspace(0, max(span, 0) * 0.98, sequence.STAT_FRAMES) if span > 0 else [0.0]
    decoded = (video.movie_frame(src, job.start + float(t)) for t in picks)  # one frame in memory at a time
    frames = (smooth_steps(colour.to_working(f.astype(np.float32) / 255, False), lossy=True) for f in decoded if f is not None)
    shared = sequence.shared_content(stylizer, frames, job.settings)
    if shared is None:
        raise BrushworkError(f"{job.movie}: no frames could be decoded in the chosen range")
    return shared


def _monotonic(progress: Progress | None) -> Progress | None:
    """Progress that never goes back, though the frame count is an estimate until the end."""
    if progress is None:
        return None
    most = [0.0]

    def report(fraction: float, stage: str) -> None:
        most[0] = max(most[0], fraction)
        progress(most[0], stage)
    return report

