"""The ONNX Runtime backend: the same `run(net, x, wrap)` as the torch one, without torch.

It is what the extension runs with nothing installed (onnxruntime ships inside it).
Trained parts run from the shipped graphs in `models/` (sha256-checked like the
weights); untrained ones (random stand-ins, for tests) from a graph built in memory with
the weights embedded, from the same writer (core/backends/onnx/graph.py).
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...backends.base import Backend
from ...backends.onnx import models as onnx_models
from ...backends.onnx.graph import cast_model_bytes, model_bytes
from ...errors import BrushworkError, SettingError, warn
from ...mem import allocator
from ...mem.buffers import as_float32
from ...nets import weights
from ...nets.architecture import Net

try:
    import onnxruntime as ort
except ImportError:  # reported when the backend is asked for
    ort = None
else:
    ort.disable_telemetry_events()  # an add-on does not phone home on the artist's behalf

# Accelerated providers an "auto" device may use, best first, where the installed
# onnxruntime has them (CoreML ships in the macOS wheel; DirectML and CUDA in other packages).
GPU_PROVIDERS = ("CUDAExecutionProvider", "CoreMLExecutionProvider", "DmlExecutionProvider")
_PROVIDER_OPTIONS = {"CoreMLExecutionProvider": {"ModelFormat": "MLProgram", "MLComputeUnits": "ALL"}}


def providers(device: str) -> list[str]:
    """Execution providers for a device preference (auto | cpu | cuda)."""
    if ort is None:
        raise BrushworkError(f"the onnx backend needs onnxruntime, which is not installed for {sys.executable}")
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise SettingError("device", "cuda", "this onnxruntime has no CUDA provider "
                               "(use the torch backend with a CUDA build of PyTorch)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in GPU_PROVIDERS if p in available][:1] + ["CPUExecutionProvider"]


LANES = 2  # tiles a CPU computes at once, each on its share of the cores (as the torch backend)


def _cores() -> int:
    """The cores this process may run on (onnxruntime's own default counts them so)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class OnnxBackend(Backend):
    """`run(net, x, wrap)` on onnxruntime; sessions are made lazily per (net, wrap).

    On a CPU the engine's tile loop hands tiles over with `submit(background=True)`: two
    run at once (`lanes`), each in a session with its share of the cores, as the torch
    backend does; `run` itself uses a session with all of them. Measured on a shared 2-core
    CPU, a 2K ccpl-r31 job, the same PNG bytes: 37.1 s → 29.5 s (median of 3, interleaved),
    at a higher peak (1.31 → 2.22 GB; the heap keeps two tiles' working buffers)."""
    name = "onnx"
    batch = 1

    def __init__(self, weights_: dict[str, dict[str, np.ndarray]], device: str = "auto",
                 untrained: tuple[str, ...] = ()):
        self.weights = weights_
        self.untrained = set(untrained)
        self.providers = providers(device)
        self.explicit = device != "auto"  # asked for by name: failing is better than falling back
        self.device = self.providers[0].removesuffix("ExecutionProvider").lower()
        self._sessions: dict = {}
        cores = _cores()
        self.lanes = LANES if self.providers[0] == "CPUExecutionProvider" and cores >= LANES else 1
        self._share = max(1, cores // self.lanes)
        self._workers: ThreadPoolExecutor | None = None
        # The CPU arena keeps its high-water mark unless it is shrunk after each call (a
        # whole 1K image: 2.8 GB kept, 1.8 GB shrunk). Where our process keeps freed memory
        # in its heap (core/mem/allocator.py), what a shrink frees lands in the heap's holes
        # and tiles of other shapes scatter it: a 4K job in 512-px tiles peaked at 3.2 GB
        # shrinking and 1.9 GB not, in the same time. So the arena is shrunk only where
        # freed memory goes back to the system.
        self._run_options = ort.RunOptions()
        if not allocator.keeps():
            self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._casts: dict = {}

    def cast(self, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """float16 <-> float32 by a one-node onnxruntime graph on the CPU (vectorised,
        unlike NumPy 1.x's)."""
        to_half = dtype == np.float16
        if to_half not in self._casts:
            options = ort.SessionOptions()
            options.log_severity_level = 3
            self._casts[to_half] = ort.InferenceSession(cast_model_bytes(to_half), options,
                                                        providers=["CPUExecutionProvider"])
        y = self._casts[to_half].run(["y"], {"x": x.reshape(-1)}, self._run_options)[0]
        return y.reshape(x.shape)

    def _session(self, net: Net, wrap: str, threads: int | None = None):
        """The session for (net, wrap); `threads`: intra-op threads (None: onnxruntime's
        default, every core)."""
        key = (net, wrap, threads)
        if key not in self._sessions:
            options = ort.SessionOptions()
            options.log_severity_level = 3  # keep stderr to our own lines
            options.enable_mem_pattern = False  # tiles vary in shape: no pattern to reuse
            if threads is not None:  # a lane's session: its share of the cores
                options.intra_op_num_threads = threads
            model = self._model(net, wrap)
            provs = [(p, _PROVIDER_OPTIONS.get(p, {})) for p in self.providers]
            try:
                self._sessions[key] = ort.InferenceSession(model, options, providers=provs)
            except Exception as e:  # an accelerator that cannot take the graph: the CPU can
                if self.providers[0] == "CPUExecutionProvider" or self.explicit:
                    raise
                warn(f"{self.device} could not run {net} ({e}); using the CPU")
                self.providers, self.device = ["CPUExecutionProvider"], "cpu"
                self._sessions[key] = ort.InferenceSession(model, options, providers=self.providers)
        return self._sessions[key]

    def _model(self, net: Net, wrap: str):
        """The shipped graph's path (checked), or in-memory bytes for untrained weights."""
        if net.key in self.untrained:
            part = net.part
            return model_bytes(part, wrap, {n: self.weights[net.key][n] for n in part.params()},
                               preprocess=net.preprocess)
        name = onnx_models.file_name(net, wrap)
        path = weights.MODELS_DIR / name
        expected = onnx_models.SHA256.get(name)
        if expected is None or not path.is_file():
            raise BrushworkError(f"{path}: ONNX graph missing; produce it with `{onnx_models.COMMAND}`")
        actual = weights.sha256_of(path)
        if actual != expected:
            raise BrushworkError(f"{path}: sha256 {actual[:12]}… does not match the registry "
                                 f"({expected[:12]}…); re-create it with `{onnx_models.COMMAND}`")
        return str(path)

    def run(self, net: Net, x: np.ndarray, wrap: str = "none", affine=None, host=None,
            threads: int | None = None) -> np.ndarray:
        """(H, W, C) or (N, H, W, C) float32 in → same rank out. `affine` = (Mᵀ, v): the
        input's channels are mapped f ↦ f Mᵀ + v first (the engine's transform; the
        graphs have fixed weights, so here it is a matrix product on the host)."""
        if affine is not None:
            x = x @ affine[0] + affine[1]
        x = as_float32(x)
        batched = x.ndim == 4
        y = self._session(net, wrap, threads).run(["y"], {"x": x if batched else x[None]}, self._run_options)[0]
        return y if batched else y[0]

    def submit(self, net: Net, x, wrap: str = "none", affine=None, host=None, background: bool = False):
        """`run` now, or with `background` on a CPU, on one of the `lanes` (the session
        made here first, so that the lanes do not race to make it)."""
        if not background or self.lanes == 1:
            return super().submit(net, x, wrap, affine, host)
        self._session(net, wrap, self._share)
        if self._workers is None:
            self._workers = ThreadPoolExecutor(self.lanes, thread_name_prefix="brushwork-tile")
        job = self._workers.submit(self.run, net, x, wrap, affine, host, self._share)
        return job.result
