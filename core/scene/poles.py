"""Clean poles for equirect panoramas: the polar caps are painted in perspective views.

Near a pole an equirect row is a tiny circle stretched to the full width, so a network
that paints the equirect as a flat picture lays strokes that, seen on the sphere, pinch
into radial streaks. Here each cap is also seen through a straight-up (or straight-down)
perspective camera, where the sphere is not stretched; that view is painted with the
*same* transformation as the rest (so colours agree), projected back, and blended in
only where the stretch shows, along a smooth latitude ramp.

The geometry is a gnomonic projection and bilinear sampling, a few lines of numpy: the
panorama libraries on PyPI (py360convert) need SciPy, which would add more to the
extension than the whole engine.
"""
from __future__ import annotations

from math import pi, radians, tan
from typing import Callable

import numpy as np

from ..engine.resample import sample

CAP_FOV = 100.0          # degrees across a cap view: it reaches down to 40° of latitude
RAMP = (50.0, 65.0)      # |latitude| (degrees) where the cap view starts to take over, and has


def view_size(height: int, fov: float = CAP_FOV) -> int:
    """A cap view's side with the equirect's own angular resolution at its centre."""
    return max(32, round(2 * tan(radians(fov) / 2) * height / pi))


CHUNK = 256              # rows projected at a time: memory stays flat for 16K panoramas


def _view_rays(size: int, rows: slice, pole: int, fov: float) -> np.ndarray:
    """(rows, size, 3) unit directions of a view looking at the pole (+1 zenith, −1 nadir).

    Axes: y up, z towards longitude 0; the view's rows run along z, its columns along x."""
    t = tan(radians(fov) / 2)
    g = ((np.arange(size, dtype=np.float64) + 0.5) / size * 2 - 1) * t
    v, u = np.meshgrid(g[rows], g, indexing="ij")
    d = np.stack([u, np.full_like(u, float(pole)), v * pole], axis=-1)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def cap_view(equirect: np.ndarray, pole: int, size: int | None = None, fov: float = CAP_FOV) -> np.ndarray:
    """The polar cap as a camera pointed straight up (pole=+1) or down (−1) would see it."""
    h, w = equirect.shape[:2]
    size = size or view_size(h, fov)
    out = np.empty((size, size, equirect.shape[2]), np.float32)
    for a in range(0, size, CHUNK):
        d = _view_rays(size, slice(a, a + CHUNK), pole, fov)
        lon = np.arctan2(d[..., 0], d[..., 2])
        lat = np.arcsin(np.clip(d[..., 1], -1, 1))
        cols = (lon + pi) / (2 * pi) * w - 0.5
        rows = (pi / 2 - lat) / pi * h - 0.5
        out[a:a + CHUNK] = sample(equirect, rows, cols, 1, wrap_x=True)
    return out


def ramp(height: int, lo: float = RAMP[0], hi: float = RAMP[1]) -> np.ndarray:
    """(H,) weight of the cap views per equirect row: 0 below `lo`° of |latitude|, 1 above `hi`°."""
    lat = np.degrees(np.abs(pi / 2 - (np.arange(height) + 0.5) / height * pi))
    x = np.clip((lat - lo) / (hi - lo), 0, 1)
    return (x * x * (3 - 2 * x)).astype(np.float32)


def cap_back(view: np.ndarray, pole: int, rows: np.ndarray, width: int, height: int,
             fov: float = CAP_FOV) -> np.ndarray:
    """The view's pixels at the equirect's pixel centres of `rows` (all on the pole's side)."""
    t = tan(radians(fov) / 2)
    size = view.shape[0]
    to_px = lambda a: (a / t + 1) / 2 * size - 0.5  # noqa: E731
    lon = (np.arange(width) + 0.5) / width * 2 * pi - pi
    out = np.empty((len(rows), width, view.shape[2]), np.float32)
    for a in range(0, len(rows), CHUNK):
        lat = pi / 2 - (rows[a:a + CHUNK].astype(np.float64) + 0.5) / height * pi
        lat_, lon_ = np.meshgrid(lat, lon, indexing="ij")
        x, y, z = np.cos(lat_) * np.sin(lon_), np.sin(lat_), np.cos(lat_) * np.cos(lon_)
        u, v = x / (y * pole), z / y   # on the view plane at distance 1 (v·pole / (y·pole))
        out[a:a + CHUNK] = sample(view, to_px(v), to_px(u), 1)
    return out


def fix_poles(equirect: np.ndarray, stylized: np.ndarray,
              paint: Callable[[np.ndarray, int], np.ndarray], fov: float = CAP_FOV) -> np.ndarray:
    """`stylized` (changed in place, and returned) with its polar caps replaced by
    painted cap views of `equirect`.

    `paint(view, pole)` stylizes one view with the panorama's own transformation."""
    h, w = equirect.shape[:2]
    weight = ramp(h)
    out = stylized
    for pole, rows in ((1, np.nonzero(weight[: h // 2])[0]), (-1, h // 2 + np.nonzero(weight[h // 2:])[0])):
        if rows.size == 0:
            continue
        painted = paint(cap_view(equirect, pole, fov=fov), pole)
        for a in range(0, len(rows), CHUNK):
            part = rows[a:a + CHUNK]
            k = weight[part][:, None, None]
            out[part] = out[part] * (1 - k) + cap_back(painted, pole, part, w, h, fov) * k
    return out
