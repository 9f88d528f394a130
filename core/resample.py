"""Resizing that respects the wrap mode, so a tileable texture stays tileable.

OpenCV where it is installed (area when shrinking, Lanczos-4 when growing); without it
(the Blender extension) Pillow's float mode, channel by channel, with the matching
filters (box = area averaging, Lanczos-3).
"""
from __future__ import annotations

import numpy as np

from .tiling import WRAPS

try:
    import cv2
except ImportError:
    cv2 = None


def _plain(img: np.ndarray, width: int, height: int, shrinking: bool) -> np.ndarray:
    if cv2 is not None:
        out = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4)
        return out[..., None] if out.ndim == 2 else out
    from PIL import Image

    filt = Image.Resampling.BOX if shrinking else Image.Resampling.LANCZOS
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(img[..., c], dtype=np.float32), mode="F")
                         .resize((width, height), filt)) for c in range(img.shape[2])]
    return np.stack(planes, axis=-1)


def resize(img: np.ndarray, size: tuple[int, int], wrap: str = "none") -> np.ndarray:
    """(H, W, C) float32 → (height, width, C); area when shrinking, Lanczos when growing."""
    h, w = img.shape[:2]
    height, width = size
    if (height, width) == (h, w):
        return img
    img = img[..., None] if img.ndim == 2 else img
    wrap_x, wrap_y = WRAPS[wrap]
    # Pad around the wrapped axes with their own opposite edge, resize, cut back.
    m = 8
    py, px = (m if wrap_y else 0), (m if wrap_x else 0)
    src = np.pad(img, ((py, py), (px, px), (0, 0)), mode="wrap") if (py or px) else img
    fy, fx = height / h, width / w
    big_h, big_w = int(round(src.shape[0] * fy)), int(round(src.shape[1] * fx))
    shrinking = fy * fx < 1
    out = _plain(src, big_w, big_h, shrinking)
    oy, ox = int(round(py * fy)), int(round(px * fx))
    out = out[oy:oy + height, ox:ox + width]
    if out.shape[:2] != (height, width):  # rounding of the pad: fall back to a plain resize
        out = _plain(img, width, height, shrinking)
    return np.ascontiguousarray(out, dtype=np.float32)
