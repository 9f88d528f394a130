"""Trainable torch modules built from the same tables as inference (`core/nets/architecture.py`).

Training needs gradients and plain reflection padding (the inference `PadConv` trick
pays off only without autograd); the maths is the same, and parameter names come from
the tables, so an exported state dict loads straight into the inference engine.
The transformation module (Linear's, which the CCPL stages train too) mirrors
`core/engine/methods.py` exactly (same centring, same normalisation of the Gram by the
number of positions).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nets.architecture import ENCODERS, MATRIX, MODELS, Part
from ..backends.torch.nets import caffe_preprocess

TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


class TableNet(nn.Module):
    """One table `Part` as a module; `named()` gives the table's parameter names."""

    def __init__(self, part: Part, weights: dict | None = None):
        super().__init__()
        self.layers = part.layers
        self.convs = nn.ModuleDict()
        for layer in part.layers:
            if layer[0] == "conv":
                _, name, cin, cout, k, _ = layer
                conv = nn.Conv2d(cin, cout, k)
                if weights is not None:
                    conv.weight.data.copy_(torch.as_tensor(weights[f"{name}.weight"]))
                    conv.bias.data.copy_(torch.as_tensor(weights[f"{name}.bias"]))
                self.convs[name.replace(".", "__")] = conv

    def forward(self, x, taps: dict | None = None):
        """With `taps`, also records the output of each conv's ReLU by the VGG name."""
        name = None
        for layer in self.layers:
            kind = layer[0]
            if kind == "conv":
                _, name, _, _, k, pad = layer
                if k == 3:
                    x = F.pad(x, (1, 1, 1, 1), mode="reflect" if pad == "image" else "constant")
                x = self.convs[name.replace(".", "__")](x)
            elif kind == "relu":
                x = F.relu(x)
                if taps is not None:
                    taps["relu" + name[4:]] = x
            elif kind == "pool":
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            elif kind == "up":
                x = F.interpolate(x, scale_factor=2, mode="nearest")
        return x

    def named(self, prefix: str = "") -> dict[str, torch.Tensor]:
        return {f"{prefix}{k.replace('__', '.')}.{p}": v
                for k, conv in self.convs.items() for p, v in conv.named_parameters()}


class Encoder(nn.Module):
    """Frozen VGG-19 to relu4_1 with the Caffe preprocessing; returns the tapped ReLUs."""

    def __init__(self, vgg: dict, last: str = "relu4_1"):
        super().__init__()
        self.pre = caffe_preprocess()
        self.net = TableNet(ENCODERS["r41" if last == "relu4_1" else "r31"], vgg)
        self.requires_grad_(False).eval()

    def forward(self, rgb) -> dict[str, torch.Tensor]:
        taps: dict = {}
        self.net(self.pre(rgb), taps)
        return {k: taps[k] for k in TAPS if k in taps}


def decoder(key: str, weights: dict | None = None) -> TableNet:
    return TableNet(MODELS[key].parts["decoder"], weights)


def _dense(model, name: str, weights: dict | None) -> nn.Linear:
    o, i = MODELS[model].dense[name]
    lin = nn.Linear(i, o)
    if weights is not None:
        lin.weight.data.copy_(torch.as_tensor(weights[f"{name}.weight"]))
        lin.bias.data.copy_(torch.as_tensor(weights[f"{name}.bias"]))
    return lin


def _gram(x) -> torch.Tensor:
    """(B, C, H, W) → (B, C, C) / positions."""
    f = x.flatten(2)
    return f @ f.transpose(1, 2) / f.shape[2]


class LinearTransform(nn.Module):
    """Li et al.'s learned 32×32 transformation (MulLayer), as `methods.Transform` runs it."""

    def __init__(self, key: str, weights: dict | None = None):
        super().__init__()
        parts = MODELS[key].parts
        self.key = key
        self.cnet = TableNet(parts["cnet"], weights)
        self.snet = TableNet(parts["snet"], weights)
        self.cfc = _dense(key, "cnet.fc", weights)
        self.sfc = _dense(key, "snet.fc", weights)
        self.compress = _dense(key, "compress", weights)
        self.unzip = _dense(key, "unzip", weights)

    def forward(self, cf, sf):
        b, c, h, w = cf.shape
        cmean, smean = cf.mean((2, 3), keepdim=True), sf.mean((2, 3), keepdim=True)
        cc, sc = cf - cmean, sf - smean
        cmat = self.cfc(_gram(self.cnet(cc)).flatten(1)).view(b, MATRIX, MATRIX)
        smat = self.sfc(_gram(self.snet(sc)).flatten(1)).view(b, MATRIX, MATRIX)
        comp = torch.einsum("oc,bchw->bohw", self.compress.weight, cc) + self.compress.bias.view(1, -1, 1, 1)
        t = torch.einsum("bij,bjhw->bihw", smat @ cmat, comp)
        out = torch.einsum("oc,bchw->bohw", self.unzip.weight, t) + self.unzip.bias.view(1, -1, 1, 1)
        return out + smean

    def named(self) -> dict[str, torch.Tensor]:
        out = {**self.cnet.named(), **self.snet.named()}
        for name, lin in (("cnet.fc", self.cfc), ("snet.fc", self.sfc),
                          ("compress", self.compress), ("unzip", self.unzip)):
            out[f"{name}.weight"], out[f"{name}.bias"] = lin.weight, lin.bias
        return out
