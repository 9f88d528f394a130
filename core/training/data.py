"""Training data: the held-out split, a small packed copy, and augmented batches.

The validation pairs (`../shared/data/VALIDATION.md`) are never trained on: they are
excluded by name and, because the data holds near-copies under other names, by pixel
content (a resized or cropped copy is found by normalised cross-correlation of small
grey thumbnails at several crop scales). The pack holds JPEG bytes (content short side
256 px, styles 288 px, plus painterly-filtered photos as extra styles) in one
safetensors file of a few tens of MB, small enough to carry to the accelerator; it is
decoded once into uint8 tensors and batches are cut from those on the device.
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import loop

THUMB = 64            # side of the grey thumbnails compared for near-copies
COPY_SCORE = 0.75     # grey and edge NCC both above this: a near-copy (unrelated photos score < 0.65)
CROP_SCALES = tuple(np.round(np.arange(1.0, 0.49, -0.05), 2))  # a copy cropped to 50 %+ is found


def validation_names(path: Path) -> dict[str, list[str]]:
    """{"content": [...], "style": [...]} from VALIDATION.md's two lists."""
    out, section = {"content": [], "style": []}, None
    for line in Path(path).read_text().splitlines():
        m = re.match(r"##\s+(content|style)\b", line)
        if m:
            section = m.group(1)
        elif section and re.fullmatch(r"[\w.\-]+\.(jpg|jpeg|png)", line.strip(), re.I):
            out[section].append(line.strip())
    return out


def _grey(path: Path, side: int) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("L")
        s = side / min(im.size)
        im = im.resize((max(side, round(im.width * s)), max(side, round(im.height * s))), Image.BILINEAR)
    return np.asarray(im, np.float32)


def _edges(g: np.ndarray) -> np.ndarray:
    return np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))


def copy_score(a: np.ndarray, b: np.ndarray) -> float:
    """How well `b`, at some scale, matches a window of `a` (or `a` of `b`).

    The lower of two normalised cross-correlations at the best-matching place: of the
    grey values and of their gradient magnitude, so a smooth patch (sky, blurred
    background) does not pass for a copy of any other smooth patch.
    """
    best = -1.0
    for big, small in ((a, b), (b, a)):
        for s in CROP_SCALES:
            f = s * min(big.shape) / min(small.shape)
            t = cv2.resize(small, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            if t.shape[0] > big.shape[0] or t.shape[1] > big.shape[1] or t.std() < 1:
                continue
            grey = cv2.matchTemplate(big, t, cv2.TM_CCOEFF_NORMED)
            edge = cv2.matchTemplate(_edges(big), _edges(t), cv2.TM_CCOEFF_NORMED)
            y, x = np.unravel_index(np.argmax(grey + edge), grey.shape)
            best = max(best, float(min(grey[y, x], edge[y, x])))
    return best


def split(data: Path, validation_md: Path) -> dict:
    """Training file lists plus what was excluded and why."""
    names = validation_names(validation_md)
    result = {"validation": names, "near_copies": [], "train": {}}
    for kind in ("content", "style"):
        files = sorted(p for p in (data / kind).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        held = [_grey(data / kind / n, THUMB) for n in names[kind]]
        keep = []
        for p in files:
            if p.name in names[kind]:
                continue
            g = _grey(p, THUMB)
            scores = [copy_score(h, g) for h in held]
            i = int(np.argmax(scores))
            if scores[i] >= COPY_SCORE:
                result["near_copies"].append({"file": f"{kind}/{p.name}",
                                              "copy_of": f"{kind}/{names[kind][i]}",
                                              "score": round(scores[i], 3)})
            else:
                keep.append(p.name)
        result["train"][kind] = keep
    return result


# --- painterly filters: photos turned into extra "styles" --------------------------------

def painterly(rgb: np.ndarray, kind: int) -> np.ndarray:
    """One of four cheap painterly looks on a uint8 RGB image."""
    if kind == 0:
        return cv2.stylization(rgb, sigma_s=60, sigma_r=0.45)
    if kind == 1:
        _, colour = cv2.pencilSketch(rgb, sigma_s=60, sigma_r=0.07, shade_factor=0.05)
        return colour
    if kind == 2:  # posterize after smoothing: flat colour areas
        smooth = cv2.bilateralFilter(rgb, 9, 60, 60)
        return ((smooth // 48) * 48 + 24).astype(np.uint8)
    h, w = rgb.shape[:2]  # mosaic with dark grout
    small = cv2.resize(rgb, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    grout = np.zeros((h, w), bool)
    grout[::8] = grout[:, ::8] = True
    big[grout] = (big[grout] * 0.3).astype(np.uint8)
    return big


def _jpeg(rgb: np.ndarray, short: int, quality: int = 85) -> bytes:
    im = Image.fromarray(rgb)
    s = short / min(im.size)
    if s < 1:
        im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def pack(data: Path, lists: dict, out: Path, *, content_side: int = 256, style_side: int = 288,
         painterly_count: int = 160, seed: int = 0) -> dict:
    """Write the training pack; returns counts and its size."""
    rng = np.random.default_rng(seed)
    blobs = {"content": [], "style": []}
    for name in lists["content"]:
        blobs["content"].append(_jpeg(_load_rgb(data / "content" / name), content_side))
    for name in lists["style"]:
        blobs["style"].append(_jpeg(_load_rgb(data / "style" / name), style_side))
    picks = rng.choice(len(lists["content"]), size=min(painterly_count, len(lists["content"])), replace=False)
    for n, i in enumerate(picks):
        blobs["style"].append(_jpeg(painterly(_load_rgb(data / "content" / lists["content"][i]), n % 4), style_side))
    tensors = {}
    for kind, items in blobs.items():
        tensors[f"{kind}_bytes"] = np.frombuffer(b"".join(items), np.uint8).copy()
        tensors[f"{kind}_ends"] = np.cumsum([len(b) for b in items]).astype(np.int64)
    meta = {"content": json.dumps(lists["content"]), "style": json.dumps(lists["style"]),
            "painterly": str(len(picks))}
    loop.write_safetensors(out, tensors, meta)
    return {"content": len(blobs["content"]), "style": len(blobs["style"]),
            "painterly": len(picks), "bytes": out.stat().st_size}


def unpack(path: Path) -> dict[str, list[torch.Tensor]]:
    """{"content": [uint8 (3, H, W)], "style": [...]} decoded from a pack."""
    from safetensors.numpy import load_file

    arrays = load_file(str(path))
    out = {}
    for kind in ("content", "style"):
        raw, ends = arrays[f"{kind}_bytes"], arrays[f"{kind}_ends"]
        starts = np.concatenate([[0], ends[:-1]])
        out[kind] = [torch.from_numpy(np.array(Image.open(io.BytesIO(raw[a:b].tobytes())).convert("RGB"))
                                      ).permute(2, 0, 1).contiguous() for a, b in zip(starts, ends)]
    return out


# --- batches ------------------------------------------------------------------------------

def _crop(img: torch.Tensor, size: int, g: torch.Generator, min_frac: float) -> torch.Tensor:
    """A random square crop covering min_frac…1 of the short side, resized to `size`."""
    _, h, w = img.shape
    short = min(h, w)
    lo = max(int(short * min_frac), min(size // 2, short))
    side = int(torch.randint(lo, short + 1, (1,), generator=g))
    y = int(torch.randint(0, h - side + 1, (1,), generator=g))
    x = int(torch.randint(0, w - side + 1, (1,), generator=g))
    return img[:, y:y + side, x:x + side]


def batch(images: list[torch.Tensor], n: int, size: int, g: torch.Generator, device,
          *, min_frac: float = 0.5, jitter: float = 0.0) -> torch.Tensor:
    """(n, 3, size, size) float in [0, 1]: random images, crops, flips, rotations, jitter."""
    out = []
    for _ in range(n):
        img = images[int(torch.randint(0, len(images), (1,), generator=g))]
        crop = _crop(img, size, g, min_frac).to(device, non_blocking=True).float().div_(255)
        crop = F.interpolate(crop[None], size=(size, size), mode="bilinear", antialias=True,
                             align_corners=False)[0]
        if torch.rand(1, generator=g) < 0.5:
            crop = crop.flip(2)
        if jitter:
            k = int(torch.randint(0, 4, (1,), generator=g))
            crop = torch.rot90(crop, k, (1, 2))
            crop = _colour_jitter(crop, g, jitter)
        out.append(crop)
    return torch.stack(out).clamp_(0, 1).contiguous(memory_format=torch.channels_last)


def _colour_jitter(img: torch.Tensor, g: torch.Generator, amount: float) -> torch.Tensor:
    """Brightness, contrast, saturation and a hue rotation (about the grey axis)."""
    r = (torch.rand(4, generator=g) * 2 - 1) * amount
    grey = img.mean(0, keepdim=True)
    img = grey + (img - grey) * (1 + r[0])                       # saturation
    img = (img - img.mean()) * (1 + r[1]) + img.mean() + r[2] * 0.5  # contrast, brightness
    angle = float(r[3]) * np.pi
    c, s = np.cos(angle), np.sin(angle)
    k = 1 / 3
    rot = torch.tensor([[c + (1 - c) * k, k * (1 - c) - np.sqrt(k) * s, k * (1 - c) + np.sqrt(k) * s],
                        [k * (1 - c) + np.sqrt(k) * s, c + k * (1 - c), k * (1 - c) - np.sqrt(k) * s],
                        [k * (1 - c) - np.sqrt(k) * s, k * (1 - c) + np.sqrt(k) * s, c + k * (1 - c)]],
                       dtype=img.dtype, device=img.device)
    return torch.einsum("ij,jhw->ihw", rot, img)
