"""Is this texture tileable? Decides `wrap="auto"`, so a seamless map stays seamless.

A tileable map continues across its own edges. Either the jump from the last column to
the first is like the typical jump between neighbouring columns (noise, grain), or it is
a joint (grout, a plank edge) whose jump profile along the edge repeats one found inside
the map. A photo or a cropped map jumps more there than usual, in a profile found
nowhere inside (measured: textures ≤ 0.15 of the edge jump from an inside profile,
photos ≥ 0.54). Compared per axis, on the image as it is: a blur would hide the edge.
"""
from __future__ import annotations

import numpy as np

EDGE_RATIO = 1.6   # edge jump / median interior jump; tileable noise measures ≈ 1, photos ≥ 2
JOINT_MATCH = 0.35  # distance from the edge's jump profile to the nearest inside one, relative
_SAMPLES = 1024    # rows (or columns) looked at per axis: enough for a stable median


def wraps(rgb: np.ndarray, axis: int) -> bool:
    """Does the image continue across its edges on `axis` (1 = left/right, 0 = top/bottom)?"""
    img = np.moveaxis(rgb[..., :3], axis, 1)          # the axis we wrap is now axis 1
    step = max(1, img.shape[0] // _SAMPLES)
    img = img[::step].astype(np.float32)
    steps = np.diff(img, axis=1)                                 # signed, per interior neighbour pair
    edge = img[:, 0] - img[:, -1]                                # the step across the wrap
    size = float(np.abs(edge).mean())
    if size <= EDGE_RATIO * float(np.median(np.abs(steps).mean(axis=(0, 2)))):
        return True
    nearest = np.sqrt(((steps - edge[:, None]) ** 2).sum(axis=(0, 2))).min(initial=np.inf)
    return bool(nearest <= JOINT_MATCH * np.sqrt((edge ** 2).sum()))


def resolve_wrap(wrap: str, rgb: np.ndarray) -> str:
    """A wrap setting with "auto" decided for this image."""
    return detect_wrap(rgb) if wrap == "auto" else wrap


def detect_wrap(rgb: np.ndarray) -> str:
    """'both' for a seamless texture, 'x' when only left/right join, else 'none'."""
    if min(rgb.shape[:2]) < 8:
        return "none"
    x, y = wraps(rgb, 1), wraps(rgb, 0)
    return "both" if x and y else "x" if x else "none"
