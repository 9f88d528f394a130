"""Several images painted with one look: the tiles of a UDIM set, or the base colours of
a scene's materials.

Painted one by one, a brick wall and the wooden door in it each get a transformation
from their own statistics: two palettes of the same painting. Here the content
statistics of all the images are pooled by position (as the tiles of one image already
are: core/engine/stylizer.py's `pooled_content`), one transformation is built, and each
image is painted with it and written like an image job's result (core/jobs/image.py):
same layout, bit depth and alpha, atomically, never over anything unless asked.
`pooled=False` keeps each image's own statistics.

A set is one job: every input is read and checked before the first is painted, and a
set that fails or is cancelled part-way (an error, Ctrl-C, SIGTERM, a full disk) removes
the results it had written, so it leaves nothing or everything and a re-run starts clean.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..engine.stylizer import Progress, part
from ..errors import BrushworkError, warn
from ..jobs import image
from ..jobs.spec import EngineOptions, check_cancel


@dataclass(kw_only=True)
class ImageSetJob(EngineOptions):
    contents: list[str]
    outputs: list[str]             # one new file per content, in the same order
    pooled: bool = True            # one transformation for all (False: each its own statistics)
    force_color: bool = False
    hdr: str = "auto"
    emission: bool = False         # every image an emission map: painted as light (colour.as_light)


@dataclass
class ImageSetResult:
    outputs: list[str]
    seconds: float
    pooled: bool
    untrained: list[str] = field(default_factory=list)
    wraps: list[str] = field(default_factory=list)   # per image, "auto" resolved
    backend: str = ""


def _image_job(job: ImageSetJob, content: str, output: str) -> image.Job:
    shared = {f.name: getattr(job, f.name) for f in fields(EngineOptions)}
    return image.Job(content=content, output=output, force_color=job.force_color, hdr=job.hdr,
                     emission=job.emission, **shared)


def _take_back(results: list) -> str:
    """Remove the results a stopped set had written (the image it stopped in wrote nothing:
    results land atomically, last); what is left on disk, in words."""
    kept = []
    for path in [r.output for r in results]:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError:
            kept.append(path)
    if kept:
        return f"could not remove {len(kept)} result(s) already written: {', '.join(kept)}"
    return (f"nothing of this set was written (the {len(results)} image(s) painted before it were removed)"
            if results else "nothing of this set was written")


def run(job: ImageSetJob, progress: Progress | None = None, cancel=None) -> ImageSetResult:
    """Check every input and output first, pool the statistics, then paint each image."""
    t0, began = time.perf_counter(), time.time() - 1   # file times may be a second coarse
    job.check_engine()
    if not job.contents:
        raise BrushworkError("no content image given")
    if len(job.outputs) != len(job.contents):
        raise BrushworkError(f"{len(job.contents)} content image(s) but {len(job.outputs)} output(s); "
                             "give one output per content image")
    resolved = [Path(o).resolve() for o in job.outputs]
    if len(set(resolved)) != len(resolved):
        raise BrushworkError("two content images would be written to the same output")
    each = [_image_job(job, c, o) for c, o in zip(job.contents, job.outputs)]
    paths = [image.check_paths(j) for j in each]
    pooled = job.pooled and len(each) > 1
    if not pooled and len(each) > 1:
        for j, p in zip(each, paths):   # a damaged member fails the set before any is painted
            check_cancel(cancel)
            image.read_content(j, p, smooth=False)
    stylizer = job.stylizer()
    content = None
    if pooled:   # reading every member for the statistics checks each before any is painted
        pictures = (image.read_content(j, p)[0] for j, p in zip(each, paths))  # one in memory at a time
        content = stylizer.pooled_content(pictures, job.settings, part(progress, 0.0, 0.2), cancel)
    start = 0.2 if content is not None else 0.0
    results = []
    try:
        for i, j in enumerate(each):
            check_cancel(cancel)
            span = (1 - start) / len(each)
            results.append(image.run(j, part(progress, start + i * span, start + (i + 1) * span,
                                             f"image {i + 1}/{len(each)}"), cancel, stylizer, content))
    except BrushworkError as e:
        raise BrushworkError(f"{e}; {_take_back(results)}", e.setting) from None
    except BaseException:   # cancelled, interrupted: the caller says nothing was written
        # An interrupt can land just after the image it stopped in was put in place, before
        # its result came back: a file there now, absent when checked and written since the
        # set began, is that image's.
        out = Path(j.output)
        if not j.overwrite and out.is_file() and not out.is_symlink() and out.stat().st_mtime >= began:
            results.append(image.Result(j.output, 0, 0, 0.0, [], ""))
        left = _take_back(results)
        if not left.startswith("nothing"):
            warn(left)
        raise
    if progress:
        progress(1.0, "done")
    return ImageSetResult([r.output for r in results], time.perf_counter() - t0, content is not None,
                          stylizer.untrained, [r.wrap for r in results], stylizer.backend.name)
