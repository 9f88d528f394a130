"""The few array operations that differ between the host and a backend's device.

The orchestration (tiles, statistics, transforms) is written once, for NumPy arrays. A
backend that keeps feature maps on its accelerator (torch on CUDA,
`TorchBackend.resident_array`) hands the engine tensors instead, so that a map crosses
the bus neither after encoding nor before decoding. Where NumPy and torch spell an
operation differently, the engine says it here. torch is imported only once a tensor is
seen, so the engine still runs with NumPy alone.
"""
from __future__ import annotations

import numpy as np

from ..mem.buffers import FLOAT16_MAX, as_float32, store


def on_host(x) -> bool:
    return isinstance(x, np.ndarray)


def to_host(x) -> np.ndarray:
    """A NumPy array (waits for a device's work on it)."""
    return x if on_host(x) else x.detach().cpu().numpy()


def like(a: np.ndarray, x):
    """A small host array `a` as float32 of `x`'s kind and place (a mean, a matrix)."""
    a = np.asarray(a, dtype=np.float32)
    if on_host(x):
        return a
    import torch
    return torch.from_numpy(a).to(x.device)


def float32(x):
    """C-contiguous float32 (a view where it already is)."""
    return as_float32(x) if on_host(x) else x.float().contiguous()


def float64_rows(x):
    """(positions, channels) in float64: what sums over a map are taken in, so that
    tile-by-tile and band-by-band sums stay exact."""
    c = x.shape[-1]
    if on_host(x):
        return as_float32(x).reshape(-1, c).astype(np.float64)
    return x.reshape(-1, c).double()


def channel_sums(x):
    """Per-channel sums over every position, accumulated in float64 (what a mean over a
    map is taken in: band and tile sums add up exactly), without a float64 copy."""
    c = x.shape[-1]
    if on_host(x):
        return as_float32(x).reshape(-1, c).sum(0, dtype=np.float64)
    import torch
    return x.reshape(-1, c).sum(0, dtype=torch.float64)


def concat(parts: list, axis: int):
    if len(parts) == 1:
        return parts[0]
    if on_host(parts[0]):
        return np.concatenate(parts, axis)
    import torch
    return torch.cat(parts, axis)


def contiguous(x):
    return np.ascontiguousarray(x) if on_host(x) else x.contiguous()


def stack(parts: list):
    if on_host(parts[0]):
        return np.stack(parts)
    import torch
    return torch.stack(parts)


def put(dst, src) -> None:
    """dst[...] = src, whichever side each is on; into float16, clipped to its range
    (ReLU features are ≥ 0 and finite)."""
    if on_host(dst):
        store(dst, to_host(src))
        return
    import torch
    src = torch.from_numpy(np.ascontiguousarray(src)) if on_host(src) else src
    if dst.dtype == torch.float16:
        src = src.clamp(max=FLOAT16_MAX)
    dst.copy_(src, non_blocking=True)
