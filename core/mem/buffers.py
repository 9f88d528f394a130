"""Image-sized float buffers that do not have to fit in memory.

Beyond a size limit a buffer is a memory-mapped *anonymous* temp file: the file has no
name left on disk (Linux, macOS) or is deleted when its last handle closes (Windows), so
it lives exactly as long as the array does. A memory-mapped result can therefore be
returned to the caller and written out band by band, and nothing is left behind however
a job ends, even when the process is killed. `release` hands a buffer's resident pages
back to the file every few hundred MB that a tile loop touches, so resident memory stays
bounded whatever the image size (the data stays in the file and the page cache).
"""
from __future__ import annotations

import contextlib
import mmap
import tempfile

import numpy as np

IN_MEMORY_BYTES = 512 << 20
FLOAT16_MAX = float(np.finfo(np.float16).max)


def buffer(shape: tuple, name: str = "buffer", dtype=np.float32, mapped_dtype=None) -> np.ndarray:
    """A zeroed array, in memory up to the size limit. Beyond it, stored as `mapped_dtype`
    where one is given (features: float16, so that a 16K image's map, 17 GB in float32,
    stays in the page cache instead of going to disk): in memory if that fits the limit
    (a 4K relu3_1 map: 0.5 GB; memory-mapped it cost 16 % of a bf16 job in page faults),
    else memory-mapped on an anonymous temp file."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes <= IN_MEMORY_BYTES:
        return np.zeros(shape, dtype=dtype)
    dtype = np.dtype(mapped_dtype or dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes <= IN_MEMORY_BYTES:  # fits in memory in the smaller type (a 4K relu3_1 map)
        return np.zeros(shape, dtype=dtype)
    with tempfile.TemporaryFile(prefix=f"brushwork-{name}-") as f:
        f.truncate(nbytes)  # sparse zeros: no disk written until a tile lands
        return np.memmap(f, dtype=dtype, mode="r+", shape=shape)  # the map keeps the file


def is_mapped(arr: np.ndarray) -> bool:
    return isinstance(getattr(arr, "_mmap", None), mmap.mmap)


RELEASE_BYTES = 256 << 20  # what a tile loop may touch in a mapped buffer between releases


def release(arr: np.ndarray, touched: int | None = None) -> None:
    """Drop a memory-mapped buffer's resident pages (kept in the file); no-op in memory.

    `touched`: bytes the caller read or wrote in it since its last call. Pages are then
    dropped only once RELEASE_BYTES have gathered: dropped after every 512-px tile, the
    next tile faulted its halo and the whole band back in (an 8K bf16 job: 687,000 page
    faults and 55 s, against 322,000 and 53 s now)."""
    if not is_mapped(arr) or not hasattr(mmap, "MADV_DONTNEED"):  # Windows trims by itself
        return
    if touched is not None:
        arr._touched = getattr(arr, "_touched", 0) + touched
        if arr._touched < RELEASE_BYTES:
            return
    arr._touched = 0
    arr._mmap.madvise(mmap.MADV_DONTNEED)


def bands(n: int, row_bytes: int, target: int = 32 << 20):
    """Row ranges [a, b) of an n-row array whose bands hold about `target` bytes each:
    how image-sized arrays are converted without image-sized temporaries."""
    step = max(1, target // max(1, row_bytes))
    for a in range(0, n, step):
        yield a, min(n, a + step)


# float16 <-> float32. NumPy 1.x (which Blender's bpy pins) converts float16 with scalar
# code: a 4K relu3_1 map (268 M values) took about 3 s each way here, a third of a bf16
# job. Each backend offers its runtime's vectorised conversion (`Backend.cast`: torch's,
# or an onnxruntime Cast), 7–10× faster and bit-identical; the engine lends it to this
# module while a job runs (`fast_cast`); NumPy's is the fallback.
_fast_cast = [None]  # fn(array, numpy dtype) -> array: float16 <-> float32


@contextlib.contextmanager
def fast_cast(fn):
    """Within the block, float16 <-> float32 conversions use `fn(x, dtype)`."""
    _fast_cast.append(fn)
    try:
        yield
    finally:
        _fast_cast.pop()


def _cast(x: np.ndarray, dtype) -> np.ndarray:
    fn = _fast_cast[-1]
    return fn(np.ascontiguousarray(x), np.dtype(dtype)) if fn is not None else x.astype(dtype)


def as_float32(x: np.ndarray) -> np.ndarray:
    """A C-contiguous float32 copy (or view, when it already is one) of `x`."""
    if x.dtype == np.float32:
        return np.ascontiguousarray(x)
    return _cast(x, np.float32) if x.dtype == np.float16 else x.astype(np.float32)


def store(dst: np.ndarray, src: np.ndarray) -> None:
    """dst[...] = src; into float16, values beyond its range are clipped to it (ReLU
    features are ≥ 0 and stay finite)."""
    if dst.dtype == np.float16 and src.dtype == np.float32:
        dst[...] = _cast(np.minimum(src, FLOAT16_MAX), np.float16)
    elif dst.dtype == np.float16:
        dst[...] = np.minimum(src, FLOAT16_MAX)
    else:
        dst[...] = src
