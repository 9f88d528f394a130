"""What a frame sequence and a movie share: one transformation for the whole clip, each
frame painted with it, the previous output carried along the motion, and the flicker
measured.

One transformation: the style side is computed once and the content statistics are
averaged over a few frames spread through the clip, so colours and strokes do not drift
with per-frame statistics. Where the motion is known (a render's vectors, or optical flow
on footage), each output is blended with the previous output warped along it, wherever
the two frames see the same surface (core/scene/motion.py).
"""
from __future__ import annotations

import numpy as np

from ..engine.methods import ContentSide, average_content
from ..engine.stylizer import Progress, Stylizer, part
from ..jobs.spec import EngineOptions, load_style
from ..scene import motion, panorama

STAT_FRAMES = 5  # frames whose content statistics are averaged into the shared transformation


def stat_picks(count: int) -> list[int]:
    """Indices of the frames whose statistics are averaged: spread evenly, ends included."""
    return sorted({round(i) for i in np.linspace(0, count - 1, min(STAT_FRAMES, count))})


def styles(job: EngineOptions, stylizer: Stylizer) -> list:
    return [stylizer.style(load_style(p), p) for p in job.styles]


def shared_content(stylizer: Stylizer, frames, settings) -> ContentSide | None:
    """One set of content statistics for the clip, from `frames` (sRGB working arrays,
    best a generator: one frame in memory at a time); None when there are none."""
    sides = [stylizer.content(rgb, settings) for rgb in frames]
    return average_content(sides) if sides else None


def frame_progress(progress: Progress | None, i: int, count: int, share: float = 1.0):
    """(overall progress at the frame's start, the frame's own progress): frame i of
    `count` within the first `share` of the job, reported as "frame i+1/count"."""
    name = f"frame {i + 1}/{count}"
    if progress:
        progress(share * i / count, name)
    return part(progress, share * i / count, share * (i + 1) / count, name)


def paint(job: EngineOptions, stylizer: Stylizer, rgb: np.ndarray, sides, content: ContentSide,
          progress=None, cancel=None, poles: bool = False) -> np.ndarray:
    """One frame painted with the clip's transformation, colours kept where asked, in [0, 1].
    `poles`: an equirect frame whose polar caps are painted in perspective views."""
    if poles:
        alone = panorama.paint(stylizer, rgb, sides, job.settings, progress, cancel, content=content)
    else:
        alone = stylizer.run(rgb, sides, job.settings, progress, cancel, content=content)
    return np.clip(job.keep_colour(alone, rgb), 0, 1)


class Flicker:
    """Warp errors (0–255) between consecutive outputs along the motion, and the same for
    the frames painted alone: how much the carrying steadied the clip."""

    def __init__(self):
        self.steady: list[float] = []
        self.alone: list[float] = []

    def add(self, prev_out, out, prev_alone, alone, back, valid) -> None:
        self.steady.append(motion.warp_error(prev_out, out, back, valid))
        if alone is not None and prev_alone is not None:
            self.alone.append(motion.warp_error(prev_alone, alone, back, valid))

    @staticmethod
    def _mean(xs: list[float]) -> float | None:
        return float(np.mean(xs)) if xs else None

    @property
    def mean(self) -> float | None:
        return self._mean(self.steady)

    @property
    def mean_alone(self) -> float | None:
        return self._mean(self.alone)
