"""PyTorch modules built from the tables in `architecture.py` (torch lives here only).

Padding belongs to a module around each 3×3 convolution (`PadConv`), so the seamless
modes swap it: circular on a wrapped axis (tileable textures, the ±180° meridian of a
panorama), the paper's own padding (reflection; zeros in Linear's matrix nets) elsewhere.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...nets.architecture import CAFFE_MEAN_BGR, Part
from ...nets.architecture import WRAPS


_FUSED = getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None)
_FUSED_DTYPES = (torch.float32, torch.bfloat16)
THIN = 4  # a float32 CPU convolution with at most this many outputs runs as `PadConv._thin`


def conv_relu(x, weight, bias, padding: int, relu: bool):
    """A convolution, with the ReLU after it fused in where oneDNN can (CPU): one pass over
    the output fewer. Elsewhere the plain convolution, then an in-place ReLU."""
    if (relu and _FUSED is not None and x.device.type == "cpu" and x.dtype in _FUSED_DTYPES
            and x.dtype == weight.dtype and not torch.is_autocast_enabled("cpu")):
        try:
            return _FUSED(x, weight, bias, [padding] * 2, [1, 1], [1, 1], 1, "relu", [], "")
        except RuntimeError:
            pass  # a build without this oneDNN path: the plain way below
    y = F.conv2d(x, weight, bias, padding=padding)
    return y.relu_() if relu else y


class PadConv(nn.Module):
    """A 3×3 convolution with reflection, zero or circular borders per axis.

    Padding a whole tensor first costs a full copy per layer (a quarter of the CPU
    time); instead the convolution runs with its own fused zero padding and then the
    one-pixel frame is recomputed from thin strips padded the right way. Exact.
    """

    def __init__(self, conv: nn.Conv2d, base: str, wrap: str, relu: bool = False):
        super().__init__()
        self.conv, self.relu = conv, relu
        wrap_x, wrap_y = WRAPS[wrap]
        self.mode_x = "circular" if wrap_x else base
        self.mode_y = "circular" if wrap_y else base

    def with_weights(self, weight: torch.Tensor, bias: torch.Tensor) -> "PadConv":
        """The same padded convolution (borders, fused ReLU) with other weights."""
        conv = nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2])
        conv.weight.data, conv.bias.data = weight.contiguous(), bias.contiguous()
        other = PadConv(conv.eval().requires_grad_(False), "constant", "none", self.relu)
        other.mode_x, other.mode_y = self.mode_x, self.mode_y
        return other

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
        y = self.conv(strip)
        return y.relu_() if self.relu else y

    def _thin(self, x):
        """The convolution for a few output channels (the decoder's last, to RGB), where
        oneDNN's direct kernel runs at a sixth of its rate: one 1×1 convolution gives every
        pixel's product with each of the 9 taps (a matrix product with 9·C_out columns),
        and the output is the sum of 9 shifted views of it. Inside the one-pixel frame
        only; the frame comes from `_edge` as for every convolution here."""
        w, (n, _, h, wd) = self.conv.weight.detach(), x.shape
        c = w.shape[0]
        taps = w.permute(2, 3, 0, 1).reshape(9 * c, w.shape[1], 1, 1)  # (tap row, tap col, out)
        p = F.conv2d(x, taps.contiguous(memory_format=torch.channels_last)).permute(0, 2, 3, 1)  # NHWC view
        out = torch.empty((n, h, wd, c), dtype=x.dtype, device=x.device)
        inner = out[:, 1:-1, 1:-1]
        for k in range(9):
            i, j = divmod(k, 3)
            view = p[:, i:i + h - 2, j:j + wd - 2, k * c:(k + 1) * c]
            if k == 0:
                torch.add(view, self.conv.bias.detach(), out=inner)
            else:
                inner += view
        y = out.permute(0, 3, 1, 2)  # NCHW view, channels_last strides
        return y.relu_() if self.relu else y

    def forward(self, x):
        thin = (self.conv.weight.shape[0] <= THIN and x.dtype == torch.float32 and x.device.type == "cpu"
                and min(x.shape[2:]) > 2 and x.is_contiguous(memory_format=torch.channels_last))
        if thin:
            y = self._thin(x)
        else:
            y = conv_relu(x, self.conv.weight, self.conv.bias, 1, self.relu)
            if self.mode_x == self.mode_y == "constant":
                return y
        y[:, :, :1] = self._edge(x, 2, True)
        y[:, :, -1:] = self._edge(x, 2, False)
        y[:, :, :, :1] = self._edge(x, 3, True)
        y[:, :, :, -1:] = self._edge(x, 3, False)
        return y


class UpConv(nn.Module):
    """Nearest ×2 upsampling then a padded 3×3 convolution, computed at the low resolution.

    On a nearest-upsampled map the 3×3 taps of each output pixel fall on only 2×2 distinct
    input pixels, and which 2×2 depends on the pixel's phase (even/odd row and column).
    So the pair is one 2×2 convolution with 4·C_out outputs (the 3×3 kernel's taps summed
    per phase) over the low-resolution map padded by one, then the phases interleaved:
    4 instead of 9 multiply-adds per output pixel and channel, and no upsampled copy of
    the input. Exact: reflection padding of the upsampled map is edge replication of the
    small one, circular stays circular, zeros stay zeros.
    """

    def __init__(self, conv: nn.Conv2d, base: str, wrap: str, relu: bool = False):
        super().__init__()
        self.relu = relu
        wrap_x, wrap_y = WRAPS[wrap]
        small = {"reflect": "replicate", "constant": "constant"}[base]
        self.mode_x = "circular" if wrap_x else small
        self.mode_y = "circular" if wrap_y else small
        w = conv.weight.detach()  # (C_out, C_in, 3, 3)
        # taps of phase 0 / 1 along one axis: rows (i−1, i) get (w0, w1+w2); (i, i+1) get (w0+w1, w2)
        fold = torch.tensor([[[1., 0., 0.], [0., 1., 1.]], [[1., 1., 0.], [0., 0., 1.]]])  # (phase, tap, k)
        k = torch.einsum("yak,xbl,oikl->yxoiab", fold, fold, w)  # (py, px, C_out, C_in, 2, 2)
        self.cout = w.shape[0]
        self.weight = nn.Parameter(k.reshape(4 * self.cout, w.shape[1], 2, 2).contiguous(), requires_grad=False)
        self.bias = nn.Parameter(conv.bias.detach().repeat(4), requires_grad=False)

    def _pad(self, x):
        if self.mode_x == self.mode_y:
            return F.pad(x, (1, 1, 1, 1), mode=self.mode_x)
        return F.pad(F.pad(x, (1, 1, 0, 0), mode=self.mode_x), (0, 0, 1, 1), mode=self.mode_y)

    def forward(self, x):
        n, _, h, w = x.shape
        c = self.cout
        y = conv_relu(self._pad(x), self.weight, self.bias, 0, self.relu)  # (N, 4·C_out, h+1, w+1)
        if y.is_contiguous(memory_format=torch.channels_last):
            # Phase (py, px) of output pixel (i, j) sits at y[i+py, j+px, (2py+px)·C + c]: one
            # strided view over all four phases, interleaved by a single copy.
            row, col = (w + 1) * 4 * c, 4 * c
            phases = y.as_strided((n, h, 2, w, 2, c), (y.stride(0), row, row + 2 * c, col, col + c, 1),
                                  y.storage_offset())
            out = torch.empty((n, h, 2, w, 2, c), dtype=y.dtype, device=y.device)
            out.copy_(phases)
            return out.view(n, 2 * h, 2 * w, c).permute(0, 3, 1, 2)  # NCHW view, channels_last strides
        out = y.new_empty((n, c, 2 * h, 2 * w))
        for i, (py, px) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            out[:, :, py::2, px::2] = y[:, i * c:(i + 1) * c, py:py + h, px:px + w]
        return out


def build(part: Part, weights: dict, wrap: str = "none", fuse_up: bool = True) -> nn.Sequential:
    """A Sequential for one part, loaded with `weights` (numpy arrays by name); with
    `fuse_up` (the default) each upsampling and the convolution after it run as one
    `UpConv`, and each ReLU inside the convolution before it (`fuse_up=False`: the
    layers one by one, as the table lists them)."""
    layers, pending_up = [], False
    for layer in part.layers:
        kind = layer[0]
        if kind == "relu" and isinstance(layers[-1], (PadConv, UpConv)) and fuse_up:
            layers[-1].relu = True  # fused into the convolution before it
            continue
        if pending_up and not (kind == "conv" and layer[4] == 3):
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            pending_up = False
        if kind == "conv":
            _, name, cin, cout, k, pad = layer
            conv = nn.Conv2d(cin, cout, k)
            conv.weight.data = torch.from_numpy(weights[f"{name}.weight"]).clone()
            conv.bias.data = torch.from_numpy(weights[f"{name}.bias"]).clone()
            if k == 3:
                kind_of = UpConv if pending_up else PadConv
                conv = kind_of(conv, "reflect" if pad == "image" else "constant", wrap)
            layers.append(conv)
            pending_up = False
        elif kind == "relu":
            layers.append(nn.ReLU(inplace=True))
        elif kind == "pool":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        elif kind == "up":
            if fuse_up:
                pending_up = True
            else:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
    if pending_up:
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
