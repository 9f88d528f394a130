"""Keep freed memory in the process for reuse, instead of handing it back (glibc).

glibc serves every allocation over 32 MB with a fresh mapping and unmaps it when it is
freed, so each layer's activations of each tile (a 64-channel 512-px tile: 69 MB in
float32) are page-faulted and zeroed by the kernel again and again. At 4K that was
15–19 s of system time in a 38 s linear-r31 job on our 2-core CPU (docs/PERFORMANCE.md).
Served from the heap and kept there, the same pages are reused tile after tile.

Only Brushwork's own processes call this (the CLI and the worker via `python -m core`,
the benchmark): a library must not change its host's allocator, and Blender runs the
engine in a child process. Elsewhere than glibc (macOS, Windows, musl) it does nothing.
"""
from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4  # glibc's malloc.h
_SETTINGS = ((_M_MMAP_MAX, 0),                  # large blocks from the heap too
             (_M_TRIM_THRESHOLD, 2 ** 31 - 1),  # keep freed memory at the heap's top (an int)
             (_M_TOP_PAD, 256 << 20))           # grow the heap in large steps
_SLACK = 2 << 30  # idle heap memory `tidy` tolerates
_libc: list = []  # the C library, once `keep_freed_memory` has taken effect
_trimmed = [0]    # the holes, in bytes, when `tidy` last trimmed


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def keep_freed_memory() -> bool:
    """Large blocks from the heap, freed memory kept; True if the C library took it."""
    if _libc:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt, mallinfo2, trim = libc.mallopt, libc.mallinfo2, libc.malloc_trim  # glibc ≥ 2.33
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallinfo2.restype = _MallInfo2
    trim.argtypes = [ctypes.c_size_t]
    if all(mallopt(param, value) == 1 for param, value in _SETTINGS):
        _libc.append(libc)
    return bool(_libc)


def keeps() -> bool:
    """Does this process keep freed memory (`keep_freed_memory` took effect)?"""
    return bool(_libc)


def tidy() -> None:
    """Hand idle heap memory back once more of it lies in holes than is in use, over 2 GB,
    and 2 GB more than at the last trim; the engine calls this after each batch of tiles.
    Large tiles and tiles of several shapes leave holes that later blocks do not fit: a
    4K fp32 job in 1024-px tiles peaked at 4.7 GB without this and 4.0 GB with it.
    A trim gives the pages back but the holes stay free in the heap's books, hence the
    last trim as the baseline: without it, an 8K or 16K job trimmed after every batch and
    faulted its tiles in again (16K bf16: 142 s of system time in a 295 s job). No-op
    unless `keep_freed_memory` took effect."""
    if _libc:
        info = _libc[0].mallinfo2()
        holes = info.fordblks - info.keepcost  # free, but not at the top of the heap
        if holes > max(_SLACK, info.uordblks, _trimmed[0] + _SLACK):
            _libc[0].malloc_trim(0)
            _trimmed[0] = holes
