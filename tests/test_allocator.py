"""The process-wide allocator setting (core/mem/allocator.py): freed memory is reused without
the kernel faulting it in again, and idle holes are handed back past a limit.

Each check runs in a child interpreter: the setting lasts for the process's life."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")


def _child(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


REUSE = """
import ctypes, resource
from core.mem import allocator
kept = allocator.keep_freed_memory() if {keep} else False
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
n = 100 << 20
def touched_block():
    p = libc.malloc(n)
    ctypes.memset(p, 1, n)
    return p
libc.free(touched_block())
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
touched_block()  # the same size again
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_freed_memory_is_reused_without_page_faults():
    """A 100 MB block freed and taken again: by default glibc unmaps it and the kernel
    faults every page in afresh (25,600 of them); kept, it comes back from the heap."""
    kept, faults = _child(REUSE.format(keep=True)).split()
    assert kept == "True" and int(faults) < 1000
    kept, faults = _child(REUSE.format(keep=False)).split()
    assert kept == "False" and int(faults) > 20000  # what the setting saves


def test_tidy_hands_back_holes_larger_than_what_is_in_use():
    out = _child("""
import numpy as np
from core.mem import allocator
assert allocator.keep_freed_memory() and allocator.keeps()
allocator._SLACK = 64 << 20
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20
blocks = [np.ones(50 << 17) for _ in range(6)]  # 6 × 50 MB, touched
allocator.tidy()
full = rss()
del blocks[:4]  # 200 MB of holes under the 100 MB still in use
held = rss()
allocator.tidy()
print(full, held, rss())
""")
    full, held, tidied = map(int, out.split())
    assert held > full - 50  # freed, yet still resident: kept for reuse
    assert tidied < held - 150  # tidy gave the holes back
