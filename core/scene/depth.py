"""Depth-aware style: fine strokes in the focus plane, coarse paint away from it.

The image is painted twice, by the two layers of one family: the relu3_1 method (finer
strokes, more structure) for what is in focus and its relu4_1 sibling (bolder, coarser
strokes) for what is away from it; the two are mixed per pixel by the distance from the
focus plane, with a smoothstep falloff: in focus keeps the detail, far away dissolves
into paint (like a painter's depth of field, not a blur). Whichever member of a family
the job names, both run. A member whose weights do not ship yet gives way to the
closed-form WCT of its layer, which needs only the shipped encoder and decoder.
`far_scale` makes the far half's strokes larger still. Distances come from the
renderer's Z pass (or any depth EXR) in scene units.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..engine.methods import METHODS
from ..errors import BrushworkError, SettingError, check_number
from ..media.image_io import read_image, read_render_passes
from ..engine.resample import resize

SIDES = ("both", "far", "near")   # which side of the focus plane dissolves
MAX_FAR_SCALE = 64
# Each family's (relu3_1, relu4_1) members: the near half and the far half.
FAMILIES = (("linear-r31", "linear-r41"), ("ccpl-r31", "ccpl"), ("wct-r31", "wct"))
FALLBACK = ("wct-r31", "wct")     # closed form: nothing to train beyond encoder and decoder
HALVES = ("near", "far")


def family(method: str) -> tuple[str, str]:
    """The (near, far) pair of the family `method` belongs to."""
    for pair in FAMILIES:
        if method in pair:
            return pair
    raise SettingError("method", method, f"depth-aware style needs one of {', '.join(sum(FAMILIES, ()))}")


def methods(method: str, allow_untrained: bool = False) -> tuple[tuple[str, str], list[str]]:
    """The methods that paint the near and the far half for a job naming `method`, and a
    warning line for each half that falls back to WCT because its member is untrained
    (with `allow_untrained` the named pair runs, on random weights where it must)."""
    pair, notes = list(family(method)), []
    for i, (name, fallback, half) in enumerate(zip(pair, FALLBACK, HALVES)):
        if not allow_untrained and not METHODS[name].trained and METHODS[fallback].trained:
            pair[i] = fallback
            notes.append(f"depth-aware: {name} is not trained yet; {fallback} paints the {half} side")
    return (pair[0], pair[1]), notes


def check_settings(focus: float | None, falloff: float | None, far_scale: float = 1.0, side: str = "both") -> None:
    """The depth settings, finite and in range (None: the default taken from the map)."""
    if focus is not None:
        check_number("focus", focus, lambda v: True, "must be a finite distance (scene units)")
    if falloff is not None:
        check_number("falloff", falloff, lambda v: v > 0, "must be above 0 (scene units)")
    check_number("far_scale", far_scale, lambda v: 0 < v <= MAX_FAR_SCALE,
                 f"must be above 0 and at most {MAX_FAR_SCALE}")
    if side not in SIDES:
        raise SettingError("depth_side", side, f"use {', '.join(SIDES)}")


def read_depth(path: str, shape: tuple[int, int]) -> np.ndarray:
    """A depth map (H, W) from a multilayer EXR's Depth pass or a one-channel image."""
    if Path(path).suffix.lower() == ".exr":
        passes = read_render_passes(path, colour=False)
        if "Depth" not in passes:
            raise BrushworkError(f"{path}: no Depth (Z) pass; enable View Layer › Passes › Data › Z "
                                 "and render again")
        depth = passes["Depth"]
    else:
        depth = read_image(path).color[..., 0]
    if depth.shape != shape:
        raise BrushworkError(f"{path}: depth is {depth.shape[1]}×{depth.shape[0]}, "
                             f"the image {shape[1]}×{shape[0]}")
    return depth.astype(np.float32)


def default_focus(depth: np.ndarray) -> float:
    """The median depth of what is not empty background (Cycles writes 1e10 there)."""
    near = depth[np.isfinite(depth) & (depth < 1e9)]
    if near.size == 0:
        raise BrushworkError("the depth map holds only background: give --focus")
    return float(np.median(near))


def weight(depth: np.ndarray, focus: float, falloff: float, side: str = "both") -> np.ndarray:
    """0 on the focus plane, rising smoothly to 1 at `falloff` scene units from it."""
    check_settings(focus, falloff, side=side)
    d = np.where(np.isfinite(depth), depth, 1e10) - focus
    if side == "far":
        d = np.maximum(d, 0)
    elif side == "near":
        d = np.minimum(d, 0)
    t = np.clip(np.abs(d) / falloff, 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def mix(fine: np.ndarray, coarse: np.ndarray, w: np.ndarray) -> np.ndarray:
    if coarse.shape != fine.shape:
        coarse = resize(coarse, fine.shape[:2])
    return fine + w[..., None] * (coarse - fine)
