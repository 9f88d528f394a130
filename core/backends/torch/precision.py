"""Low-precision copies of the networks (bf16, fp16) that keep the picture's own accuracy.

`lower` copies a float32 network built by `nets` into one whose inner layers compute in
bf16/fp16 (fp32 accumulation), for oneDNN's AMX kernels on a CPU and tensor cores on
CUDA. The layers that read or write the 3-channel picture keep float32 accuracy on split
hi/lo operands, and a decoder fed raw features has them centred in float32 before they
are rounded. What this costs in quality is measured in docs/PERFORMANCE.md.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ...backends.torch.nets import PadConv, UpConv


class Cast(nn.Module):
    """Converts the activations to `dtype` where a lowered network changes precision."""

    def __init__(self, dtype: torch.dtype):
        super().__init__()
        self.dtype = dtype

    def forward(self, x):
        return x.to(self.dtype)


class Centre(nn.Module):
    """x − c in float32, then `dtype`: a lowered decoder's input (see `lower`)."""

    def __init__(self, centre: torch.Tensor, dtype: torch.dtype):
        super().__init__()
        self.register_buffer("centre", centre.reshape(1, -1, 1, 1).float())
        self.dtype = dtype

    def forward(self, x):
        return (x - self.centre).to(self.dtype)


def _split(t: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """t ≈ hi + lo, both in `dtype`: twice the mantissa (16 bits from bf16's 8)."""
    hi = t.to(dtype)
    return hi, (t - hi.float()).to(dtype)


class SplitInput(nn.Module):
    """A float32 picture as channels [hi, lo, hi] in `dtype`, for a convolution whose
    weights are [W_hi, W_hi, W_lo]: hi·W_hi + lo·W_hi + hi·W_lo, i.e. x·W to about 16 bits
    in one low-precision convolution (its products are exact, its sums fp32)."""

    def __init__(self, dtype: torch.dtype):
        super().__init__()
        self.dtype = dtype

    def forward(self, x):
        hi, lo = _split(x.float(), self.dtype)
        return torch.cat([hi, lo, hi], 1).contiguous(memory_format=torch.channels_last)


class MergeOutput(nn.Module):
    """The picture from a convolution with weights [W_hi; W_lo] and no bias: the two
    halves summed in float32, plus the bias in float32 (then the ReLU, if any)."""

    def __init__(self, bias: torch.Tensor, relu: bool):
        super().__init__()
        self.register_buffer("bias", bias.reshape(1, -1, 1, 1).float())
        self.relu = relu

    def forward(self, y):
        c = y.shape[1] // 2
        out = y[:, :c].float() + y[:, c:].float() + self.bias
        return out.relu_() if self.relu else out


def _picture_layer(layer: nn.Module, dtype: torch.dtype) -> list[nn.Module] | None:
    """A 3×3 convolution that reads or writes the 3-channel picture, as low-precision
    layers that keep its float32 accuracy (None: leave it in float32)."""
    if not isinstance(layer, PadConv):
        return None
    w, b = layer.conv.weight.detach().float(), layer.conv.bias.detach().float()
    w_hi, w_lo = (t.float() for t in _split(w, dtype))
    if w.shape[1] == 3:  # reads the picture: the input split, the weights split
        conv = layer.with_weights(torch.cat([w_hi, w_hi, w_lo], 1), b).to(dtype)
        return [SplitInput(dtype), conv]
    if w.shape[0] == 3:  # writes it: the weights split, the halves and the bias summed in fp32
        conv = layer.with_weights(torch.cat([w_hi, w_lo], 0), torch.zeros(2 * w.shape[0])).to(dtype)
        conv.relu = False
        return [conv, MergeOutput(b, layer.relu)]
    return None


def _convolutions(module: nn.Module):
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)] + (
        [module] if isinstance(module, UpConv) else [])


def lower(net: nn.Sequential, dtype: torch.dtype, centre: torch.Tensor | None = None) -> nn.Sequential:
    """A copy of `net` computing in `dtype` (bf16, fp16), fp32 accumulation, with the
    layers that touch the 3-channel picture kept at float32 accuracy.

    Why: those layers carry the picture's own precision. Rounding the Caffe-scaled input
    (±128) to bf16 alone moves it by up to 0.5/255, and the last layer's output is the
    picture. A picture-side 3×3 convolution runs as one low-precision convolution on
    split operands (`SplitInput`, `MergeOutput`: hi/lo halves, about 16 bits): float32
    on a CPU costs it 3× the time, as oneDNN is slow with 3 channels and the casts around
    it are full passes. Other picture-side layers (the 1×1 Caffe preprocessing) stay fp32.
    `centre` (C,): the input is centred on it in float32 before it is rounded (`Centre`);
    the caller has moved the centre into the first layer's bias. Raw features are large
    against their spread, so rounding them uncentred would lose the spread; a decoder with
    the transform folded in is fed this way.
    A `Cast` sits wherever the precision changes; the output is the last layer's dtype."""
    layers, current = [], torch.float32
    if centre is not None:
        layers, current = [Centre(centre, dtype)], dtype
    for layer in copy.deepcopy(net):
        convs = _convolutions(layer)
        if not convs:
            layers.append(layer)
            continue
        picture = any(_picture_side(c) for c in convs)
        split = _picture_layer(layer, dtype) if picture else None
        if split is not None:
            if current != dtype and not isinstance(split[0], SplitInput):
                layers.append(Cast(dtype))
            layers += split
            current = torch.float32 if isinstance(split[-1], MergeOutput) else dtype
            continue
        want = torch.float32 if picture else dtype
        if want != current:
            layers.append(Cast(want))
            current = want
        layers.append(layer.to(want))
    return nn.Sequential(*layers).eval().requires_grad_(False)


def _picture_side(conv: nn.Module) -> bool:
    """Does this convolution read or write 3 channels (RGB or Caffe BGR)?"""
    c_out = conv.cout if isinstance(conv, UpConv) else conv.weight.shape[0]
    return conv.weight.shape[1] == 3 or c_out == 3
