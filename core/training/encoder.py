"""The relu4_1 encoder, built from the published relu3_1 one without training.

The published encoder (Li et al. 2019) is our VGG-19 to relu3_1 with each filter divided
by its mean activation (a "normalised" VGG, as Gatys et al. use). Continuing it to
relu4_1 takes our VGG-19's conv3_2 … conv4_1 with two exact changes: conv3_2's input
weights multiplied by relu3_1's per-channel scales (so it sees the raw features it was
trained on), and conv4_1's filters and biases divided by their mean activation over
training photos (ReLU and max-pool commute with positive scales). Its relu4_1 is then
our VGG-19's divided by one positive scale per channel, in the published encoder's units.
"""
from __future__ import annotations

import numpy as np
import torch

from ..nets.architecture import ENCODERS
from ..nets.weights import channel_scales

from . import data
from .modules import Encoder

R31_CONVS = ENCODERS["r31"].convs()
R41_CONVS = ENCODERS["r41"].convs()


def mean_activations(vgg: dict, images: list[torch.Tensor], crops: int, size: int, seed: int = 0) -> np.ndarray:
    """Per-channel mean of our VGG-19's relu4_1 over `crops` random crops (float64 sums)."""
    enc = Encoder(vgg, "relu4_1")
    g = torch.Generator().manual_seed(seed)
    total, count = None, 0
    with torch.no_grad():
        for _ in range(crops // 8):
            f = enc(data.batch(images, 8, size, g, "cpu", min_frac=0.4))["relu4_1"].double()
            s = f.sum((0, 2, 3))
            total = s if total is None else total + s
            count += f.shape[0] * f.shape[2] * f.shape[3]
    return (total / count).numpy()


def build(vgg: dict, encoder_r31: dict, mean: np.ndarray) -> dict[str, np.ndarray]:
    """encoder_r41's float32 arrays: published to relu3_1, then the rescaled VGG-19 layers.
    A channel that never fires (mean 0) keeps its scale."""
    out = {f"{n}.{p}": encoder_r31[f"{n}.{p}"].astype(np.float32) for n in R31_CONVS for p in ("weight", "bias")}
    m31 = channel_scales(vgg, encoder_r31, R31_CONVS)[R31_CONVS[-1]]
    rest = R41_CONVS[len(R31_CONVS):]
    for n in rest:
        w = vgg[f"{n}.weight"].astype(np.float64)
        b = vgg[f"{n}.bias"].astype(np.float64)
        if n == rest[0]:
            w = w * m31[None, :, None, None]
        if n == rest[-1]:
            m = np.where(mean > 0, mean, 1.0)
            w, b = w / m[:, None, None, None], b / m
        out[f"{n}.weight"], out[f"{n}.bias"] = w.astype(np.float32), b.astype(np.float32)
    return out
