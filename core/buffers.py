"""Image-sized float buffers that do not have to fit in memory.

Beyond a size limit a buffer is a memory-mapped temp file, and `release` hands its
pages back to the file after each tile, so resident memory stays at about a tile's
worth whatever the image size (the data stays in the file and the page cache).
"""
from __future__ import annotations

import mmap
import os

import numpy as np

IN_MEMORY_BYTES = 1 << 30


def buffer(shape: tuple, folder: str, name: str) -> np.ndarray:
    """A zeroed float32 array, memory-mapped in `folder` when larger than the limit."""
    if int(np.prod(shape)) * 4 <= IN_MEMORY_BYTES:
        return np.zeros(shape, dtype=np.float32)
    return np.lib.format.open_memmap(os.path.join(folder, f"{name}.npy"), mode="w+",
                                     dtype=np.float32, shape=shape)


def release(arr: np.ndarray) -> None:
    """Drop a memory-mapped buffer's resident pages (kept in the file); no-op in memory."""
    mm = getattr(arr, "_mmap", None)
    if isinstance(mm, mmap.mmap):
        mm.madvise(mmap.MADV_DONTNEED)
