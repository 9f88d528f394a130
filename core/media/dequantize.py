"""Smooth gradients back out of 8-bit steps before stylizing.

An 8-bit file stores a slow gradient (a sky, a soft studio backdrop, shading on a
render) as plateaus one code apart. The eye does not see a one-code step, but the
methods do: their transformation whitens the content's feature statistics, and where a
region holds almost no variance the steps are most of what is left, so they come out as
bright contour rings (measured: a radial sky gradient, 12 codes over 150 px, painted
rings; the same gradient read from 16 bits, none).

Each stored code only says that the true value lay within half a code of it. Here a
pixel whose neighbours are all within one code of it (a gradient or a flat area, never
an edge or texture) takes the smooth local mean of such pixels, clipped to that
half-code interval: the result rounds back to the very file it came from, so nothing
the picture held is changed, only the staircase the file could not avoid. A lossy file
(JPEG, a movie) strays further from the truth in smooth areas, so there the interval,
and the neighbours' spread that counts as smooth, are wider (LOSSY).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..media.colour import LUMA
from ..mem.buffers import bands as row_bands

REACH = (4, 64)  # px: the smoothing's reach (the grid's cell, and its blur's sigma) at least and at
                 # most: a sixth of the distance between the picture's steps (`_reach`)
GRID = 2 << 20   # the bilateral grid's cells at most (× 4 values × 4 bytes: 32 MB); a larger picture's
                 # cells grow instead (measured: 8M cells took a 1080p frame 3.0 s, 2M 0.4 s, with
                 # the same error on test gradients)
RANGE = 3        # codes of luma per range bin of the grid: shades a few codes apart do not mix
LOSSY = 2.0      # codes: how far a lossy codec's smooth areas may stray from the truth (a JPEG's
                 # sky, 20 codes over 280 px, drew rings at 0.5 codes, fainter ones at 1 to 2, next
                 # to none at 2.5, which would flatten more of a photo's faint texture)
THREADS = min(8, os.cpu_count() or 1)  # bands smoothed at once (NumPy lets go of the GIL)
LOSSY_FILES = (".jpg", ".jpeg")


def _bands(h: int, row_bytes: int, cell: int, target: int):
    """Row ranges of about `target` bytes, each a whole number of coarse cells."""
    for a, b in row_bands(-(-h // cell), row_bytes * cell, target):
        yield a * cell, min(h, b * cell)


def _bins(levels: int) -> int:
    """Range bins of the grid: RANGE codes of luma each, one spare at either end."""
    return int(np.ceil(levels / RANGE)) + 2


def _flat(code: np.ndarray, step: float = 1.0) -> np.ndarray:
    """(H, W) bool: every 4-neighbour within `step` codes, in every channel."""
    h, w, _ = code.shape
    ok = np.ones((h, w), bool)
    dy = np.abs(code[1:] - code[:-1]).max(2) <= step + 1e-3
    dx = np.abs(code[:, 1:] - code[:, :-1]).max(2) <= step + 1e-3
    ok[1:] &= dy
    ok[:-1] &= dy
    ok[:, 1:] &= dx
    ok[:, :-1] &= dx
    return ok


def _blur(grid: np.ndarray) -> np.ndarray:
    """The binomial filter (1 4 6 4 1)/16 (a Gaussian of sigma 1) along each of the grid's
    three leading axes, edges extended."""
    k = np.array([1, 4, 6, 4, 1], np.float32) / 16
    for axis in range(3):
        n = grid.shape[axis]
        pad = [(0, 0)] * grid.ndim
        pad[axis] = (2, 2)
        g = np.pad(grid, pad, mode="edge")
        at = lambda i: g[(slice(None),) * axis + (slice(i, i + n),)]  # noqa: E731
        grid = k[0] * at(0)
        for i in range(1, 5):
            grid += k[i] * at(i)
    return grid


def _luma_bin(x: np.ndarray, levels: int) -> np.ndarray:
    """(h, w, 3) → continuous range coordinate: luma in units of RANGE codes."""
    return (x @ LUMA) * (levels / RANGE)


def _reach(out: np.ndarray, levels: int) -> float:
    """A sixth of the typical distance between one code's plateau and the next, in px.

    Smoothing much wider than the steps bends a curved gradient (measured on a radial
    one, 12 codes over 200 px: a 24-px reach left it further from the truth than the
    steps were); much narrower leaves the steps in. Counted on 4×4 block means (codec
    noise averages out) of up to 256 block rows: the share of neighbouring smooth blocks
    whose rounded luma differs is one over the spacing, in blocks."""
    k = 4
    h, w = (n // k * k for n in out.shape[:2])
    if h < 2 * k or w < 2 * k:
        return REACH[0]
    stride = max(1, (h // k) // 256)
    rows = np.arange(0, h // k, stride)
    luma = out[:h, :w].reshape(h // k, k, w // k, k, -1)[rows].mean((1, 3)) @ LUMA * levels
    q = np.rint(luma)
    moves = 0.0
    for axis in (0, 1):
        if stride > 1 and axis == 0:
            continue   # sampled rows are not neighbours; across rows, take the across-columns rate
        d = np.abs(np.diff(luma, axis=axis))
        smooth = d <= 1.0
        moves += (np.diff(q, axis=axis) != 0)[smooth].sum() / max(1, smooth.sum())
    if stride > 1:
        moves *= 2
    spacing = 1.2 * k / max(moves, 1e-6)
    return float(np.clip(spacing / 6, *REACH))


def smooth_file(rgb: np.ndarray, stored: np.dtype, path, wrap: str = "none") -> np.ndarray:
    """A picture read from `path` (stored as `stored`) in the working space: an 8-bit
    file's steps smoothed, as lossy where the file is a JPEG; any other as it is."""
    if np.dtype(stored) != np.uint8:
        return rgb
    return smooth_steps(rgb, wrap=wrap, lossy=Path(path).suffix.lower() in LOSSY_FILES)


def smooth_steps(rgb: np.ndarray, levels: int = 255, wrap: str = "none", lossy: bool = False,
                 radius: float | None = None) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1] read from an integer file with `levels` + 1 codes →
    the same with its gradients' steps smoothed, each pixel moved by less than half a
    code, or with `lossy` (JPEG, a movie) less than LOSSY codes (in place where the
    array is writable float32; returned either way).

    `wrap` ("x", "both") smooths across the edges that join (a panorama's meridian, a
    tileable texture's borders), so that they keep joining."""
    out = rgb if rgb.dtype == np.float32 and rgb.flags.writeable else rgb.astype(np.float32)
    h, w, _ = out.shape
    radius = radius or _reach(out, levels)
    cell = max(1, int(round(radius)), int(np.ceil(np.sqrt(h * w * _bins(levels) / GRID))))
    tol = LOSSY if lossy else 0.5
    if wrap == "none":
        return _smooth(out, levels, cell, tol)
    m = 2 * cell  # the grid's reach: its blur spans about two cells
    my = min(m, h) if wrap == "both" else 0
    mx = min(m, w)
    padded = _smooth(np.pad(out, ((my, my), (mx, mx), (0, 0)), mode="wrap"), levels, cell, tol)
    out[:] = padded[my:my + h, mx:mx + w]
    return out


def _smooth(out: np.ndarray, levels: int, cell: int, tol: float) -> np.ndarray:
    """In place. The local mean is a bilateral grid's (Chen et al. 2007): coarse in space
    and binned by luma, so a flat region's mean never takes in a neighbouring region of
    another shade (a sky's edge stays free of the building beside it). A neighbour of
    about the same luma and another hue can still mix in, by less than the tolerance
    (measured: a third of a code, fading within a few cells of the edge)."""
    h, w, c = out.shape
    gh, gw, nb = -(-h // cell), -(-w // cell), _bins(levels)
    grid = np.zeros((gh * gw * nb, c + 1), np.float32)
    bands = list(_bands(h, w * c * 16, cell, target=16 << 20))

    def splat(band):
        a, b = band
        lo, hi = max(a - 1, 0), min(b + 1, h)
        flat = _flat(out[lo:hi] * levels, 2 * tol)[a - lo:a - lo + (b - a)]
        ys, xs = np.nonzero(flat)
        px = out[a:b][ys, xs]
        rb = np.rint(_luma_bin(px, levels)).astype(np.int64)
        # a band's cells are one contiguous run of the grid, no other band's (bands are
        # whole cells): each counts into its own run, so bands run side by side
        first, last = (a // cell) * gw * nb, (-(-b // cell)) * gw * nb
        idx = (((ys + a) // cell) * gw + xs // cell) * nb + rb - first
        run = grid[first:last]
        for ch in range(c):
            run[:, ch] += np.bincount(idx, px[:, ch], minlength=len(run))
        run[:, c] += np.bincount(idx, minlength=len(run))
        return flat

    with ThreadPoolExecutor(min(len(bands), THREADS)) as pool:
        masks = list(pool.map(splat, bands))
    # blurred, then padded by one cell (edges repeated) so that every corner of the
    # trilinear lookup is an index plus a constant
    grid = np.pad(_blur(grid.reshape(gh, gw, nb, c + 1)),
                  ((0, 1), (0, 1), (0, 1), (0, 0)), mode="edge")
    sy, sx = (gw + 1) * (nb + 1), nb + 1
    tables = [np.ascontiguousarray(grid[..., k].reshape(-1)) for k in range(c + 1)]
    corners = [(dy * sy + dx * sx + dr, dy, dx, dr) for dy in (0, 1) for dx in (0, 1) for dr in (0, 1)]
    half = np.float32((tol - 0.001) / levels)

    def lookup(band, flat):
        a, b = band
        ys, xs = np.nonzero(flat)
        if not len(ys):
            return
        x = out[a:b]
        px = x[ys, xs]
        pos = [np.clip((ys + a + 0.5) / cell - 0.5, 0, gh - 1).astype(np.float32),
               np.clip((xs + 0.5) / cell - 0.5, 0, gw - 1).astype(np.float32),
               np.clip(_luma_bin(px, levels), 0, nb - 1)]
        base = [np.floor(p).astype(np.int32) for p in pos]
        frac = [p - q for p, q in zip(pos, base)]
        index = base[0] * sy + base[1] * sx + base[2]
        acc = np.zeros((c + 1, len(ys)), np.float32)
        for off, dy, dx, dr in corners:
            wt = ((frac[0] if dy else 1 - frac[0]) * (frac[1] if dx else 1 - frac[1])
                  * (frac[2] if dr else 1 - frac[2]))
            at = index + off
            for k, table in enumerate(tables):   # 1-D gathers: ten times a 2-D one's speed
                acc[k] += wt * table.take(at)
        ok = acc[c] > 1e-3
        est = (acc[:c] / np.maximum(acc[c], 1e-9)).T
        smooth = np.clip(est, px - half, px + half)
        x[ys[ok], xs[ok]] = smooth[ok]

    with ThreadPoolExecutor(min(len(bands), THREADS)) as pool:
        list(pool.map(lookup, bands, masks))
    return out
