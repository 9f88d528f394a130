"""Which backend runs the networks, and the backends themselves.

`base` declares what the engine asks of a backend; `torch/` and `onnx/` implement it and
are imported only when chosen (importing torch takes seconds). `auto` asks only whether
torch can be found, without importing it: torch is the accelerator a user opts into by
pointing the add-on at a Python that has it; onnxruntime is what the extension bundles.
"""
from __future__ import annotations

import importlib.util

from ..backends.base import BACKENDS, PRECISIONS, Backend
from ..errors import SettingError

__all__ = ["BACKENDS", "PRECISIONS", "Backend", "create", "has", "resolve"]


def has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def resolve(name: str) -> str:
    """auto → torch or onnx; a named backend that is not installed is an error."""
    if name not in BACKENDS:
        raise SettingError("backend", name, f"choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        name = "torch" if has("torch") else "onnx"
    package = {"torch": "torch", "onnx": "onnxruntime"}[name]
    if not has(package):
        raise SettingError("backend", name, f"{package} is not installed in this Python")
    return name


def create(name: str, weights: dict, device: str, untrained: tuple[str, ...] = (),
           precision: str = "auto") -> Backend:
    """A backend object for `Stylizer`. `precision` (auto, fp32, bf16, fp16) is torch's:
    onnxruntime runs the graphs in fp32."""
    if resolve(name) == "torch":
        from ..backends.torch.backend import TorchBackend
        return TorchBackend(weights, device, precision)
    from ..backends.onnx.backend import OnnxBackend
    return OnnxBackend(weights, device, untrained)
