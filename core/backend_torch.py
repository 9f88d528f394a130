"""The PyTorch backend: runs named network parts on numpy arrays (CPU or CUDA).

The orchestration (tiles, statistics, blending) speaks numpy so that it does not need
torch; this class is the only place a tile becomes a tensor. Networks are built lazily,
once per (part, wrap mode), and kept.
"""
from __future__ import annotations

import numpy as np
import torch

from . import nets
from .architecture import ENCODERS, MODELS
from .errors import BrushworkError


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BrushworkError("--device cuda: no CUDA device is available to PyTorch here")
    return torch.device(name)


class TorchBackend:
    """`run(net, x, wrap)`: net is "encoder_r31|r41" or "<model key>.<part>".

    Arrays are channels-last, (H, W, C) or (N, H, W, C), like images and like torch's
    channels_last layout: crossing between numpy and torch is then a view, not a copy."""
    name = "torch"

    def __init__(self, weights: dict[str, dict[str, np.ndarray]], device: str = "auto"):
        self.weights = weights
        self.device = pick_device(device)
        self.batch = 4 if self.device.type == "cuda" else 1  # tiles per call
        self._nets: dict = {}

    def _net(self, net: str, wrap: str):
        key = (net, wrap)
        if key not in self._nets:
            if net.startswith("encoder_"):
                module = nets.encoder(ENCODERS[net.split("_", 1)[1]], self.weights["vgg19"], wrap)
            else:
                model, part = net.split(".")
                module = nets.build(MODELS[model].parts[part], self.weights[model], wrap)
            self._nets[key] = module.to(self.device, memory_format=torch.channels_last)
        return self._nets[key]

    @torch.inference_mode()
    def run(self, net: str, x: np.ndarray, wrap: str = "none") -> np.ndarray:
        """(H, W, C) or (N, H, W, C) float32 in → same rank out."""
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
        batched = t.dim() == 4
        t = (t if batched else t[None]).permute(0, 3, 1, 2)  # NCHW view, channels_last strides
        y = self._net(net, wrap)(t).permute(0, 2, 3, 1)
        y = y if batched else y[0]
        return y.float().contiguous().cpu().numpy()
