"""PyTorch modules built from the tables in `architecture.py` (torch lives here only).

Padding is a module in front of each convolution, not `Conv2d.padding`, so the seamless
modes swap it: circular on a wrapped axis (tileable textures, the ±180° meridian of a
panorama), the paper's own padding elsewhere.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .architecture import CAFFE_MEAN_BGR, Part
from .tiling import WRAPS


class Pad(nn.Module):
    """Pads `n` pixels per side: `base` ("reflect" or "constant") except on wrapped axes."""

    def __init__(self, n: int, base: str, wrap: str):
        super().__init__()
        self.n, self.base = n, base
        self.wrap_x, self.wrap_y = WRAPS[wrap]

    def forward(self, x):
        n = self.n
        x = F.pad(x, (n, n, 0, 0), mode="circular" if self.wrap_x else self.base)
        return F.pad(x, (0, 0, n, n), mode="circular" if self.wrap_y else self.base)


def build(part: Part, weights: dict, wrap: str = "none") -> nn.Sequential:
    """A Sequential for one part, loaded with `weights` (numpy arrays by name)."""
    layers = []
    for layer in part.layers:
        kind = layer[0]
        if kind == "conv":
            _, name, cin, cout, k, pad = layer
            if pad is not None and k > 1:
                layers.append(Pad(k // 2, "reflect" if pad == "image" else "constant", wrap))
            conv = nn.Conv2d(cin, cout, k)
            conv.weight.data = torch.from_numpy(weights[f"{name}.weight"]).clone()
            conv.bias.data = torch.from_numpy(weights[f"{name}.bias"]).clone()
            layers.append(conv)
        elif kind == "relu":
            layers.append(nn.ReLU(inplace=True))
        elif kind == "pool":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        elif kind == "up":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
    return nn.Sequential(*layers).eval().requires_grad_(False)


def caffe_preprocess() -> nn.Conv2d:
    """RGB in [0, 1] → BGR × 255 − ImageNet mean, the input the VGG weights expect."""
    conv = nn.Conv2d(3, 3, 1)
    w = torch.zeros(3, 3, 1, 1)
    for out_c, in_c in ((0, 2), (1, 1), (2, 0)):
        w[out_c, in_c] = 255.0
    conv.weight.data = w
    conv.bias.data = -torch.tensor(CAFFE_MEAN_BGR)
    return conv.eval().requires_grad_(False)


def encoder(part: Part, weights: dict, wrap: str = "none") -> nn.Sequential:
    """VGG-19 up to the part's last ReLU, with the Caffe preprocessing in front."""
    net = build(part, weights, wrap)
    return nn.Sequential(caffe_preprocess(), *net).eval()
