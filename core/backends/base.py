"""What the engine asks of a backend, declared once.

A backend runs one network (`Net`) on channels-last arrays. The engine needs four
things of it and nothing else: `run`, `submit` (queue now, collect later), `batch` (tiles
per call) and `resident_array` (keep maps on an accelerator). The defaults here are a
host backend's: one tile at a time, work done at once, maps in host memory. `cast` is
the backend's float16 <-> float32 conversion, which the engine uses while a job runs.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..nets.architecture import Net

BACKENDS = ("auto", "torch", "onnx")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # torch's arithmetic (core/backends/torch/backend.py)


class Backend:
    """The seam between the engine (numpy, tiles, statistics) and a runtime."""
    name = ""
    batch = 1  # tiles per call: a CPU is filled by one, a GPU is fed several
    lanes = 1  # batches computed at once (`submit(background=True)`); the engine keeps one more queued
    precision = "fp32"  # the arithmetic the networks run in (PRECISIONS, resolved)

    def run(self, net: Net, x, wrap: str = "none", affine=None, host: bool | None = None):
        """(H, W, C) or (N, H, W, C) float32 in → same rank out. `affine` = (Mᵀ, v): the
        input's channels are mapped f ↦ f Mᵀ + v first (the engine's transform)."""
        raise NotImplementedError

    def submit(self, net: Net, x, wrap: str = "none", affine=None,
               host: bool | None = None, background: bool = False) -> Callable[[], np.ndarray]:
        """Queue `run` and return a function that returns its result. `background`: the
        caller keeps more batches queued and may be answered from another thread. Here:
        run now."""
        y = self.run(net, x, wrap, affine, host)
        return lambda: y

    def resident_array(self, shape: tuple, half: bool):
        """A zeroed array on the backend's device for a map or an image, or None: the
        engine then uses host memory (always, for a host backend)."""
        return None

    def cast(self, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """float16 <-> float32 (the runtimes' vectorised conversions beat NumPy 1.x's)."""
        return x.astype(dtype)
