"""Training losses, scale-free so one set of weights works on the raw Caffe-scale VGG.

Style and content losses are the ones `../shared/EVAL.md` measures (relative to the
target's own magnitude), so the number a run minimises is the number we report. The CCP
loss is Wu et al.'s contrastive coherence loss on neighbour differences.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def moments(x):
    """Per-channel spatial mean and unbiased std of (B, C, H, W) → two (B, C)."""
    f = x.flatten(2).float()
    return f.mean(2), f.std(2, unbiased=True)


def style_loss(out: dict, style: dict, layers=STYLE_LAYERS) -> torch.Tensor:
    """Σ_layers [mean_c (Δμ)² + mean_c (Δσ)²] / [mean_c μs² + mean_c σs²], per sample → (B,)."""
    total = 0
    for k in layers:
        mo, so = moments(out[k])
        ms, ss = moments(style[k])
        num = ((mo - ms) ** 2).mean(1) + ((so - ss) ** 2).mean(1)
        den = (ms ** 2).mean(1) + (ss ** 2).mean(1)
        total = total + num / den.clamp_min(1e-8)
    return total


def content_loss(out, content) -> torch.Tensor:
    """mean((F(out) − F(content))²) / mean(F(content)²), per sample → (B,)."""
    out, content = out.float(), content.float()
    num = ((out - content) ** 2).flatten(1).mean(1)
    return num / (content ** 2).flatten(1).mean(1).clamp_min(1e-8)


def perceptual_loss(out: dict, target: dict, layers=STYLE_LAYERS) -> torch.Tensor:
    """Content loss summed over the tapped layers present in both (decoder training)."""
    return sum(content_loss(out[k], target[k]) for k in layers if k in out and k in target)


def psnr(a, b) -> torch.Tensor:
    """PSNR in dB of images in [0, 1], per sample → (B,)."""
    mse = ((a.float().clamp(0, 1) - b.float()) ** 2).flatten(1).mean(1)
    return -10 * torch.log10(mse.clamp_min(1e-10))


_NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def ccp_loss(out_feat, content_feat, mlp, samples: int = 64, tau: float = 0.07,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Contrastive coherence preserving loss (Wu et al. 2022), per sample → (B,).

    For `samples` random positions, the difference between the feature there and each of
    its 8 neighbours is a vector; the stylized difference must match the content
    difference at the same place and offset (positive) against every other sampled
    difference (negatives). `mlp` projects differences before the cosine similarity.
    """
    b, c, h, w = out_feat.shape
    dev = out_feat.device
    ys = torch.randint(1, h - 1, (samples,), generator=generator, device="cpu").to(dev)
    xs = torch.randint(1, w - 1, (samples,), generator=generator, device="cpu").to(dev)

    def diffs(f):
        centre = f[:, :, ys, xs]                                       # (B, C, S)
        rows = [centre - f[:, :, ys + dy, xs + dx] for dy, dx in _NEIGHBOURS]
        d = torch.stack(rows, 3).flatten(2).transpose(1, 2)             # (B, 8S, C)
        return F.normalize(mlp(d.float()), dim=2)

    q, k = diffs(out_feat), diffs(content_feat)
    logits = q @ k.transpose(1, 2) / tau                                # (B, 8S, 8S)
    target = torch.arange(logits.shape[1], device=dev).expand(b, -1)
    return F.cross_entropy(logits.transpose(1, 2), target, reduction="none").mean(1)


def similarity_grid(out_size: int, in_size: int, zoom: float, ty: float, tx: float,
                    batch: int, device=None) -> torch.Tensor:
    """`grid_sample` grid (align_corners=True) reading an `in_size` square at
    q = centre + zoom · (p − centre) + (ty, tx) for each pixel p of an `out_size` square,
    both centred on the same point: a sub-pixel drift and a zoom, the moves of a camera in
    a shot (and of `evaluate.motion_sequence`)."""
    p = torch.arange(out_size, dtype=torch.float32, device=device) - (out_size - 1) / 2
    c = (in_size - 1) / 2
    qy, qx = c + zoom * p + ty, c + zoom * p + tx
    gy, gx = torch.meshgrid(qy / c - 1, qx / c - 1, indexing="ij")
    return torch.stack([gx, gy], 2).expand(batch, -1, -1, -1)


def _resample(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bicubic, the one way both the photo and its painting are moved, so that the
    consistency term compares like with like."""
    return F.grid_sample(x.float(), grid, mode="bicubic", padding_mode="border", align_corners=True)


def move(x: torch.Tensor, out_size: int, zoom: float, ty: float, tx: float) -> torch.Tensor:
    """`x` (B, C, S, S) seen through `similarity_grid`, bicubic: the moved frame."""
    return _resample(x, similarity_grid(out_size, x.shape[-1], zoom, ty, tx, x.shape[0], x.device))


def move_consistency(y: torch.Tensor, zoom: float, ty: float, tx: float, margin: int = 8) -> torch.Tensor:
    """`shift_consistency` for a sub-pixel drift and zoom: the painting of the moved photo
    (second half of `y`) against the painting of the photo (first half) moved the same way,
    where both are known, away from the borders. Integer shifts alone let a decoder stay
    steady on whole-pixel moves and still shimmer on the fractional ones real shots make."""
    h, s = y.shape[0] // 2, y.shape[-1]
    grid = similarity_grid(s, s, zoom, ty, tx, h, y.device)
    moved = _resample(y[:h], grid)
    read = (grid[0] + 1) * (s - 1) / 2                      # the source pixel each one reads
    inside = ((read >= margin) & (read <= s - 1 - margin)).all(-1)
    own = torch.zeros_like(inside)
    own[margin:s - margin, margin:s - margin] = True     # and lies away from its own borders
    mask = (inside & own).float()
    d = ((moved - y[h:].float()) ** 2).mean(1) * mask
    return d.sum() / (mask.sum() * h).clamp_min(1.0)


def shift_consistency(y: torch.Tensor, dy: int, dx: int, margin: int = 8) -> torch.Tensor:
    """Mean squared difference between the pictures painted from a photo (first half of `y`)
    and from the same photo moved by (dy, dx) pixels (second half), where they overlap, away
    from the borders. Video flickers where a painting does not move with the picture: a
    decoder that draws texture on its own pixel grid rather than on the content changes when
    the content moves by less than the encoder's stride (the stability term of Gupta et al.
    2017 and Wang et al. 2020, here on a known shift)."""
    h = y.shape[0] // 2
    s_h, s_w = y.shape[2], y.shape[3]
    a = y[:h, :, dy:, dx:].float()
    b = y[h:, :, :s_h - dy, :s_w - dx].float()
    m = (slice(None), slice(None), slice(margin, -margin), slice(margin, -margin))
    return ((a[m] - b[m]) ** 2).mean()
