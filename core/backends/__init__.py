"""Which backend runs the networks: torch where it is installed, else onnxruntime.

`auto` asks only whether torch can be found, without importing it (importing torch
takes seconds); the torch backend is then the accelerator a user opts into by pointing
the add-on at a Python that has it.
"""
from __future__ import annotations

import contextlib
import importlib.util

from core.errors import BrushworkError

BACKENDS = ("auto", "torch", "onnx")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # torch's arithmetic (core/backends/torch/backend.py)
_preferred = ["auto"]  # what "auto" means for this process: see `preferred`


@contextlib.contextmanager
def preferred(name: str):
    """Within the block, "auto" means `name`: how the CLI's and the worker's --backend
    reach jobs (frame sequences) whose job type has no backend field of its own."""
    resolve(name)
    _preferred.append(name)
    try:
        yield
    finally:
        _preferred.pop()


def has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def resolve(name: str) -> str:
    """auto → torch or onnx; a named backend that is not installed is an error."""
    if name not in BACKENDS:
        raise BrushworkError(f"--backend {name}: choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        name = _preferred[-1]
    if name == "auto":
        name = "torch" if has("torch") else "onnx"
    package = {"torch": "torch", "onnx": "onnxruntime"}[name]
    if not has(package):
        raise BrushworkError(f"--backend {name}: {package} is not installed in this Python")
    return name


def create(name: str, weights: dict, device: str, untrained: tuple[str, ...] = (),
           precision: str = "auto"):
    """A backend object for `Stylizer`. `precision` (auto, fp32, bf16, fp16) is torch's:
    onnxruntime runs the graphs in fp32."""
    if resolve(name) == "torch":
        from core.backends.torch.backend import TorchBackend
        return TorchBackend(weights, device, precision)
    from core.backends.onnx.backend import OnnxBackend
    return OnnxBackend(weights, device, untrained)
