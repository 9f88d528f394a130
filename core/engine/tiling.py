"""Tile plans with halos, wrap-aware reads and feathered writes (numpy only).

Every tile owns a *core*; it is computed from a *source* window that adds a halo at
least as wide as the network's receptive field, so the core is exactly what the whole
image would give: the padding a network applies at a tile edge cannot reach it. Cores
partition the image. On a wrapped axis the halo is read around the other side, which is
what circular padding means for the whole image; a single tile spanning a wrapped axis
needs no halo there (the network pads circularly itself).

The decode stage also *feathers*: each core is widened by a band into its neighbours and
the overlapping results are blended with complementary linear ramps (weights sum to 1),
so any approximation in a backend (reduced precision on a GPU) can never show a seam.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

import numpy as np

from ..mem import arrays


@dataclass(frozen=True)
class Span:
    """One axis of a tile: core [a, b), source [src_a, src_b) (may leave the axis when wrapped)."""
    a: int
    b: int
    src_a: int
    src_b: int
    lo: int = 0  # feather band widths (input units) reaching into the previous / next tile
    hi: int = 0


def spans(size: int, tile: int, halo: int, wrap: bool, align: int = 1, band: int = 0) -> list[Span]:
    """Split [0, size) into cores of `tile` (a multiple of `align`), each with its halo."""
    if tile <= 0 or tile >= size:
        return [Span(0, size, 0, size)]
    tile = max(align, tile // align * align)
    cuts = list(range(0, size, tile))
    if len(cuts) > 1 and size - cuts[-1] < max(tile // 2, 2 * band):
        cuts.pop()  # fold a sliver into its neighbour: feather ramps need room
    cuts.append(size)
    n = len(cuts) - 1
    if n == 1:
        return [Span(0, size, 0, size)]
    out = []
    for i in range(n):
        a, b = cuts[i], cuts[i + 1]
        lo = band if (i > 0 or wrap) else 0
        hi = band if (i < n - 1 or wrap) else 0
        src_a, src_b = a - lo - halo, b + hi + halo
        if not wrap:
            src_a, src_b = max(0, src_a), min(size, src_b)
        out.append(Span(a, b, src_a, src_b, lo, hi))
    return out


@dataclass(frozen=True)
class Window:
    y: Span
    x: Span

    @property
    def shape(self) -> tuple[int, int]:
        """Height and width of the source window."""
        return self.y.src_b - self.y.src_a, self.x.src_b - self.x.src_a

    def read(self, arr):
        """The source window of an (H, W, C) array, wrapping around where it leaves the
        array: slices joined end to end (a view where it stays inside), so that a device
        array (core/mem/arrays.py) is read without an index array crossing the bus."""
        h, w = arr.shape[:2]
        rows = arrays.concat([arr[s] for s in _pieces(self.y.src_a, self.y.src_b, h)], 0)
        return arrays.contiguous(arrays.concat([rows[:, s] for s in _pieces(self.x.src_a, self.x.src_b, w)], 1))

    def core(self, result: np.ndarray, scale: float = 1, banded: bool = False) -> np.ndarray:
        """The core (plus feather bands if `banded`) of a network's output for this window.

        `scale` is output pixels per input pixel (a decoder's 8, an encoder's 1/8).
        """
        def cut(s: Span, n: int):
            lo, hi = (s.lo, s.hi) if banded else (0, 0)
            start = int((s.a - lo - s.src_a) * scale)
            stop = start + ceil((s.b - s.a + lo + hi) * scale)
            return slice(start, min(stop, n))
        return result[cut(self.y, result.shape[0]), cut(self.x, result.shape[1])]

    def blend_into(self, out: np.ndarray, result: np.ndarray, scale: int) -> None:
        """Add this window's feathered result into `out` (H, W, C), wrapping as needed."""
        part = self.core(result, scale, banded=True)  # (h, w, C)
        wy = _ramp(self.y, scale, part.shape[0])
        wx = _ramp(self.x, scale, part.shape[1])
        weighted = part * (wy[:, None, None] * wx[None, :, None])
        y0, x0 = (self.y.a - self.y.lo) * scale, (self.x.a - self.x.lo) * scale
        ys = _take(y0, y0 + part.shape[0], out.shape[0])
        xs = _take(x0, x0 + part.shape[1], out.shape[1])
        if isinstance(ys, slice) and isinstance(xs, slice):
            out[ys, xs] += weighted
        else:
            out[np.ix_(_as_indices(ys), _as_indices(xs))] += weighted


def windows(shape: tuple[int, int], tile: int, halo: int, wrap: tuple[bool, bool],
            align: int = 1, band: int = 0) -> list[Window]:
    """Row-major tile windows over an (H, W) grid; `wrap` is (wrap_x, wrap_y)."""
    h, w = shape
    return [Window(sy, sx)
            for sy in spans(h, tile, halo, wrap[1], align, band)
            for sx in spans(w, tile, halo, wrap[0], align, band)]


def _indices(a: int, b: int, n: int) -> np.ndarray:
    return np.arange(a, b) % n


def _pieces(a: int, b: int, n: int) -> list[slice]:
    """[a, b) on an axis of n that wraps, as slices inside [0, n), in order."""
    out = []
    while a < b:
        start = a % n
        stop = min(n, start + b - a)
        out.append(slice(start, stop))
        a += stop - start
    return out


def _take(a: int, b: int, n: int):
    """A slice when [a, b) lies inside the axis (a view, no gather); indices when it wraps."""
    return slice(a, b) if 0 <= a and b <= n else _indices(a, b, n)


def _as_indices(t) -> np.ndarray:
    return np.arange(t.start, t.stop) if isinstance(t, slice) else t


def _ramp(s: Span, scale: int, n: int) -> np.ndarray:
    """Weights along one axis: linear over 2·band around each shared edge, 1 elsewhere."""
    lo, hi = s.lo * scale, s.hi * scale
    pos = np.arange(n, dtype=np.float32) + 0.5
    w = np.ones(n, dtype=np.float32)
    if lo:
        w = np.minimum(w, np.clip(pos / (2 * lo), 0, 1))
    if hi:
        w = np.minimum(w, np.clip((n - pos) / (2 * hi), 0, 1))
    return w
