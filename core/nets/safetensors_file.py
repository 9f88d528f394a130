"""Reading safetensors files with numpy alone (the format is a JSON header + raw arrays).

The extension runs inside Blender's Python, which has numpy but not the `safetensors`
package; the format is simple enough not to need it. `layout` also gives each tensor's
byte range in the file, which the ONNX graphs use to point at the weights in place
instead of carrying a second copy (see core/backends/onnx/graph.py).
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BrushworkError

DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "F64": np.dtype("<f8"),
          "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "U8": np.dtype("u1")}


@dataclass(frozen=True)
class Tensor:
    dtype: str           # safetensors' name: "F32", "F16", …
    shape: tuple
    offset: int          # absolute byte offset in the file
    length: int


def _header(path: Path) -> tuple[int, dict]:
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise BrushworkError(f"{path}: not a safetensors file (too short)")
        (n,) = struct.unpack("<Q", head)
        try:
            header = json.loads(f.read(n))
        except (ValueError, UnicodeDecodeError):
            raise BrushworkError(f"{path}: not a safetensors file (bad header)") from None
    return n, header


def metadata(path: Path) -> dict[str, str]:
    """The header's free-form string metadata (provenance: stage, step, command …)."""
    return dict(_header(path)[1].get("__metadata__") or {})


def layout(path: Path) -> dict[str, Tensor]:
    """Name → dtype, shape and absolute byte range, from the header alone."""
    n, header = _header(path)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = Tensor(info["dtype"], tuple(info["shape"]), 8 + n + a, b - a)
    return out


def read(path: Path) -> dict[str, np.ndarray]:
    """Every tensor in the file, in its stored dtype."""
    data = Path(path).read_bytes()
    out = {}
    for name, t in layout(path).items():
        if t.dtype not in DTYPES:
            raise BrushworkError(f"{path}: tensor {name} has unsupported dtype {t.dtype}")
        arr = np.frombuffer(data, DTYPES[t.dtype], t.length // DTYPES[t.dtype].itemsize, t.offset)
        out[name] = arr.reshape(t.shape).copy()
    return out
