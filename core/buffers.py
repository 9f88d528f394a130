"""Image-sized float buffers that do not have to fit in memory.

Beyond a size limit a buffer is a memory-mapped *anonymous* temp file: the file has no
name left on disk (Linux, macOS) or is deleted when its last handle closes (Windows), so
it lives exactly as long as the array does. A memory-mapped result can therefore be
returned to the caller and written out band by band, and nothing is left behind however
a job ends, even when the process is killed. `release` hands a buffer's resident pages
back to the file after each tile, so resident memory stays at about a tile's worth
whatever the image size (the data stays in the file and the page cache).
"""
from __future__ import annotations

import mmap
import tempfile

import numpy as np

IN_MEMORY_BYTES = 512 << 20


def buffer(shape: tuple, name: str = "buffer", dtype=np.float32, mapped_dtype=None) -> np.ndarray:
    """A zeroed array, memory-mapped on an anonymous temp file when larger than the limit;
    then stored as `mapped_dtype` where one is given (features: float16, so that a 16K
    image's map, 17 GB in float32, stays in the page cache instead of going to disk)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes <= IN_MEMORY_BYTES:
        return np.zeros(shape, dtype=dtype)
    dtype = np.dtype(mapped_dtype or dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    with tempfile.TemporaryFile(prefix=f"brushwork-{name}-") as f:
        f.truncate(nbytes)  # sparse zeros: no disk written until a tile lands
        return np.memmap(f, dtype=dtype, mode="r+", shape=shape)  # the map keeps the file


def is_mapped(arr: np.ndarray) -> bool:
    return isinstance(getattr(arr, "_mmap", None), mmap.mmap)


def release(arr: np.ndarray) -> None:
    """Drop a memory-mapped buffer's resident pages (kept in the file); no-op in memory."""
    if is_mapped(arr) and hasattr(mmap, "MADV_DONTNEED"):  # not on Windows, which trims by itself
        arr._mmap.madvise(mmap.MADV_DONTNEED)


def bands(n: int, row_bytes: int, target: int = 32 << 20):
    """Row ranges [a, b) of an n-row array whose bands hold about `target` bytes each:
    how image-sized arrays are converted without image-sized temporaries."""
    step = max(1, target // max(1, row_bytes))
    for a in range(0, n, step):
        yield a, min(n, a + step)
