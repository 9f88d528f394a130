"""PyTorch modules built from the tables in `architecture.py` (torch lives here only).

Padding belongs to a module around each 3×3 convolution (`PadConv`), so the seamless
modes swap it: circular on a wrapped axis (tileable textures, the ±180° meridian of a
panorama), the paper's own padding (reflection; zeros in Linear's matrix nets) elsewhere.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .architecture import CAFFE_MEAN_BGR, Part
from .tiling import WRAPS


class PadConv(nn.Module):
    """A 3×3 convolution with reflection, zero or circular borders per axis.

    Padding a whole tensor first costs a full copy per layer (a quarter of the CPU
    time); instead the convolution runs with its own fused zero padding and then the
    one-pixel frame is recomputed from thin strips padded the right way. Exact.
    """

    def __init__(self, conv: nn.Conv2d, base: str, wrap: str):
        super().__init__()
        self.conv = conv
        wrap_x, wrap_y = WRAPS[wrap]
        self.mode_x = "circular" if wrap_x else base
        self.mode_y = "circular" if wrap_y else base

    @staticmethod
    def _beyond(x, dim: int, mode: str, first: bool):
        """The row/column just outside the tensor along `dim` (2 = y, 3 = x)."""
        n = x.shape[dim]
        if mode == "reflect":
            return x.narrow(dim, 1 if first else n - 2, 1)
        if mode == "circular":
            return x.narrow(dim, n - 1 if first else 0, 1)
        return torch.zeros_like(x.narrow(dim, 0, 1))

    def _edge(self, x, dim: int, first: bool):
        """The conv output along one edge, from a 3-wide strip padded along the other axis."""
        mode, other = (self.mode_y, self.mode_x) if dim == 2 else (self.mode_x, self.mode_y)
        n = x.shape[dim]
        inner = x.narrow(dim, 0 if first else n - 2, 2)
        out = self._beyond(x, dim, mode, first)
        strip = torch.cat([out, inner] if first else [inner, out], dim)
        pad = (1, 1, 0, 0) if dim == 2 else (0, 0, 1, 1)
        strip = F.pad(strip, pad, mode=other) if other != "constant" else F.pad(strip, pad)
        return self.conv(strip)

    def forward(self, x):
        y = F.conv2d(x, self.conv.weight, self.conv.bias, padding=1)
        if self.mode_x == self.mode_y == "constant":
            return y
        y[:, :, :1] = self._edge(x, 2, True)
        y[:, :, -1:] = self._edge(x, 2, False)
        y[:, :, :, :1] = self._edge(x, 3, True)
        y[:, :, :, -1:] = self._edge(x, 3, False)
        return y


def build(part: Part, weights: dict, wrap: str = "none") -> nn.Sequential:
    """A Sequential for one part, loaded with `weights` (numpy arrays by name)."""
    layers = []
    for layer in part.layers:
        kind = layer[0]
        if kind == "conv":
            _, name, cin, cout, k, pad = layer
            conv = nn.Conv2d(cin, cout, k)
            conv.weight.data = torch.from_numpy(weights[f"{name}.weight"]).clone()
            conv.bias.data = torch.from_numpy(weights[f"{name}.bias"]).clone()
            if pad is not None and k == 3:
                conv = PadConv(conv, "reflect" if pad == "image" else "constant", wrap)
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
