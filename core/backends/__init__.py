"""Which backend runs the networks, and the backends themselves.

`base` declares what the engine asks of a backend; `torch/` and `onnx/` implement it and
are imported only when chosen (importing torch takes seconds). `auto` asks only whether
torch can be found, without importing it: torch is the accelerator a user opts into by
pointing the add-on at a Python that has it; onnxruntime is what the extension bundles.
"""
from __future__ import annotations

import importlib
import importlib.util
import threading

from ..backends.base import BACKENDS, PRECISIONS, Backend
from ..errors import SettingError

__all__ = ["BACKENDS", "PRECISIONS", "Backend", "create", "has", "preload", "resolve"]


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


def preload(name: str) -> None:
    """Import the backend's runtime on a thread of its own, now, so that a job reading and
    smoothing its picture meanwhile (NumPy and OpenCV let go of the GIL) does not wait for
    it afterwards: importing torch is about a second on one core. Errors are left for
    `create` to raise, where the job expects them."""
    try:
        name = resolve(name)
    except SettingError:
        return
    module = {"torch": ".torch.backend", "onnx": ".onnx.backend"}[name]

    def load():
        try:
            importlib.import_module(module, __name__)
        except Exception:  # noqa: BLE001 -- raised again, with its message, by `create`
            pass
    threading.Thread(target=load, name="brushwork-preload", daemon=True).start()
