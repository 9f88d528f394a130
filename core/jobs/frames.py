"""A folder of frames → a folder of stylized frames that do not flicker.

Two things keep a sequence steady (core/jobs/sequence.py): one transformation for all
frames, and, when the renderer's motion is known (a Vector pass in each frame's
multilayer EXR, or in a separate folder of them), each output blended with the previous
output warped along that motion.

Frames are read in natural order (frame_2 before frame_10). Outputs are PNGs named like
the inputs; a frame whose output exists is not redone (a re-run resumes), and serves
as the previous frame for the next one. The next frame is read and finished ones are
written on threads while the networks work (decoders and encoders release the GIL),
so on a fast GPU the files are not what sets the pace.
"""
from __future__ import annotations

import os
import re
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..backends import has
from ..engine.stylizer import Progress
from ..errors import BrushworkError, check_number, warn
from ..jobs import sequence
from ..jobs.schema import DEFAULTS, RANGES
from ..jobs.spec import EngineOptions, check_cancel, check_new_file, output_folder
from ..engine.tileable import resolve_wrap
from ..media import colour, video
from ..media.dequantize import smooth_file
from ..media.image_io import SUPPORTED, Picture, read_image, read_render_passes, write_image
from ..scene import motion


@dataclass(kw_only=True)
class FramesJob(EngineOptions):
    """`overwrite` here redoes frames whose output exists (default: resume)."""
    frames: str                      # folder of frames (PNG, JPEG, TIFF, EXR incl. multilayer)
    output: str                      # folder for the stylized frames (created)
    vectors: str | None = None       # folder of multilayer EXRs with Vector (+ Depth) passes
    coherence: float = DEFAULTS["coherence"]  # 0: frames alone; towards 1: more of the warped previous frame
    video: str | None = None         # also write the frames as this H.264 .mp4
    fps: float = DEFAULTS["fps"]
    panorama: bool = False           # equirect frames: the meridian joins (and, with poles, clean caps)
    poles: bool = True


@dataclass
class FramesResult:
    output: str
    frames: int
    done: int                        # stylized in this run (the rest were resumed)
    seconds: float
    flicker: float | None            # mean warp error of the outputs (0–255), with vectors
    flicker_alone: float | None      # the same for the frames stylized alone, for comparison
    video: str | None = None


def frame_files(folder: str | Path) -> list[Path]:
    """Image files of `folder` in natural order (frame_2 before frame_10)."""
    path = Path(folder)
    if not path.is_dir():
        raise BrushworkError(f"{folder}: not a folder of frames")
    files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED]
    if not files:
        raise BrushworkError(f"{folder}: no frames ({', '.join(SUPPORTED)})")
    key = lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name.lower())]  # noqa: E731
    return sorted(files, key=key)


def _number(path: Path) -> str | None:
    found = re.findall(r"\d+", path.stem)
    return found[-1].lstrip("0") or "0" if found else None


@dataclass
class _Frame:
    rgb: np.ndarray                  # sRGB working space, [0, 1]
    alpha: np.ndarray | None
    vector: np.ndarray | None
    depth: np.ndarray | None


def load_frame(path: Path, vectors: dict[str, Path], wrap: str = "none") -> _Frame:
    """A frame's colour in the working space, and its motion when there is any; an 8-bit
    frame's gradient steps smoothed across the edges that `wrap` joins."""
    vector = depth = alpha = None
    if path.suffix.lower() == ".exr":
        passes = read_render_passes(path)
        combined = passes["Combined"]
        rgb = colour.to_working(combined[..., :3], True)
        alpha = combined[..., 3] if combined.shape[-1] == 4 else None
        vector, depth = passes.get("Vector"), passes.get("Depth")
    else:
        pic = read_image(path)
        rgb, alpha = colour.to_working(pic.color, pic.linear), pic.alpha
        rgb = smooth_file(rgb, pic.dtype, path, resolve_wrap(wrap, rgb))
    extra = vectors.get(_number(path) or "")
    if extra is not None:
        passes = read_render_passes(extra, colour=False)
        if "Vector" not in passes:
            raise BrushworkError(f"{extra}: no Vector pass (enable it in View Layer › Passes)")
        vector, depth = passes["Vector"], passes.get("Depth", depth)
    if vector is not None and vector.shape[:2] != rgb.shape[:2]:
        raise BrushworkError(f"{path}: motion vectors are {vector.shape[1]}×{vector.shape[0]}, "
                             f"the frame {rgb.shape[1]}×{rgb.shape[0]}")
    return _Frame(rgb, alpha, vector, depth)


def run(job: FramesJob, progress: Progress | None = None, cancel=None) -> FramesResult:
    """Stylize every frame; raises Cancelled between frames (finished frames stay)."""
    t0 = time.perf_counter()
    job.check_engine()
    # a number here; a movie's "flow"/"none" is core/jobs/movie.py's
    check_number("coherence", job.coherence, RANGES["coherence"].holds, RANGES["coherence"].words())
    video.check_fps(job.fps)
    files = frame_files(job.frames)
    vectors = {}
    if job.vectors:
        vectors = {_number(p): p for p in frame_files(job.vectors) if p.suffix.lower() == ".exr"}
        if not vectors:
            raise BrushworkError(f"{job.vectors}: no multilayer EXR files with motion vectors")
    out_dir = Path(job.output)
    if out_dir.resolve() == Path(job.frames).resolve():
        raise BrushworkError(f"{job.output}: is the frames folder; results go to a new folder")
    if job.video:
        if Path(job.video).suffix.lower() != ".mp4":
            raise BrushworkError(f"{job.video}: the video must be an .mp4 file")
        check_new_file(job.video, [*map(str, files), *job.styles], job.overwrite)
    if job.video and not has("imageio_ffmpeg"):  # the Blender extension does not bundle its 25–70 MB
        warn(f"{job.video}: not written: MP4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg, "
             "or the add-on's Install button); the stylized frames are written as PNGs")
        job = replace(job, video=None)
    with output_folder(out_dir, "the stylized frames"):
        return _stylize(job, files, vectors, out_dir, progress, cancel, t0)


def _stylize(job: FramesJob, files: list[Path], vectors, out_dir: Path, progress, cancel, t0: float) -> FramesResult:
    outputs = [out_dir / f"{p.stem}.png" for p in files]

    if job.panorama:
        job = replace(job, settings=replace(job.settings, wrap="x"))
    stylizer = job.stylizer()
    sides = sequence.styles(job, stylizer)
    picks = sequence.stat_picks(len(files))
    shared = sequence.shared_content(stylizer, (load_frame(files[i], vectors, job.settings.wrap).rgb for i in picks), job.settings)

    # Reading runs one frame ahead and writes go to a few threads; leaving the block (done,
    # failed or cancelled) waits for writes already started, each of which is atomic.
    with ThreadPoolExecutor(WRITERS + 1, thread_name_prefix="brushwork-io") as pool:
        return _each_frame(job, files, outputs, vectors, stylizer, sides, shared, pool, progress, cancel, t0)


WRITERS = min(4, os.cpu_count() or 1)  # PNG encodes in flight at once (cv2 releases the GIL)


def _each_frame(job: FramesJob, files, outputs, vectors, stylizer, sides, shared, pool, progress, cancel,
                t0: float) -> FramesResult:
    prev = prev_alone = None
    flicker, done = sequence.Flicker(), 0
    writes: deque = deque()
    ahead = pool.submit(load_frame, files[0], vectors, job.settings.wrap)
    for i, (src, dst) in enumerate(zip(files, outputs)):
        check_cancel(cancel)
        sub = sequence.frame_progress(progress, i, len(files))
        frame = ahead.result()
        if i + 1 < len(files):
            ahead = pool.submit(load_frame, files[i + 1], vectors, job.settings.wrap)
        moved = prev is not None and frame.vector is not None   # the motion from the previous frame is known
        if moved:
            back = motion.backward_flow(frame.vector)
            valid = motion.valid_mask(back, prev[1], frame.depth, prev[2])
        if dst.exists() and not job.overwrite:
            out = colour.to_working(read_image(dst).color, False)
            alone = None
        else:
            alone = out = sequence.paint(job, stylizer, frame.rgb, sides, shared, sub, cancel,
                                         poles=job.panorama and job.poles)
            if moved and job.coherence > 0:
                out = motion.carry(alone, prev[0], back, valid, job.coherence)
            pixels = out if frame.alpha is None else np.concatenate([out, frame.alpha[..., None]], -1)
            while len(writes) >= WRITERS:
                writes.popleft().result()  # a failed write stops the job here, as before
            writes.append(pool.submit(write_image, str(dst),
                                      Picture(pixels.astype(np.float32), np.dtype(np.uint8), False, str(dst)),
                                      overwrite=job.overwrite))
            done += 1
        if moved:
            flicker.add(prev[0], out, prev_alone, alone, back, valid)
        forward = motion.forward_flow(frame.vector) if frame.vector is not None else None
        prev, prev_alone = (out, forward, frame.depth), alone
    while writes:
        writes.popleft().result()
    if job.video:
        if progress:
            progress(0.999, "video")
        from ..media import spherical
        # The 360° metadata (YouTube and players show it as a sphere) goes in before the movie is in place.
        video.write_mp4(outputs, job.video, job.fps, overwrite=job.overwrite,
                        finish=spherical.inject if job.panorama else None)
    if progress:
        progress(1.0, "done")
    return FramesResult(str(Path(job.output)), len(files), done, time.perf_counter() - t0, flicker.mean,
                        flicker.mean_alone, job.video)
