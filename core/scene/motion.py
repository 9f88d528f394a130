"""Motion between frames from the renderer's Vector and Z passes: warp, occlusion, blend, flicker.

Blender's Vector pass (measured with Cycles, locked by a test that renders a moving
cube): at the current frame R,G = previous − current and B,A = current − next position,
in pixels, Blender image coordinates (x right, y UP). Arrays here are row-major with
rows going DOWN, so every y component changes sign on the way in. A "flow" below is an
(H, W, 2) array of (d_row, d_col): where a pixel of this frame was (backward) or will
be (forward).

A stylized frame is steadied by warping the previous *output* into the current frame and
blending it in where the two frames see the same surface: where the backward and
forward vectors agree (Sundaram et al. 2010's consistency test) and the depths agree.
Disoccluded pixels keep the current frame's own stylization, so nothing smears.
Filmed footage has no Vector pass: core/scene/flow.py estimates the same two flows (DIS optical
flow) and everything here applies unchanged.
"""
from __future__ import annotations

import numpy as np

from ..engine.resample import sample

try:  # faster where installed; the Blender extension runs the numpy path
    import cv2
except ImportError:
    cv2 = None

CONSISTENCY = (0.01, 0.5)   # |b + f|² ≤ 0.01 (|b|² + |f|²) + 0.5 px², as in Sundaram et al.
DEPTH_TOLERANCE = 0.05      # relative depth disagreement after warping that marks an occlusion


def backward_flow(vector: np.ndarray) -> np.ndarray:
    """Where each pixel was in the previous frame, from a Vector pass (H, W, 4)."""
    return np.stack([-vector[..., 1], vector[..., 0]], axis=-1).astype(np.float32)


def forward_flow(vector: np.ndarray) -> np.ndarray:
    """Where each pixel will be in the next frame, from a Vector pass (H, W, 4)."""
    return np.stack([vector[..., 3], -vector[..., 2]], axis=-1).astype(np.float32)


def to_vector(back: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """The Vector pass that encodes these two flows (the inverse of the two above)."""
    return np.stack([back[..., 1], -back[..., 0], -forward[..., 1], forward[..., 0]], axis=-1).astype(np.float32)


ORDER = {"nearest": 0, "linear": 1, "cubic": 3, "lanczos": 3}  # numpy path: Lanczos becomes bicubic


def warp(image: np.ndarray, flow: np.ndarray, interpolation: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """`image` (the other frame) sampled at each pixel's position there: (warped, inside mask).

    interpolation: nearest | linear | cubic | lanczos."""
    h, w = flow.shape[:2]
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    map_r, map_c = rows + flow[..., 0], cols + flow[..., 1]
    if cv2 is not None:
        flag = {"nearest": cv2.INTER_NEAREST, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
                "lanczos": cv2.INTER_LANCZOS4}[interpolation]
        warped = cv2.remap(np.ascontiguousarray(image, dtype=np.float32), map_c, map_r, flag,
                           borderMode=cv2.BORDER_REPLICATE)
    else:
        warped = sample(np.asarray(image, np.float32), map_r, map_c, ORDER[interpolation])
        warped = warped[..., 0] if np.ndim(image) == 2 else warped
    inside = (map_r >= 0) & (map_r <= h - 1) & (map_c >= 0) & (map_c <= w - 1)
    return warped, inside


def valid_mask(back: np.ndarray, prev_forward: np.ndarray | None = None,
               depth: np.ndarray | None = None, prev_depth: np.ndarray | None = None) -> np.ndarray:
    """Pixels of this frame that the previous frame saw too: inside it, with backward and
    forward motion consistent, and at the same depth (when those passes are given)."""
    ok = warp(np.zeros(back.shape[:2], np.float32), back)[1]
    if prev_forward is not None:
        f, _ = warp(prev_forward, back)
        gap = ((back + f) ** 2).sum(-1)
        ok &= gap <= CONSISTENCY[0] * ((back ** 2).sum(-1) + (f ** 2).sum(-1)) + CONSISTENCY[1]
    if depth is not None and prev_depth is not None:
        z, _ = warp(prev_depth, back, "nearest")  # no blending across a depth edge
        far = lambda d: ~np.isfinite(d) | (d >= 1e9)        # noqa: E731  (Cycles' empty background)
        close = np.abs(z - depth) <= DEPTH_TOLERANCE * np.abs(depth)
        ok &= np.where(far(depth) | far(z), far(depth) & far(z), close)
    return ok


def blend(current: np.ndarray, warped_prev: np.ndarray, valid: np.ndarray, weight: float) -> np.ndarray:
    """Current output pulled towards the warped previous output where valid.

    The mask is softened over a few pixels so occlusion borders do not draw a line."""
    m = _soften(valid.astype(np.float32), 1.5) * valid
    a = (weight * m)[..., None]
    return current + a * (warped_prev - current)


def _soften(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a 2-D mask (edges reflected), OpenCV's or a separable numpy one."""
    if cv2 is not None:
        return cv2.GaussianBlur(mask, (0, 0), sigma)
    r = int(np.ceil(4 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    out = np.pad(mask, r, mode="reflect")
    out = sum(k[i] * out[i:i + mask.shape[0]] for i in range(2 * r + 1))
    return sum(k[i] * out[:, i:i + mask.shape[1]] for i in range(2 * r + 1)).astype(np.float32)


def carry(alone: np.ndarray, prev_out: np.ndarray, back: np.ndarray, valid: np.ndarray,
          weight: float) -> np.ndarray:
    """This frame stylized alone, steadied by the previous *output* warped along `back`.

    The one warp-and-blend step of every sequence, whether the motion came from the
    renderer (core/jobs/frames.py) or was estimated from footage (core/scene/flow.py). Bicubic,
    since bilinear would blur a little more with every frame carried."""
    warped = warp(prev_out, back, "cubic")[0]
    return np.clip(blend(alone, warped, valid, weight), 0, 1)


def warp_error(prev: np.ndarray, current: np.ndarray, back: np.ndarray, valid: np.ndarray) -> float:
    """Flicker: mean |current − warped previous| in 0–255 units over the valid pixels."""
    warped, _ = warp(prev, back, "lanczos")
    if not valid.any():
        return 0.0
    return float(np.abs(current - warped)[valid].mean()) * 255


def affine_vectors(maps: list[np.ndarray], t: int, shape: tuple[int, int]) -> np.ndarray:
    """The exact Vector pass of frame `t` of a synthetic sequence whose frame→photo pixel
    maps (2×3, x right, y down) are `maps`: motion known by construction, for measuring."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)

    def flow_to(other: int) -> np.ndarray:
        if other < 0 or other >= len(maps):
            return np.zeros((h, w, 2), np.float32)
        full = lambda m: np.vstack([m, [0, 0, 1]])  # noqa: E731
        m = (np.linalg.inv(full(maps[other])) @ full(maps[t]))[:2]   # this frame's pixel → other frame's
        qx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
        qy = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
        return np.stack([qy - ys, qx - xs], axis=-1).astype(np.float32)

    return to_vector(flow_to(t - 1), flow_to(t + 1))
